/**
 * What the client needs from its host, a browser or Node ≥ 20, typed here by hand: the
 * client compiles without the DOM's or Node's type libraries, so that one build serves
 * both. Each is found on `globalThis` unless the app passes its own.
 */

/** The part of a WebSocket the client uses: the browser's and `ws`'s both fit. */
export interface WebSocketLike {
  onopen: Listener<unknown> | null;
  onmessage: Listener<{ data: unknown }> | null;
  onclose: Listener<{ code: number; reason?: string }> | null;
  onerror: Listener<unknown> | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** `ws` has it: ends the TCP connection at once, where close() may wait 30 s for a dead peer. */
  terminate?(): void;
}

/**
 * A listener property. Declared through a method so that its parameter is compared
 * bivariantly: `ws` and the DOM type their events more richly than this, and still fit.
 */
type Listener<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Timers as the client uses them; tests may pass their own. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

interface Host {
  WebSocket?: WebSocketConstructor;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  queueMicrotask(callback: () => void): void;
  crypto?: { getRandomValues(array: Uint8Array): Uint8Array };
}

const host = globalThis as unknown as Host;

/** The host's timers, called as methods of globalThis (a browser throws on a detached setTimeout). */
export const hostTimers: Timers = {
  setTimeout: (callback, ms) => host.setTimeout(callback, ms),
  clearTimeout: (handle) => host.clearTimeout(handle),
};

/** The browser's WebSocket, or the one the app passed; Node 20 has no global one. */
export function webSocketConstructor(given: WebSocketConstructor | undefined): WebSocketConstructor {
  const found = given ?? host.WebSocket;
  if (found === undefined) {
    throw new TypeError("no global WebSocket here: pass one, e.g. connect(url, name, { WebSocket }) with ws's");
  }
  return found;
}

/** Throws `error` outside the current call stack: an app listener's bug surfaces without breaking ours. */
export function rethrowLater(error: unknown): void {
  host.queueMicrotask(() => {
    throw error;
  });
}

/**
 * A prefix that makes this client's cids its own: 12 random base-36 characters. A cid need
 * only differ from the session's other recent ones, so Math.random is good enough where
 * crypto is missing.
 */
export function randomPrefix(): string {
  const bytes = new Uint8Array(12);
  if (host.crypto !== undefined) host.crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (byte) => (byte % 36).toString(36)).join('');
}
