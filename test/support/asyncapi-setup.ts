/**
 * vitest globalSetup: parses docs/asyncapi.yaml once per run and hands the server
 * messages' payload schemas to every test file (see test/support/frame-contract.ts).
 * A document that does not parse is not fatal here: test/unit/asyncapi.test.ts lists its
 * diagnostics, and every frame checked fails with the reason.
 */
import type { TestProject } from 'vitest/node';
import { errorDiagnostics, parseProtocolDocument, serverFrameSchemas } from './asyncapi.js';
import type { ProvidedFrameSchemas } from './frame-contract.js';

export default async function provideServerFrameSchemas(project: TestProject): Promise<void> {
  project.provide('serverFrameSchemas', await readSchemas());
}

async function readSchemas(): Promise<ProvidedFrameSchemas> {
  const { document, diagnostics } = await parseProtocolDocument();
  if (document === undefined) return { unusable: errorDiagnostics(diagnostics).join('; ') };
  try {
    return { schemas: serverFrameSchemas(document) };
  } catch (err) {
    return { unusable: (err as Error).message };
  }
}
