/**
 * Helpers for the cluster suites: a TCP proxy that can cut one node off from Redis, a
 * bounded wait for a node's /readyz to reach a status or for Redis to show something, and
 * a wait until socket-free nodes have finished what a step started.
 */
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import type { ClusterNode } from '../../src/cluster/cluster.js';
import { freePort } from './redis-server.js';
import { withTimeout } from './ws-client.js';

/**
 * Polls /readyz until it answers `status`. There is no event to wait on from outside the
 * process, so this asks again every 50 ms, within a bounded time.
 */
export async function waitReadyz(
  server: { get(path: string): Promise<Response> },
  status: 200 | 503,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  while (Date.now() < deadline) {
    last = (await server.get('/readyz')).status;
    if (last === status) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`/readyz still answered ${last}, not ${status}, after ${timeoutMs} ms`);
}

/**
 * Resolves once `check` holds for the Redis at `url`, asked every 20 ms on a connection of
 * its own: the nodes announce nothing outside their process. Bounded.
 */
export async function untilRedis(
  url: string,
  check: (redis: Redis) => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  let waiting = true;
  try {
    await withTimeout(
      (async () => {
        while (waiting && !(await check(redis))) await new Promise((resolve) => setTimeout(resolve, 20));
      })(),
      timeoutMs,
      what,
    );
  } finally {
    waiting = false;
    redis.disconnect();
  }
}

/**
 * A TCP relay between one node and Redis (or a client and a server); `cut()` is a network
 * partition, `mend()` ends it. `holdNext()` stalls one connection at a chosen command: a
 * Redis slow to take it. It counts the connections it accepts, so a test can tell how
 * often and how close together a client came, and whether it ever held two at once.
 */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  /** performance.now() of every connection accepted. */
  readonly accepted: number[] = [];
  /** Connections from the client side open now, and the most ever open at once. */
  open = 0;
  peakOpen = 0;
  /** Stops the target-to-client half of each connection, for stall(). */
  private readonly replies = new Map<Socket, () => void>();
  /** Set by stallFrom(): the bytes whose arrival from the target stalls the replies, on which connections. */
  private stallWatch: { marker: Buffer; on: Set<Socket> } | null = null;
  private server: Server | null = null;
  private armed: { markers: Buffer[]; seen: (release: () => Promise<void>) => void } | null = null;

  private constructor(
    readonly port: number,
    private readonly targetPort: number,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(await freePort(), targetPort);
    await proxy.mend();
    return proxy;
  }

  async mend(): Promise<void> {
    const server = createServer((client) => {
      this.accepted.push(performance.now());
      this.peakOpen = Math.max(this.peakOpen, ++this.open);
      client.once('close', () => this.open--);
      const upstream = connect(this.targetPort, '127.0.0.1');
      let replying = true;
      const stopReplies = () => {
        replying = false;
        upstream.pause();
      };
      this.replies.set(upstream, stopReplies);
      upstream.once('close', () => this.replies.delete(upstream));
      // Node to Redis chunk by chunk, so that a chunk holding an armed marker can be held,
      // and everything after it on that connection with it (Redis keeps commands in order).
      let held: Buffer[] | null = null;
      let nodeGone = false;
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('error', () => {});
      }
      upstream.on('close', () => {
        this.sockets.delete(upstream);
        client.destroy();
      });
      client.on('close', () => {
        this.sockets.delete(client);
        nodeGone = true;
        // What a node sent before it closed still reaches Redis, after the close: TCP
        // delivers it ahead of the FIN, however long the network takes.
        if (held === null) upstream.destroy();
        else {
          replying = false; // its replies go nowhere
          upstream.resume();
        }
      });
      client.on('data', (chunk: Buffer) => {
        if (held !== null) return void held.push(chunk);
        const armed = this.armed;
        if (armed !== null && armed.markers.some((marker) => chunk.includes(marker))) {
          this.armed = null;
          held = [chunk];
          armed.seen(async () => {
            for (const data of held ?? []) upstream.write(data);
            held = null;
            if (!nodeGone || upstream.destroyed) return;
            // Redis closes its end once it has run all of it.
            upstream.end();
            await once(upstream, 'close');
          });
          return;
        }
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        if (!replying) return;
        const watch = this.stallWatch;
        if (watch !== null && watch.on.has(upstream) && chunk.includes(watch.marker)) {
          this.stallWatch = null;
          return this.stall();
        }
        if (!client.write(chunk)) {
          upstream.pause();
          client.once('drain', () => {
            if (replying) upstream.resume();
          });
        }
      });
    });
    this.server = server;
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
  }

  /**
   * Resolves once a node sends a chunk containing one of `markers` (a script's sha or a
   * piece of its text: ioredis sends EVAL the first time on a connection, EVALSHA after).
   * That chunk and all that follow on its connection wait until the returned function is
   * called, also if the node closes the connection meanwhile (they are in the network);
   * the function resolves once Redis has them, and when the node had closed, once Redis
   * has run them and closed its end too. A cut drops them.
   */
  holdNext(markers: string[], timeoutMs: number, what: string): Promise<() => Promise<void>> {
    const seen = new Promise<() => Promise<void>>((resolve) => {
      this.armed = { markers: markers.map((marker) => Buffer.from(marker)), seen: resolve };
    });
    return withTimeout(seen, timeoutMs, what);
  }

  /**
   * Stops what the target sends from reaching the clients, while what they send still
   * reaches the target: a connection that died after its last frame left. Until cut().
   */
  stall(): void {
    for (const stopReplies of this.replies.values()) stopReplies();
  }

  /**
   * stall() once the target sends a chunk holding `marker` on a connection open now, that
   * chunk withheld too: the connection died as its answer was on the way (WebSocket frames
   * from a server are not masked, so a text it sends can be found in the bytes). A later
   * connection is not watched: a cut before the chunk came disarms it.
   */
  stallFrom(marker: string): void {
    this.stallWatch = { marker: Buffer.from(marker), on: new Set(this.replies.keys()) };
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
    if (server !== null) await new Promise((resolve) => server.close(resolve));
  }
}

/**
 * Resolves once the nodes are quiet: no script waiting for Redis, and every node has
 * delivered the whole log. Deliveries make hubs write again (a granted name's join), so
 * it checks until a round finds nothing new. Nothing announces "quiet", so it looks again
 * every 2 ms; bounded: a node that never catches up fails.
 */
export async function settle(nodes: ClusterNode[], timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen = -1;
  for (;;) {
    const states = await Promise.all(nodes.map((node) => node.debugState()));
    const loggedSeq = Math.max(...states.map((state) => state.loggedSeq));
    const quiet = states.every((state) => state.pendingScripts === 0 && state.deliveredSeq >= loggedSeq);
    // Two quiet looks in a row at the same seq: nothing was in flight between them either.
    if (quiet && loggedSeq === seen) return;
    seen = quiet ? loggedSeq : -1;
    if (Date.now() > deadline)
      throw new Error(`nodes did not settle within ${timeoutMs} ms: ${JSON.stringify(states)}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
