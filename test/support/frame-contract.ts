/**
 * The server's frames against the published contract: every frame a socket test receives
 * (test/support/ws-client.ts, raw-client.ts) must match the server message of
 * docs/asyncapi.yaml that has its `type`.
 *
 * The document is parsed once per run, by the global setup test/support/asyncapi-setup.ts,
 * which hands its payload schemas to every test file; a test process compiles them on the
 * first frame it checks. A mismatch is thrown to the harness, which reports it on the next
 * read, and kept until test/support/frame-contract-setup.ts fails the test with it after
 * the test, so that a frame nobody reads fails the test too.
 */
import { createRequire } from 'node:module';
import type { ErrorObject } from 'ajv';
import { inject } from 'vitest';
import type { JsonSchema } from './asyncapi.js';

/** What the global setup hands to every test file: the schemas, or why it has none. */
export type ProvidedFrameSchemas = { schemas: Record<string, JsonSchema> } | { unusable: string };

declare module 'vitest' {
  export interface ProvidedContext {
    serverFrameSchemas: ProvidedFrameSchemas;
  }
}

/** A server frame that breaks docs/asyncapi.yaml; the message holds the frame and what is wrong. */
export class ServerFrameMismatch extends Error {
  override name = 'ServerFrameMismatch';
}

/** Throws a ServerFrameMismatch unless `frame` matches the schema for its `type`. */
export type ServerFrameCheck = (frame: unknown) => void;

export function createServerFrameCheck(schemas: Record<string, JsonSchema>): ServerFrameCheck {
  // Loaded on first use rather than imported: the setup file loads this module into every
  // test file, and most of them never receive a frame.
  const { Ajv } = createRequire(import.meta.url)('ajv') as typeof import('ajv');
  const ajv = new Ajv({ allErrors: true });
  const validators = new Map(Object.entries(schemas).map(([type, schema]) => [type, ajv.compile(schema)]));
  return (frame) => {
    const type = typeof frame === 'object' && frame !== null ? (frame as { type?: unknown }).type : undefined;
    const validate = typeof type === 'string' ? validators.get(type) : undefined;
    if (validate === undefined) {
      const known = [...validators.keys()].join(', ');
      throw new ServerFrameMismatch(
        `server frame ${JSON.stringify(frame)} has no message in docs/asyncapi.yaml: its type must be one of ${known}`,
      );
    }
    if (!validate(frame)) {
      throw new ServerFrameMismatch(
        `server frame ${JSON.stringify(frame)} breaks the '${String(type)}' message of docs/asyncapi.yaml:\n` +
          describeErrors(validate.errors ?? []),
      );
    }
  };
}

/** One line per schema error: where in the frame, what is wrong, and the schema's detail. */
function describeErrors(errors: ErrorObject[]): string {
  return errors
    .map((error) => `  ${error.instancePath || '(frame)'} ${error.message ?? ''} ${JSON.stringify(error.params)}`)
    .join('\n');
}

let providedCheck: ServerFrameCheck | null = null;
const mismatches: ServerFrameMismatch[] = [];

/** Checks a frame `receiver` got from the server; a mismatch is thrown and kept for the end of the test. */
export function assertServerFrame(frame: unknown, receiver: string): void {
  providedCheck ??= checkFromGlobalSetup();
  try {
    providedCheck(frame);
  } catch (err) {
    const mismatch = new ServerFrameMismatch(`${receiver}: ${(err as Error).message}`);
    mismatches.push(mismatch);
    throw mismatch;
  }
}

function checkFromGlobalSetup(): ServerFrameCheck {
  const provided = inject('serverFrameSchemas');
  if ('schemas' in provided) return createServerFrameCheck(provided.schemas);
  return () => {
    throw new ServerFrameMismatch(`docs/asyncapi.yaml cannot check frames: ${provided.unusable}`);
  };
}

/** The mismatches kept since the last call, which it clears. */
export function takeMismatches(): ServerFrameMismatch[] {
  return mismatches.splice(0);
}
