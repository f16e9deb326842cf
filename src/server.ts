/**
 * startServer(config) -> { port, close() }: the HTTP server, the /ws upgrade and the hub.
 * Never touches `process`: main.ts owns signals and exit codes, tests own their servers.
 *
 *   upgrade ─▶ checks (path 404, origin 403, capacity 503) ─▶ ws ─▶ hub spawns a connection
 *   hub 'member.joined'/'member.left' ─▶ fanout membership;  hub 'broadcast' ─▶ fanout
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { once } from 'node:events';
import { WebSocketServer, type WebSocket } from 'ws';
import { createActor } from 'xstate';
import { hubMachine } from '../machines/hub.machine.js';
import { connectionLimits, type Config } from './config.js';
import { closeCodes, closeReasons } from './errors.js';
import { Fanout } from './fanout.js';
import { inspectOption, startInspection, type Inspection } from './inspector.js';
import { createLogger, type Logger } from './log.js';
import { Observer } from './observe.js';
import { createPages } from './pages.js';
import { bindSocket, type ConnectionActor } from './transport.js';
import { clusterActors, joinCluster, rosterDelivered } from './cluster/cluster.js';

export interface ChatServer {
  /** The port actually bound (useful with `port: 0`). */
  readonly port: number;
  /** With `inspect` on: the Stately inspector's bridge page (open it in a browser); else null. */
  readonly inspectorUrl: string | null;
  /** Stops accepting, closes every client with 1001 (no leave announcements), then resolves. */
  close(): Promise<void>;
}

export interface ServerOptions {
  log?: Logger;
}

/** A closing handshake that takes longer than this is cut short. */
const CLOSE_GRACE_MS = 2_000;

/**
 * The shortest HTTP idle time, whatever REGISTER_TIMEOUT_MS says. Node runs socket timers
 * before it reads the sockets, so after an event-loop stall longer than the idle time a
 * request that has already arrived would be reset instead of answered.
 */
const MIN_HTTP_IDLE_MS = 1_000;

/**
 * Frames one message may come in, at least; one more closes 1008. ws keeps every fragment
 * of an unfinished message as a Buffer of about 110 bytes of heap, whatever its length, so
 * its default of 16,384 let a client hold 1.7 MB with 112 KB of one-byte fragments, and
 * never finish (pings may come between fragments, so heartbeats pass). Browsers send each
 * message as one frame.
 */
const MIN_FRAGMENTS = 128;

/**
 * Socket reads ws may hold while a frame is incomplete, at least; one more closes 1008.
 * Each costs about 100 bytes of heap however little it brought, so ws's default of 262,144
 * let a client that sends one byte per TCP segment make the server hold 2 MB for 20 KB
 * sent, for up to REGISTER_TIMEOUT_MS before registering and two heartbeats after (a
 * client halfway through a frame cannot answer a ping).
 */
const MIN_BUFFERED_CHUNKS = 1024;

/**
 * Raises either floor to one piece per 512 bytes of MAX_PAYLOAD_BYTES, so that a message
 * of that size may still come in fragments, or reads, of 512 bytes on average: smaller
 * than any real sender's.
 */
const perPayload = (floor: number, maxPayloadBytes: number) => Math.max(floor, Math.ceil(maxPayloadBytes / 512));

interface Connection {
  socket: WebSocket;
  /** The TCP socket under `socket`: fanout writes whole frames to it. */
  tcp: Socket;
  log: Logger;
}

export async function startServer(config: Config, options: ServerOptions = {}): Promise<ChatServer> {
  const log = options.log ?? createLogger(config.logLevel);
  const limits = connectionLimits(config);
  const connections = new Map<string, Connection>();
  let upgrading = 0;
  let opened = 0;
  let stopping = false;

  const inspection: Inspection | null = config.inspect ? await startInspection(config, log) : null;
  // Cluster mode: names and order live in Redis; the hub cannot tell the difference.
  const cluster =
    config.redisUrl === null
      ? null
      : await joinCluster(
          config.redisUrl,
          config.leaseMs,
          log.child({ component: 'cluster' }),
          inspectOption(inspection),
        ).catch(async (err: unknown) => {
          await inspection?.close();
          throw err;
        });
  const machine = cluster === null ? hubMachine : hubMachine.provide({ actors: clusterActors(cluster) });
  const hub = createActor(machine, { input: { echo: config.echo }, ...inspectOption(inspection) });
  const childOf = (id: string) => hub.getSnapshot().children[id] as ConnectionActor | undefined;

  const fanout = new Fanout(config.maxBufferedBytes, (id) => childOf(id)?.send({ type: 'server.kick', cause: 'slow' }));
  hub.on('broadcast', (event) => fanout.broadcast(event));
  hub.on('member.joined', ({ id, name }) => {
    const connection = connections.get(id);
    if (connection === undefined) return;
    fanout.add(id, { ws: connection.socket, socket: connection.tcp });
    connection.log.info({ name }, 'registered');
  });
  hub.on('member.left', ({ id, name, cause }) => {
    fanout.remove(id);
    connections.get(id)?.log.info({ name, cause }, 'left');
  });
  hub.on('connection.crashed', ({ id, error }) => {
    const connection = connections.get(id);
    (connection?.log ?? log).error({ err: error }, 'connection actor crashed');
    connection?.socket.close(closeCodes.internal, closeReasons.internal);
  });
  hub.subscribe({ error: (err) => log.fatal({ err }, 'hub crashed') });
  const observer = new Observer(hub, { livePage: config.inspectPage });
  const pages = createPages({ live: observer.live, inspectToken: config.inspectToken });
  if (config.inspectPage && config.inspectToken === null && !isLoopback(config.host))
    log.warn({ path: '/inspect' }, 'lifecycle page open to anyone who can reach the port (set INSPECT_TOKEN)');
  hub.start();
  // The roster every welcome lists must be the cluster's before the first client arrives.
  if (cluster !== null) {
    await rosterDelivered(cluster).catch(async (err: unknown) => {
      hub.stop();
      await inspection?.close();
      throw err;
    });
  }

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.maxPayloadBytes,
    maxFragments: perPayload(MIN_FRAGMENTS, config.maxPayloadBytes),
    maxBufferedChunks: perPayload(MIN_BUFFERED_CHUNKS, config.maxPayloadBytes),
    clientTracking: false,
    perMessageDeflate: false,
    skipUTF8Validation: true, // checked per frame in transport.ts: a bad_frame, not a 1007
  });

  const http = createServer((req, res) => answerHttp(req, res));
  // Node never times out a connection that sends nothing (headersTimeout starts at a
  // request's first byte), and MAX_CONNECTIONS counts only WebSockets: silent connections
  // would pile up until the process runs out of file descriptors. So an HTTP connection
  // idle this long is dropped: no client gets longer to start than it has to register.
  // Node stops watching a socket once it is upgraded; the /inspect feed clears the timeout
  // on its stream.
  http.timeout = Math.max(config.registerTimeoutMs, MIN_HTTP_IDLE_MS);
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', dropSocket);
    const refusal = refusalFor(req);
    if (refusal !== null) return refuse(socket, refusal);
    upgrading++;
    // ws never calls back for a handshake it refuses itself (no or bad key, unknown version,
    // not a GET: it answers 400 or 405) or whose client is already gone: that socket's
    // 'close' gives the place back, or refused handshakes would fill maxConnections for good.
    let counted = true;
    const release = () => {
      if (counted) upgrading--;
      counted = false;
    };
    socket.once('close', release);
    wss.handleUpgrade(req, socket, head, (ws) => {
      release();
      socket.off('close', release);
      // The handshake may finish after close() began: such a client is turned away at once.
      if (stopping) ws.close(closeCodes.shutdown, closeReasons.shutdown);
      else open(ws, req);
    });
  });

  function refusalFor(req: IncomingMessage): number | null {
    if (pathOf(req.url) !== '/ws') return 404;
    if (config.allowedOrigins !== null && !config.allowedOrigins.includes(req.headers.origin ?? '')) return 403;
    if (stopping || connections.size + upgrading >= config.maxConnections) return 503;
    return null;
  }

  function open(socket: WebSocket, req: IncomingMessage): void {
    const id = `c${++opened}`;
    const connectionLog = log.child({ conn: id });
    connectionLog.info({ ip: req.socket.remoteAddress, origin: req.headers.origin }, 'connection opened');
    connections.set(id, { socket, tcp: req.socket, log: connectionLog });
    req.socket.on('end', onPeerEnd);
    hub.send({ type: 'conn.open', id, limits });
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
      connectionLog.debug({ code }, 'connection closed');
    });
  }

  function answerHttp(req: IncomingMessage, res: ServerResponse): void {
    const path = pathOf(req.url);
    if (path === '/healthz') return json(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      if (stopping) return json(res, 503, { status: 'stopping' });
      if (cluster !== null && !cluster.isServing) return json(res, 503, { status: 'redis unavailable' });
      return json(res, 200, { status: 'ready' });
    }
    if (path === '/metrics') return void sendMetrics(res, observer);
    if (pages(req, res, path)) return;
    json(res, 404, { error: 'not found' });
  }

  http.listen(config.port, config.host);
  try {
    await once(http, 'listening');
  } catch (err) {
    hub.stop();
    await cluster?.close();
    await inspection?.close();
    throw err;
  }
  const address = http.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;

  async function close(): Promise<void> {
    if (stopping) return;
    stopping = true;
    hub.send({ type: 'server.shutdown' });
    const closed = [...connections.values()].map(({ socket }) => once(socket, 'close').catch(() => undefined));
    for (const id of connections.keys()) childOf(id)?.send({ type: 'server.kick', cause: 'shutdown' });
    const grace = setTimeout(() => {
      for (const { socket } of connections.values()) socket.terminate();
    }, CLOSE_GRACE_MS);
    await Promise.all(closed);
    clearTimeout(grace);
    observer.close();
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
    hub.stop();
    // Leaving the cluster announces this node's users as gone to the other nodes' clients.
    await cluster?.close();
    await inspection?.close();
  }

  return { port, inspectorUrl: inspection?.pageUrl ?? null, close };
}

function isLoopback(host: string): boolean {
  return host.startsWith('127.') || host === '::1' || host === 'localhost';
}

function pathOf(url: string | undefined): string {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return '';
  }
}

const STATUS_TEXT: Record<number, string> = { 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' };

/**
 * A socket error before or during the upgrade. A plain function, not a closure: this
 * listener stays on the socket for its whole life, and a closure here would keep the
 * upgrade request (headers and all) alive with it.
 */
function dropSocket(this: Duplex): void {
  this.destroy();
}

/**
 * The client sent FIN. ws ends our side too, but our FIN queues behind the frames not yet
 * sent, and ws arms no timer for a close begun this way: a client that has also stopped
 * reading would keep its socket for good (and, if registered, its name until two missed
 * heartbeats). It gets CLOSE_GRACE_MS without progress to take the rest, then is dropped.
 * A plain function, not a closure, like dropSocket: nothing per connection.
 */
function onPeerEnd(this: Socket): void {
  this.setTimeout(CLOSE_GRACE_MS, dropSocket);
}

/**
 * Answers an upgrade we will not take with a plain HTTP status, then drops the socket once
 * the answer is written. Ending it is not enough: our FIN leaves the socket half-open until
 * the client closes its side, and a hostile client never does (Node no longer times out an
 * upgraded socket), so refused sockets would pile up uncounted.
 */
function refuse(socket: Duplex, status: number): void {
  const text = STATUS_TEXT[status] ?? 'Error';
  socket.once('finish', dropSocket);
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`,
  );
}

async function sendMetrics(res: ServerResponse, observer: Observer): Promise<void> {
  try {
    const { contentType, body } = await observer.metrics.render();
    res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  } catch {
    json(res, 500, { error: 'metrics unavailable' });
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}
