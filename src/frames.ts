/**
 * The protocol's data, as types: what the server sends, what a client's frame reads as, and
 * the chat events that every online client hears about in one order. Pure types: the
 * machines, the adapters and the tests all speak these.
 */
import type { ErrorCode } from './errors.js';

/**
 * Where a chat event sits in the one order every client sees: `id` (a decimal integer in a
 * string, shared by joins, messages and leaves) and `ts` (ms since the Unix epoch).
 * `replay` marks a frame sent again from history (a resume, or `history` on arrival).
 */
interface Position {
  id: string;
  ts: number;
  replay?: true;
}

/** What a welcome adds for sessions (PROTOCOL.md, Sessions). */
interface SessionFields {
  /** The session's secret: the one way to resume it. The server keeps only its hash. */
  session: string;
  /** The lineage of ids: a position is only meaningful within one epoch. */
  epoch: string;
  /**
   * A registration's welcome stands for the client's own join: it carries the join's
   * position, the first a client can resume from.
   */
  id?: string;
  ts?: number;
  /** Present on a resume's welcome only. */
  resumed?: true;
  recovered?: boolean;
}

/** Every frame the server sends (PROTOCOL.md, docs/asyncapi.yaml). */
export type ServerFrame =
  | ({ type: 'welcome'; sender: 'Server'; text: string; name: string; users: string[] } & SessionFields)
  | ({ type: 'join'; sender: 'Server'; text: string; name: string } & Position)
  | ({ type: 'leave'; sender: 'Server'; text: string; name: string } & Position)
  | ({ type: 'message'; sender?: string; text: string; cid?: string } & Position)
  | { type: 'error'; sender: 'Server'; code: ErrorCode; text: string };

/** The frames that carry a position: what history keeps and a resume replays. */
export type ChatFrame = Extract<ServerFrame, { type: 'join' | 'leave' | 'message' }>;

/**
 * What a client sent, already read by `readClientFrame` in protocol.ts. `at` is the
 * server's receive time in ms: the machines never read a wall clock of their own.
 * The session fields are only read where they mean something: `session`, `epoch`, `since`
 * and `history` in a first frame, `cid` in a chat message.
 */
export type ClientFrameEvent = {
  type: 'client.frame';
  sender?: string;
  text?: string;
  session?: string;
  epoch?: string;
  since?: string;
  history?: number;
  cid?: string;
  at: number;
};
/** A frame that is not a JSON object with string fields (or not text at all). */
export type ClientBadFrameEvent = { type: 'client.badFrame'; at: number };

/**
 * Something every online client hears about, in the order the bus delivers it. `from` is
 * the connection that caused it (prefixed with its node in a cluster), `session` the
 * session it belongs to, which outlives connections.
 */
export type ChatEvent =
  | { type: 'join'; name: string; from: string; session: string }
  | { type: 'leave'; name: string; from: string; session: string }
  | { type: 'message'; name: string; from: string; session: string; text: string; ts: number; cid?: string };
