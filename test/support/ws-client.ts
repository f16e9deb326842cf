/**
 * The one client harness for real sockets: a `ws` client that queues every frame it
 * receives (test-server.ts starts a server on 127.0.0.1 for one test).
 *
 *   const start = serverPerTest();             // closes the servers in afterEach
 *   const server = await start({ rateBurst: 3 });
 *   const alice = await server.register('Alice');
 *   alice.send({ text: 'Hi' });
 *   await alice.nextFrame();                   // rejects with a FrameTimeout naming what it waited for
 *   await alice.expectQuiet();                 // nothing else is due (ping fence, no sleeping)
 *
 * Every wait is bounded. "Nothing arrives" is proven with a fence, never a sleep: the
 * server handles one socket's frames in order and writes synchronously, so a pong to our
 * ping, or a frame caused by a later action, comes after anything the earlier actions caused.
 */
import { once } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import { WebSocket, type ClientOptions, type RawData } from 'ws';
import { assertServerFrame } from './frame-contract.js';

/** A server frame as received: the JSON object, untyped; checked on arrival against docs/asyncapi.yaml. */
export type Frame = Record<string, unknown>;

export const DEFAULT_WAIT_MS = 2_000;

/** A bounded wait ran out; the message says what was awaited and on which socket. */
export class FrameTimeout extends Error {
  override name = 'FrameTimeout';
}

/** The server answered the upgrade with an HTTP status instead of switching protocols. */
export class UpgradeRefused extends Error {
  override name = 'UpgradeRefused';
  constructor(
    readonly status: number,
    readonly headers: IncomingHttpHeaders = {},
  ) {
    super(`upgrade refused with HTTP ${status}`);
  }
}

export interface OpenOptions {
  origin?: string;
  /** false: do not answer the server's pings (a dead client, as far as heartbeats go). */
  autoPong?: boolean;
  /** Names the socket in timeout messages. */
  label?: string;
  /** The address the client socket binds to: 127.0.0.2, 127.0.0.3… are other clients, as far as the server can tell. */
  localAddress?: string;
  /** Extra request headers (an X-Forwarded-For). */
  headers?: Record<string, string>;
  /** wss://: the certificate authority to trust, and the name to ask the server for (SNI) and check. */
  tls?: { ca: string; servername: string };
}

type Waiter = { resolve: (frame: Frame) => void; reject: (err: Error) => void };

export class TestSocket {
  /** Frames received and not yet taken by nextFrame. */
  private readonly queue: Frame[] = [];
  /**
   * A frame that is not one JSON object in a text frame breaks SPEC §1, and one that does
   * not match docs/asyncapi.yaml breaks the published contract; reported on the next read.
   */
  private broken: Error | null = null;
  private waiter: Waiter | null = null;
  private readonly closed: Promise<{ code: number; reason: string }>;
  /** Pings received from the server. */
  pings = 0;

  private constructor(
    readonly ws: WebSocket,
    readonly label: string,
  ) {
    ws.on('message', (data: RawData, isBinary: boolean) => this.receive(data, isBinary));
    ws.on('ping', () => this.pings++);
    ws.on('error', () => {}); // 'close' follows; tests assert on that
    this.closed = new Promise((resolve) => {
      ws.once('close', (code: number, reason: Buffer) => {
        resolve({ code, reason: reason.toString() });
        this.waiter?.reject(new FrameTimeout(`${this.label} closed (${code}) while waiting for a frame`));
        this.waiter = null;
      });
    });
  }

  /** Resolves once open; rejects with UpgradeRefused (holding the HTTP status) on a refused upgrade. */
  static open(url: string, options: OpenOptions = {}): Promise<TestSocket> {
    const wsOptions: ClientOptions = { autoPong: options.autoPong ?? true, handshakeTimeout: DEFAULT_WAIT_MS };
    if (options.origin !== undefined) wsOptions.origin = options.origin;
    if (options.localAddress !== undefined) wsOptions.localAddress = options.localAddress;
    if (options.headers !== undefined) wsOptions.headers = options.headers;
    if (options.tls !== undefined) Object.assign(wsOptions, options.tls);
    const ws = new WebSocket(url, wsOptions);
    const socket = new TestSocket(ws, options.label ?? url);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(socket));
      ws.once('unexpected-response', (_req, res) => {
        reject(new UpgradeRefused(res.statusCode ?? 0, res.headers));
        ws.terminate();
      });
      ws.once('close', () => reject(new Error(`${socket.label} closed before opening`)));
    });
  }

  /** An object is sent as JSON text, a string as is, a Buffer as a binary frame. */
  send(frame: object | string | Buffer): void {
    if (Buffer.isBuffer(frame)) this.ws.send(frame, { binary: true });
    else this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next frame, in arrival order. */
  nextFrame(timeoutMs = DEFAULT_WAIT_MS, waitingFor = 'the next frame'): Promise<Frame> {
    if (this.broken !== null) return Promise.reject(this.broken);
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.ws.readyState === WebSocket.CLOSED) {
      return Promise.reject(new FrameTimeout(`${this.label} is closed; no ${waitingFor} can come`));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new FrameTimeout(`${this.label}: timed out after ${timeoutMs} ms waiting for ${waitingFor}`));
      }, timeoutMs);
      this.waiter = {
        resolve: (frame) => (clearTimeout(timer), resolve(frame)),
        reject: (err) => (clearTimeout(timer), reject(err)),
      };
    });
  }

  /** Frames up to and including the first that matches; all of them, in order. */
  async framesUntil(
    matches: (frame: Frame) => boolean,
    timeoutMs = DEFAULT_WAIT_MS,
    what = 'a matching frame',
  ): Promise<Frame[]> {
    const deadline = Date.now() + timeoutMs;
    const frames: Frame[] = [];
    for (;;) {
      const frame = await this.nextFrame(Math.max(1, deadline - Date.now()), what);
      frames.push(frame);
      if (matches(frame)) return frames;
    }
  }

  /**
   * Asserts that no frame is due: sends a ping and waits for its pong. The server writes
   * everything our earlier frames caused before it answers the ping, so a frame that is
   * not here when the pong arrives was never sent.
   */
  async expectQuiet(timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    const token = Buffer.from(`fence-${Math.random()}`);
    const pong = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.ws.off('pong', onPong);
        reject(new FrameTimeout(`${this.label}: timed out after ${timeoutMs} ms waiting for the pong fence`));
      }, timeoutMs);
      const onPong = (data: Buffer) => {
        if (!data.equals(token)) return;
        clearTimeout(timer);
        this.ws.off('pong', onPong);
        resolve();
      };
      this.ws.on('pong', onPong);
    });
    this.ws.ping(token);
    await pong;
    if (this.broken !== null) throw this.broken;
    if (this.queue.length > 0) {
      throw new Error(`${this.label}: expected no frame, got ${JSON.stringify(this.queue)}`);
    }
  }

  /** Frames received and not yet read (non-destructive). */
  unread(): Frame[] {
    return [...this.queue];
  }

  /** Resolves with the close code and reason, whoever closed. */
  waitClose(timeoutMs = DEFAULT_WAIT_MS): Promise<{ code: number; reason: string }> {
    return withTimeout(this.closed, timeoutMs, `${this.label}: the close event`);
  }

  /** Resolves once the server has pinged `count` times in all. */
  async waitPings(count: number, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    const reached = new Promise<void>((resolve) => {
      const check = () => {
        if (this.pings < count) return;
        this.ws.off('ping', check);
        resolve();
      };
      this.ws.on('ping', check);
      check();
    });
    await withTimeout(reached, timeoutMs, `${this.label}: ${count} pings (got ${this.pings})`);
  }

  close(code?: number): void {
    this.ws.close(code);
  }

  /** Drops the TCP connection without a closing handshake. */
  terminate(): void {
    this.ws.terminate();
  }

  private receive(data: RawData, isBinary: boolean): void {
    const frame = isBinary ? null : parseObject((data as Buffer).toString());
    if (frame === null) {
      this.broken ??= new Error(
        `${this.label}: server sent ${isBinary ? 'a binary frame' : `a frame that is not a JSON object: ${(data as Buffer).toString()}`}`,
      );
    } else {
      try {
        assertServerFrame(frame, this.label);
        this.queue.push(frame);
      } catch (err) {
        this.broken ??= err as Error;
      }
    }
    if (this.waiter === null) return;
    const waiter = this.waiter;
    this.waiter = null;
    if (this.broken !== null) waiter.reject(this.broken);
    else waiter.resolve(this.queue.shift()!);
  }
}

function parseObject(text: string): Frame | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Frame) : null;
  } catch {
    return null;
  }
}

/** `promise`, or a FrameTimeout naming `what` after `timeoutMs`. */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new FrameTimeout(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves when `emitter` emits `event`, or rejects naming it after `timeoutMs`. */
export function nextEvent(
  emitter: NodeJS.EventEmitter,
  event: string,
  timeoutMs = DEFAULT_WAIT_MS,
): Promise<unknown[]> {
  return withTimeout(once(emitter, event), timeoutMs, `the '${event}' event`);
}
