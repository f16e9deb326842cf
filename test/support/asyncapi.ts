/**
 * docs/asyncapi.yaml as the tests read it: parsed and validated by @asyncapi/parser (the
 * parser AsyncAPI's own tools use), with its message payloads as plain JSON Schema.
 *
 *   const { document, diagnostics } = await parseProtocolDocument();
 *   const schemas = serverFrameSchemas(document!);   // { welcome: {...}, join: {...}, ... }
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  DiagnosticSeverity,
  Parser,
  type AsyncAPIDocumentInterface,
  type Diagnostic,
  type MessageInterface,
  type ParseOutput,
} from '@asyncapi/parser';

export const ASYNCAPI_PATH = fileURLToPath(new URL('../../docs/asyncapi.yaml', import.meta.url));

/** A JSON Schema (draft-07, which AsyncAPI 3.0 schemas extend) as plain JSON. */
export type JsonSchema = Record<string, unknown>;

/** The document, or undefined when it has error diagnostics; every diagnostic either way. */
export async function parseProtocolDocument(): Promise<ParseOutput> {
  const text = await readFile(ASYNCAPI_PATH, 'utf8');
  return new Parser().parse(text, { source: ASYNCAPI_PATH });
}

// Spectral types its diagnostics with its own copy of @stoplight/types: compare the numbers.
const ERROR_SEVERITY: number = DiagnosticSeverity.Error;

/** The diagnostics that make the document invalid, one line each. */
export function errorDiagnostics(diagnostics: Diagnostic[]): string[] {
  return diagnostics
    .filter((diagnostic) => (diagnostic.severity as number) === ERROR_SEVERITY)
    .map((diagnostic) => `${diagnostic.path.join('.') || '(root)'}: ${diagnostic.message} [${diagnostic.code}]`);
}

/** The messages of the document's operations with this action, in document order. */
export function operationMessages(document: AsyncAPIDocumentInterface, action: 'send' | 'receive'): MessageInterface[] {
  return document
    .operations()
    .all()
    .filter((operation) => operation.action() === action)
    .flatMap((operation) => operation.messages().all());
}

/**
 * A message's payload as JSON Schema, its references resolved by the parser. The parser
 * marks each schema it read with `x-parser-*` keys; they are bookkeeping, not keywords, and
 * a strict JSON Schema validator would refuse them, so they are left out.
 */
export function payloadSchema(message: MessageInterface): JsonSchema {
  const payload = message.payload();
  if (payload === undefined) throw new Error(`message ${message.id()} has no payload`);
  return withoutParserMarks(payload.json()) as JsonSchema;
}

function withoutParserMarks(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutParserMarks);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !key.startsWith('x-parser-'))
      .map(([key, inner]) => [key, withoutParserMarks(inner)]),
  );
}

/**
 * The payload schema of every frame the server sends (the receive operation's messages),
 * keyed by the frame's `type`, which each schema fixes with `const`. Throws when a message
 * fixes no type or shares one with another: a client could not tell those frames apart.
 */
export function serverFrameSchemas(document: AsyncAPIDocumentInterface): Record<string, JsonSchema> {
  const schemas: Record<string, JsonSchema> = {};
  for (const message of operationMessages(document, 'receive')) {
    const schema = payloadSchema(message);
    const type = (schema.properties as { type?: { const?: unknown } } | undefined)?.type?.const;
    if (typeof type !== 'string') throw new Error(`server message ${message.id()} fixes no \`type\` with const`);
    if (Object.hasOwn(schemas, type)) throw new Error(`two server messages have type ${type}`);
    schemas[type] = schema;
  }
  return schemas;
}
