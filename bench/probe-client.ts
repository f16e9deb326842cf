/**
 * A chat client in the bench's own process, for scenarios that measure the server's memory
 * rather than anyone's CPU: register, send, count what comes back, drop without a close frame.
 */
import { WireClient } from './wire-client.js';

export interface ProbeOptions {
  /** Asks for this many of the latest messages after the welcome (`history`). */
  history?: number;
  localAddress?: string;
  timeoutMs?: number;
}

export class ProbeClient {
  /** Own copies of this client's messages. */
  echoes = 0;
  /** Frames marked `replay`. */
  replayed = 0;
  /** Joins seen, plus the welcome's users. */
  known = 0;
  private closed: Error | null = null;

  private constructor(private readonly socket: WireClient) {}

  /** Connects and registers `name`; resolves at the welcome. */
  static register(url: string, name: string, options: ProbeOptions = {}): Promise<ProbeClient> {
    return new Promise((resolve, reject) => {
      let welcomed = false;
      const timer = setTimeout(() => fail(new Error(`${name}: no welcome`)), options.timeoutMs ?? 30_000);
      const fail = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const socket = new WireClient(
        url,
        {
          open: () => {
            const history = options.history === undefined ? '' : `,"history":${options.history}`;
            socket.send(`{"sender":"${name}","text":""${history}}`);
          },
          frame: (text) => {
            if (!welcomed) {
              if (!text.startsWith('{"type":"welcome"')) return fail(new Error(`${name}: ${text.slice(0, 120)}`));
              welcomed = true;
              clearTimeout(timer);
              client.known = (JSON.parse(text) as { users: string[] }).users.length;
              return resolve(client);
            }
            client.read(text);
          },
          close: (err) => {
            client.closed = err ?? new Error('closed by the server');
            if (!welcomed) fail(client.closed);
          },
        },
        options.localAddress,
      );
      const client = new ProbeClient(socket);
    });
  }

  private read(text: string): void {
    if (text.endsWith(',"replay":true}')) this.replayed++;
    else if (text.startsWith('{"type":"join"')) this.known++;
    // An own copy has no sender (ECHO=anonymous, the default).
    else if (text.startsWith('{"type":"message","text"')) this.echoes++;
  }

  /** Sends a message; `json` is the frame's text (and cid) already escaped: ASCII only. */
  send(json: string): void {
    this.socket.send(json);
  }

  /** Resolves once `done()` holds; rejects after `timeoutMs` or if the server closed the connection. */
  async until(done: (client: this) => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this)) {
      if (this.closed !== null) throw new Error(`${what}: ${this.closed.message}`);
      if (Date.now() > deadline) throw new Error(`${what} took longer than ${timeoutMs / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Gone without a close frame: the server sees a lost connection (1006). */
  drop(): void {
    this.socket.destroy();
  }
}

/** Runs `task(i)` for i < count, at most `concurrency` at once; rejects at the first failure. */
export async function inBatches(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}
