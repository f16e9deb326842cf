/**
 * The protocol's data, as types: what the server sends, what a client's frame reads as, and
 * the chat events that every online client hears about in one order. Pure types: the
 * machines, the adapters and the tests all speak these.
 */
import type { ErrorCode } from './errors.js';

/** Every frame the server sends (PROTOCOL.md, docs/asyncapi.yaml). */
export type ServerFrame =
  | { type: 'welcome'; sender: 'Server'; text: string; name: string; users: string[] }
  | { type: 'join'; sender: 'Server'; text: string; name: string }
  | { type: 'leave'; sender: 'Server'; text: string; name: string }
  | { type: 'message'; sender?: string; text: string; id: string; ts: number }
  | { type: 'error'; sender: 'Server'; code: ErrorCode; text: string };

/**
 * What a client sent, already read by `readClientFrame` in protocol.ts. `at` is the
 * server's receive time in ms: the machines never read a wall clock of their own.
 */
export type ClientFrameEvent = { type: 'client.frame'; sender?: string; text?: string; at: number };
/** A frame that is not a JSON object with string fields (or not text at all). */
export type ClientBadFrameEvent = { type: 'client.badFrame'; at: number };

/** Something every online client hears about, in the order the bus delivers it. */
export type ChatEvent =
  | { type: 'join'; name: string; from: string }
  | { type: 'leave'; name: string; from: string }
  | { type: 'message'; name: string; from: string; text: string; ts: number };
