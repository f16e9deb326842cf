/** The client's public shapes: its options and the events it emits. */
import type { BackoffBounds } from './backoff.js';
import type { ChatError } from './errors.js';
import type { Timers, WebSocketConstructor } from './host.js';
import type { ConnectionState } from './lifecycle.js';

export interface ChatClientOptions {
  /** Ask for up to this many of the latest messages with each registration (PROTOCOL.md, `history`). */
  history?: number;
  /** The WebSocket to use. Default: the global one (browsers; Node 22+). In Node 20 pass `ws`'s. */
  WebSocket?: WebSocketConstructor;
  /** Reconnect waits: the first retry is at once, then full jitter below a doubling ceiling. Default 500 ms to 30 s. */
  backoff?: Partial<BackoffBounds>;
  /** A connection online this long counts as stable: the next loss starts the backoff afresh. Default 10 s. */
  stableMs?: number;
  /** An attempt not welcomed within this long is dropped and retried. Default 10 s (the server's own limit). */
  timeoutMs?: number;
  /**
   * After an attempt that asked for the name was given up unanswered (its welcome lost on
   * the way), the server may hold the name for that attempt's session: a `name_taken` within
   * this long is retried with backoff instead of ending the client. Default 90 s: the
   * server's defaults take up to two heartbeats (60 s) to notice a dead connection, then
   * keep its session for RESUME_WINDOW_MS (30 s).
   */
  lostClaimMs?: number;
  /** Messages that may wait for their answer, offline included; past it `send` rejects with `outbox_full`. Default 100. */
  outboxLimit?: number;
  /** In [0, 1), like Math.random (the default): draws the backoff waits. */
  random?: () => number;
  /** The timers to use. Default: the host's. */
  timers?: Timers;
}

/** A chat message, someone else's or this client's own. */
export interface ChatMessage {
  /** Its place in the chat's one order: a decimal integer in a string; compare as numbers. */
  id: string;
  /** The server's receive time, ms since the Unix epoch. */
  ts: number;
  sender: string;
  text: string;
  /** Sent by this client (possibly by an earlier session of the same name). */
  own: boolean;
  /** Sent again from history: a resume's replay, or `history` on arrival. */
  replay: boolean;
  /** The client's id for its own message. */
  cid?: string;
}

/** Someone joined or left. */
export interface Presence {
  id: string;
  ts: number;
  name: string;
  replay: boolean;
}

export interface Welcome {
  /** The name as the server holds it: normalised and trimmed. */
  name: string;
  users: readonly string[];
  /** A resumed session (true), or a registration (false). */
  resumed: boolean;
  /** On a resume: whether everything missed follows. False comes with a `gap` event. */
  recovered?: boolean;
}

/**
 * Events may have been missed: `not_recovered`, the session was resumed but the server
 * could not replay what was missed; `session_lost`, the session ended (expired, a restarted
 * server, a name lost in an outage) and the name is being registered again.
 */
export interface Gap {
  reason: 'not_recovered' | 'session_lost';
}

export interface StateChange {
  state: ConnectionState;
  previous: ConnectionState;
  /** Entering `closed` other than by close(): why (name_taken, invalid_name, taken_over, rejected). */
  error?: ChatError;
  /**
   * Entering `reconnecting`: the lost socket's close code, as the WebSocket reported it
   * (1001: the server is stopping; 1006: the connection was lost; when the client dropped
   * an attempt itself, 1006 with `ws` and 4000 in a browser).
   */
  closeCode?: number;
}

/** Every event, by name. */
export interface ChatEvents {
  state: StateChange;
  welcome: Welcome;
  message: ChatMessage;
  join: Presence;
  leave: Presence;
  gap: Gap;
  /** Errors from the server not answered through a `send` promise, by `code`. */
  error: ChatError;
}
