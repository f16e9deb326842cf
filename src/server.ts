/**
 * startServer(config) -> { port, inspectorUrl, started, close(), failed }: the composition root.
 * It starts the parts in order and wires them together; what each part does lives in its own file.
 *
 *   inspector ─▶ cluster node ─▶ hub ─▶ HTTP listening ─▶ /inspect feed ─▶ clients ─▶ node started
 *   (each step adds its closer to one list; a failed start, and close(), unwind it last first)
 *   In cluster mode the server listens before the node has joined: /healthz, /metrics and
 *   the pages are served at once, while /readyz and upgrades answer 503 until it has
 *   (a grace on an empty Redis, Redis out of reach); `started` says when.
 *
 *   close({ drainMs }): /readyz and upgrades 503 at once, clients served drainMs more, then
 *   closed with 1001 (their sessions wait for a resume); close() again ends a drain now.
 *
 *   HTTP request ─▶ http-routes.ts        upgrade ─▶ admission.ts ─▶ open(): hub spawns a connection
 *   per client address: admission counts connections (address-limits.ts), the hub names (address-names.ts)
 *   hub 'member.joined'/'member.left' ─▶ fanout membership (held there only)
 *   hub 'broadcast' ─▶ fanout ─(recipients)─▶ observer's metrics
 *
 * Never touches `process`: main.ts owns signals and exit codes, tests own their servers.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { once } from 'node:events';
import type { WebSocket } from 'ws';
import { createActor } from 'xstate';
import { hubMachine } from '../machines/hub.machine.js';
import { admitUpgrades, CLOSE_GRACE_MS, type Client } from './admission.js';
import { AddressLimits, type AddressLimit } from './address-limits.js';
import { addressLimitSettings, addressNameSettings, connectionLimits, sessionSettings, type Config } from './config.js';
import { closeCodes, closeReasons } from './errors.js';
import { Fanout } from './fanout.js';
import { createRoutes } from './http-routes.js';
import { inspectOption, startInspection } from './inspector.js';
import { clipped, createLogger, type Logger } from './log.js';
import { Observer } from './observe.js';
import { createPages } from './pages.js';
import { bindSocket, type ConnectionActor } from './transport.js';
import { clusterActors, clusterNode, startCluster, whenRefused } from './cluster/cluster.js';
import type { Readiness } from './cluster/availability.machine.js';
import { sessionKeys } from './session-keys.js';
import { limitSockets } from './socket-limits.js';
import { UpgradeRefusals } from './upgrade-refusals.js';

/** The longest accept queue to ask for; Linux caps it at net.core.somaxconn (4096 by default). */
const ACCEPT_BACKLOG = 65_535;

export interface ChatServer {
  /** The port actually bound (useful with `port: 0`). */
  readonly port: number;
  /** With `inspect` on: the Stately inspector's bridge page (open it in a browser); else null. */
  readonly inspectorUrl: string | null;
  /**
   * In cluster mode, resolves once the node serves, or `waiting` as soon as Redis turns out
   * to be out of reach (it keeps trying); rejects if Redis refuses the node (`failed` also
   * resolves then). Resolves `serving` at once for a single process.
   */
  readonly started: Promise<'serving' | 'waiting'>;
  /**
   * Stops accepting (/readyz and upgrades 503), serves its clients `drainMs` more (0 by
   * default), closes every client with 1001 (no leave announcements), then resolves. Called
   * again during a drain, it ends the drain at once; every call resolves when all is closed.
   */
  close(options?: CloseOptions): Promise<void>;
  /**
   * Resolves (never rejects) if the server cannot go on: in cluster mode, Redis refused the
   * node before it could join (src/cluster/refusal.ts). The caller closes it; main.ts exits 1.
   */
  readonly failed: Promise<Error>;
}

export interface CloseOptions {
  /** How long clients are still served after the node stops taking new ones (DRAIN_MS). */
  drainMs?: number;
}

export interface ServerOptions {
  log?: Logger;
}

/**
 * One open WebSocket. Not membership (fanout holds who receives broadcasts): every socket
 * from its handshake to its close is here, named or not, so that MAX_CONNECTIONS counts
 * them, close() reaches them, and the hub's events about a connection find its socket and log.
 */
interface Connection {
  socket: WebSocket;
  /** The TCP socket under `socket`: fanout writes whole frames to it. */
  tcp: Socket;
  log: Logger;
  client: Client;
  /** Registered (or resumed) at least once: no longer counted as unregistered against its address. */
  registered: boolean;
}

export async function startServer(config: Config, options: ServerOptions = {}): Promise<ChatServer> {
  const log = options.log ?? createLogger(config.logLevel);
  const limits = connectionLimits(config);
  const addresses = new AddressLimits(addressLimitSettings(config));
  const closers = new Closers(log);
  /** Set by close(): from then on nothing new is taken (a drain included). */
  let stopping = false;
  /** close()'s work, once begun; and the way to end its drain early, while one runs. */
  let closing: Promise<void> | null = null;
  let endDrain: (() => void) | null = null;
  /** The WebSockets open, for the drain's log line. */
  let connectionCount = () => 0;
  try {
    const inspection = config.inspect ? await startInspection(config, log) : null;
    if (inspection !== null) closers.add('inspector', () => inspection.close());

    // Cluster mode: names and order live in Redis; the hub cannot tell the difference.
    const cluster =
      config.redisUrl === null
        ? null
        : clusterNode(config.redisUrl, config.leaseMs, log.child({ component: 'cluster' }), {
            ...inspectOption(inspection),
            resumeWindowMs: config.resumeWindowMs,
            historySize: config.historySize,
            logLimits: { maxBytes: config.logMaxBytes, maxAgeMs: config.logMaxAgeMs },
          });
    // Leaving the cluster announces this node's users as gone to the other nodes' clients.
    if (cluster !== null) closers.add('cluster', () => cluster.close());

    const machine = cluster === null ? hubMachine : hubMachine.provide({ actors: clusterActors(cluster) });
    const hub = createActor(machine, {
      input: {
        echo: config.echo,
        // One process keeps ids and sessions in memory: a restart starts a new lineage. A
        // cluster's is Redis's (and the bus tells the hub when it changes).
        epoch: cluster?.epoch ?? randomUUID(),
        sessions: sessionSettings(config),
        keys: sessionKeys,
        // Its connection and session actors are inspected as it is (machines/owned-actors.ts).
        actors: inspectOption(inspection),
        perAddress: addressNameSettings(config),
      },
      ...inspectOption(inspection),
    });
    const childOf = (id: string): ConnectionActor | undefined => hub.getSnapshot().context.connections.get(id);
    const connections = new Map<string, Connection>();
    connectionCount = () => connections.size;

    const fanout = new Fanout(config.maxBufferedBytes, (id) =>
      childOf(id)?.send({ type: 'server.kick', cause: 'slow' }),
    );
    const observer = new Observer(hub, {
      livePage: config.inspectPage,
      limited: (id, limit) => {
        const connection = connections.get(id);
        if (connection !== undefined) addressLimited(connection.client, limit);
      },
    });
    /** Counted each time; logged once per address, limit and period (address-limits.ts's LOG_PERIOD_MS). */
    const addressLimited = (client: Client, limit: AddressLimit): void => {
      observer.metrics.limited(limit);
      if (addresses.shouldLog(client.key, limit, Date.now()))
        log.warn({ ip: client.address, limit }, 'client address over its limit');
    };
    /** A connection's first welcome: it no longer counts as unregistered against its address. */
    const registered = (connection: Connection): void => {
      if (connection.registered) return;
      connection.registered = true;
      addresses.registered(connection.client.key, Date.now());
    };
    // Fanout holds the membership; the observer learns what each broadcast reached from it.
    hub.on('broadcast', (event) => observer.broadcast(event, fanout.broadcast(event), fanout.has(event.author)));
    hub.on('member.joined', ({ id, name }) => {
      const connection = connections.get(id);
      if (connection === undefined) return;
      registered(connection);
      fanout.add(id, { ws: connection.socket, socket: connection.tcp });
      connection.log.info({ name: clipped(name) }, 'registered');
    });
    hub.on('member.left', ({ id, name, cause }) => {
      fanout.remove(id);
      connections.get(id)?.log.info({ name: clipped(name), cause }, 'left');
    });
    // A resumed member gets its welcome and replay first, then broadcasts like any other.
    hub.on('member.resumed', ({ id, name, frames, recovered, replayed, tookOver }) => {
      const connection = connections.get(id);
      if (connection === undefined) return;
      registered(connection);
      fanout.add(id, { ws: connection.socket, socket: connection.tcp });
      fanout.sendReplay(id, frames);
      connection.log.info({ name: clipped(name), recovered, replayed, tookOver }, 'resumed');
    });
    hub.on('send', ({ id, frames, kind }) =>
      kind === 'history' ? fanout.sendReplay(id, frames) : fanout.sendTo(id, frames),
    );
    hub.on('session.detached', ({ id, name, session }) =>
      connections.get(id)?.log.info({ name: clipped(name), session }, 'session waiting for a resume'),
    );
    hub.on('session.ended', ({ name, session, cause }) =>
      log.info({ name: clipped(name), session, cause }, 'session ended'),
    );
    hub.on('connection.crashed', ({ id, error }) => {
      const connection = connections.get(id);
      (connection?.log ?? log).error({ err: error }, 'connection actor crashed');
      connection?.socket.close(closeCodes.internal, closeReasons.internal);
    });
    hub.subscribe({ error: (err) => log.fatal({ err }, 'hub crashed') });
    if (config.inspectPage && config.inspectToken === null && !isLoopback(config.host))
      log.warn({ path: '/inspect' }, 'lifecycle page open to anyone who can reach the port (set INSPECT_TOKEN)');
    hub.start();
    closers.add('hub', () => void hub.stop());
    if (cluster !== null) observer.metrics.watchCluster(() => cluster.readiness);

    const http = createServer(
      createRoutes({
        notReadyBecause: () => (stopping ? 'stopping' : cluster === null ? null : NOT_READY[cluster.readiness]),
        metrics: observer.metrics,
        pages: createPages({
          live: observer.live,
          inspectToken: config.inspectToken,
          host: config.host,
          trustProxy: config.trustProxy,
        }),
      }),
    );
    let opened = 0;
    const open = (socket: WebSocket, req: IncomingMessage, client: Client): void => {
      const id = `c${++opened}`;
      const connectionLog = log.child({ conn: id });
      // `ip` is the client's, from X-Forwarded-For when a trusted proxy sent it; `peer` then says which proxy.
      const via = client.peer !== client.address ? { peer: client.peer } : {};
      connectionLog.info({ ip: client.address, ...via, origin: clipped(req.headers.origin) }, 'connection opened');
      const connection: Connection = { socket, tcp: req.socket, log: connectionLog, client, registered: false };
      connections.set(id, connection);
      const addressBucket = addresses.messageBucket(client.key, Date.now());
      hub.send({ type: 'conn.open', id, limits, address: client.key, addressBucket });
      const actor = childOf(id);
      if (actor !== undefined) {
        bindSocket(socket, actor, connectionLog);
        observer.track(id, socket, actor);
      } else {
        socket.close(closeCodes.internal, closeReasons.internal);
      }
      // After bindSocket's own 'close' listener: the actor reports the leave first. (`on`, as
      // 'close' comes once anyway, and `once` would hold a wrapper per connection.)
      socket.on('close', (code: number) => {
        connections.delete(id);
        addresses.closed(client.key, connection.registered, Date.now());
        connectionLog.debug({ code }, 'connection closed');
      });
    };
    limitSockets(http, config, { log, metrics: observer.metrics });
    const refusals = new UpgradeRefusals(log, observer.metrics);
    admitUpgrades(http, config, addresses, {
      // Before it has joined, a node's clients could do nothing but wait: a balancer's next try goes elsewhere.
      isStarting: () => cluster !== null && !cluster.hasJoined,
      isStopping: () => stopping,
      refused: (refusal) => refusals.refused(refusal),
      openCount: () => connections.size,
      open,
      limited: addressLimited,
    });
    // A reconnect storm brings every client back at once: Node's default accept queue (511)
    // overflowed in the bench, and the kernel dropped SYNs that came back only 1, 3, 7 s
    // later. Ask for the most; the kernel caps it at net.core.somaxconn (docs/operations.md).
    http.listen({ port: config.port, host: config.host, backlog: ACCEPT_BACKLOG });
    await once(http, 'listening');
    closers.add('http server', async () => {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    });
    // Ends the /inspect feed's streams before the HTTP server drops their sockets.
    closers.add('/inspect feed', () => observer.close());
    closers.add('clients', async () => {
      hub.send({ type: 'server.shutdown' });
      const closed = [...connections.values()].map(({ socket }) => once(socket, 'close').catch(() => undefined));
      for (const id of connections.keys()) childOf(id)?.send({ type: 'server.kick', cause: 'shutdown' });
      const grace = setTimeout(() => {
        for (const { socket } of connections.values()) socket.terminate();
      }, CLOSE_GRACE_MS);
      await Promise.all(closed);
      clearTimeout(grace);
    });

    // Started once the hub reads its log (the roster every welcome lists must be the
    // cluster's before a claim is granted), and once the server listens: a balancer then
    // sees a node that is alive and not ready, rather than one that refuses connections.
    const started = cluster === null ? Promise.resolve('serving' as const) : startCluster(cluster);
    started.catch(() => undefined); // a refusal is `failed`'s news: main.ts hears it there

    const address = http.address();
    const port = typeof address === 'object' && address !== null ? address.port : config.port;
    const failed = cluster === null ? new Promise<Error>(() => {}) : whenRefused(cluster);
    return { port, inspectorUrl: inspection?.pageUrl ?? null, started, close, failed };
  } catch (err) {
    // What started is closed again. The caller hears why start-up failed; a closer that
    // failed on the way has been logged, and is not the news.
    await closers.closeAll().catch(() => undefined);
    throw err;
  }

  function close({ drainMs = 0 }: CloseOptions = {}): Promise<void> {
    if (closing !== null) {
      endDrain?.();
      return closing;
    }
    stopping = true;
    closing = (async () => {
      if (drainMs > 0) {
        log.info({ drainMs, clients: connectionCount() }, 'draining: not ready, refusing new clients');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, drainMs);
          endDrain = () => {
            clearTimeout(timer);
            log.info('drain cut short');
            resolve();
          };
        });
        endDrain = null;
      }
      await closers.closeAll();
    })();
    return closing;
  }
}

/** /readyz's answer for a cluster node that does not serve (availability.machine.ts, readiness). */
const NOT_READY: Record<Readiness, string | null> = {
  serving: null,
  starting: 'starting',
  grace: 'grace',
  unavailable: 'redis unavailable',
};

/**
 * The one list of things to close: each part adds its closer as soon as it has started,
 * so a failed start and close() unwind exactly what is running, last started first.
 */
class Closers {
  private readonly started: Array<{ part: string; close: () => void | Promise<void> }> = [];

  constructor(private readonly log: Logger) {}

  /** `part` has just started; `close` stops it. */
  add(part: string, close: () => void | Promise<void>): void {
    this.started.push({ part, close });
  }

  /**
   * Closes every part, last started first, and empties the list. A part that fails to
   * close is logged and the rest are still closed; then the first failure is thrown.
   */
  async closeAll(): Promise<void> {
    let failures = 0;
    let first: unknown;
    for (const { part, close } of this.started.splice(0).reverse()) {
      try {
        await close();
      } catch (err) {
        this.log.warn({ err, part }, 'could not close');
        if (failures++ === 0) first = err;
      }
    }
    if (failures > 0) throw first;
  }
}

function isLoopback(host: string): boolean {
  return host.startsWith('127.') || host === '::1' || host === 'localhost';
}
