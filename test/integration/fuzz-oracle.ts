/**
 * The fuzz test's oracle, written from SPEC §3 and §5 (not from src/): what each hostile
 * frame must earn, an error code, a chat message or a close.
 */
import { isUtf8 } from 'node:buffer';
import { asDelivered, isSendable } from '../support/expected.js';
import type { Wire } from './fuzz-steps.js';

export const MAX_BAD_FRAMES = 10; // SPEC §5
export const TEXT_MAX = 4096; // SPEC §3, code points
export const MAX_PAYLOAD = 65_536; // SPEC §5, bytes

type Verdict =
  | { kind: 'error'; code: 'bad_frame' | 'not_registered' | 'invalid_message'; counts: boolean }
  | { kind: 'message'; text: string }
  | { kind: 'close'; code: 1009 }
  /** Would ask for a name: left out, so that this oracle needs no name rules. */
  | { kind: 'skip' };

export function judge(wire: Wire, registered: boolean): Verdict {
  if (wire.bytes.length > MAX_PAYLOAD) return { kind: 'close', code: 1009 };
  const bad = { kind: 'error', code: 'bad_frame', counts: true } as const;
  if (wire.binary || !isUtf8(wire.bytes)) return bad;
  let value: unknown;
  try {
    value = JSON.parse(wire.bytes.toString('utf8'));
  } catch {
    return bad;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad;
  const field = (key: string) => (Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined);
  const sender = field('sender');
  const body = field('text');
  const wrongType = (v: unknown) => v !== undefined && v !== null && typeof v !== 'string';
  if (wrongType(sender) || wrongType(body)) return bad;
  if (!registered) {
    return typeof sender === 'string' ? { kind: 'skip' } : { kind: 'error', code: 'not_registered', counts: true };
  }
  const chat = typeof body === 'string' ? body : '';
  if (!isSendable(chat) || [...chat].length > TEXT_MAX)
    return { kind: 'error', code: 'invalid_message', counts: false };
  return { kind: 'message', text: asDelivered(chat) };
}
