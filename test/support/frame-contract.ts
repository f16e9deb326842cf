/**
 * The server's frames against the published contract: a frame must match the server
 * message of docs/asyncapi.yaml that has its `type`.
 */
import { Ajv, type ErrorObject } from 'ajv';
import type { JsonSchema } from './asyncapi.js';

/** A server frame that breaks docs/asyncapi.yaml; the message holds the frame and what is wrong. */
export class ServerFrameMismatch extends Error {
  override name = 'ServerFrameMismatch';
}

/** Throws a ServerFrameMismatch unless `frame` matches the schema for its `type`. */
export type ServerFrameCheck = (frame: unknown) => void;

export function createServerFrameCheck(schemas: Record<string, JsonSchema>): ServerFrameCheck {
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
