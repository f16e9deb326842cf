/**
 * Upgrade admission: which HTTP connections on the chat port become WebSockets, and the
 * limits they live under from then on.
 *
 *   'upgrade' ─▶ path is /ws? ─────── no ─▶ 404 ┐
 *                origin allowed? ──── no ─▶ 403 │
 *                taking clients? ──── no ─▶ 503 │ (a cluster node not joined yet; stopping or draining)
 *                a place free? ────── no ─▶ 503 ├─▶ refuse(): the answer, then the socket is dropped
 *                (open sockets + handshakes in flight < MAX_CONNECTIONS)
 *                its address within its limits? ── no ─▶ 429 (connects) / 503 (open, unregistered)
 *                (src/address-limits.ts; the address is src/client-address.ts's)
 *                └─▶ ws handshake (counted while in flight) ─┬─ not valid ─▶ 400 / 405 ┘
 *                                                             └─▶ gate.open(ws, req, client)
 *
 * Each refusal goes to gate.refused with its reason (upgrade-refusals.ts logs and counts
 * it). Every socket keeps dropSocket for its errors, and an accepted one onPeerEnd, so no
 * socket outlives its usefulness.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from './config.js';
import { closeCodes, closeReasons } from './errors.js';
import type { AddressLimit, AddressLimits } from './address-limits.js';
import { addressKey, clientAddress, TrustedProxies } from './client-address.js';
import type { UpgradeRefusal } from './metrics.js';
import { originAllowed } from './origins.js';
import type { Refusal } from './upgrade-refusals.js';

/** The one path that takes WebSocket upgrades. */
export const WEBSOCKET_PATH = '/ws';

/** A closing handshake that takes longer than this is cut short. */
export const CLOSE_GRACE_MS = 2_000;

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

export type AdmissionConfig = Pick<Config, 'maxPayloadBytes' | 'allowedOrigins' | 'maxConnections' | 'trustProxy'>;

/** Who a connection is, as per-address limits and logs see it. */
export interface Client {
  /** The client's address (`192.0.2.1`, `2001:db8::1`): the peer's, or X-Forwarded-For's from a trusted proxy. */
  address: string;
  /** What its limits are counted by (an IPv6 address's /64). */
  key: string;
  /** The socket's peer, written as `address` is: a trusted proxy's when they differ. */
  peer: string;
}

/** What admission asks of the server, and hands it. */
export interface Gate {
  /** True while a cluster node has not joined yet: upgrades get 503. */
  isStarting(): boolean;
  /** True once close() began (a drain too): upgrades get 503, and a handshake finishing now gets 1001. */
  isStopping(): boolean;
  /** WebSockets open now; admission adds the handshakes still in flight. */
  openCount(): number;
  /**
   * A handshake finished: the WebSocket is the server's from here on, and so is `client`'s
   * place in `addresses` (it calls `addresses.closed` when the socket closes).
   */
  open(ws: WebSocket, req: IncomingMessage, client: Client): void;
  /** An upgrade from `client` was refused for one of its address's limits (also told to `refused`). */
  limited(client: Client, limit: AddressLimit): void;
  /** An upgrade was refused (the answer is on its way). */
  refused(refusal: Refusal): void;
}

/** HTTP status of an upgrade refused for an address's limit: too fast is 429, too many is 503. */
const LIMIT_STATUS: Partial<Record<AddressLimit, number>> = { connects: 429, connections: 503, unregistered: 503 };

/** The status each refusal is answered with; those of an address's limit follow LIMIT_STATUS. */
const REFUSAL_STATUS = { path: 404, origin: 403, starting: 503, stopping: 503, full: 503 } as const;

/** Takes the WebSocket upgrades of `http` that pass the checks above (socket-limits.ts bounds the sockets before). */
export function admitUpgrades(http: Server, config: AdmissionConfig, addresses: AddressLimits, gate: Gate): void {
  const trusted = new TrustedProxies(config.trustProxy);
  const nobody = new TrustedProxies(null);
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.maxPayloadBytes,
    maxFragments: perPayload(MIN_FRAGMENTS, config.maxPayloadBytes),
    maxBufferedChunks: perPayload(MIN_BUFFERED_CHUNKS, config.maxPayloadBytes),
    clientTracking: false,
    perMessageDeflate: false,
    skipUTF8Validation: true, // checked per frame in transport.ts: a bad_frame, not a 1007
  });
  let upgrading = 0;

  // A handshake ws will not take (no or bad key, unknown version, not a GET): answered here,
  // as ws would (400, 405), so that it is logged and counted like every other refusal.
  wss.on('wsClientError', (err: Error, socket: Duplex, req: IncomingMessage) => {
    const status = req.method === 'GET' ? 400 : 405;
    const headers = /Sec-WebSocket-Version/.test(err.message) ? 'Sec-WebSocket-Version: 13, 8\r\n' : '';
    gate.refused({ reason: 'handshake', status, ip: addressOf(req), sent: err.message });
    refuse(socket, status, headers);
  });

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', dropSocket);
    const address = addressOf(req);
    const client: Client = {
      address,
      key: addressKey(address),
      peer: clientAddress(req.socket.remoteAddress, undefined, nobody),
    };
    const refusal = refusalFor(req);
    if (refusal !== null) {
      const status = REFUSAL_STATUS[refusal];
      const sent = refusal === 'path' ? req.url : refusal === 'origin' ? originOf(req) : undefined;
      gate.refused({ reason: refusal, status, ip: client.address, sent });
      return refuse(socket, status);
    }
    const limit = addresses.admit(client.key, Date.now());
    if (limit !== null) {
      const status = LIMIT_STATUS[limit] ?? 503;
      gate.limited(client, limit);
      gate.refused({ reason: `address_${limit}` as UpgradeRefusal, status, ip: client.address });
      return refuse(socket, status);
    }
    upgrading++;
    // ws never calls back for a handshake it refuses (wsClientError above) or whose client
    // is already gone: that socket's 'close' gives the place back, or refused handshakes
    // would fill maxConnections for good.
    let counted = true;
    const release = () => {
      if (counted) upgrading--;
      counted = false;
    };
    const failed = () => {
      release();
      addresses.closed(client.key, false, Date.now());
    };
    socket.once('close', failed);
    wss.handleUpgrade(req, socket, head, (ws) => {
      release();
      socket.off('close', failed);
      // The handshake may finish after close() began: such a client is turned away at once.
      if (gate.isStopping()) {
        addresses.closed(client.key, false, Date.now());
        ws.close(closeCodes.shutdown, closeReasons.shutdown);
      } else {
        req.socket.on('end', onPeerEnd);
        gate.open(ws, req, client);
      }
    });
  });

  function refusalFor(req: IncomingMessage): keyof typeof REFUSAL_STATUS | null {
    if (pathOf(req.url) !== WEBSOCKET_PATH) return 'path';
    if (!originAllowed(originOf(req), req.headers.host, config.allowedOrigins)) return 'origin';
    if (gate.isStopping()) return 'stopping';
    if (gate.isStarting()) return 'starting';
    if (gate.openCount() + upgrading >= config.maxConnections) return 'full';
    return null;
  }

  /** The client's address: the peer's, or X-Forwarded-For's from a trusted proxy. */
  function addressOf(req: IncomingMessage): string {
    return clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trusted);
  }
}

/** The page's origin: `Origin`, or `Sec-WebSocket-Origin` in a version 8 handshake (ws takes both versions). */
function originOf(req: IncomingMessage): string | undefined {
  return req.headers.origin ?? (req.headers['sec-websocket-origin'] as string | undefined);
}

/**
 * The path of an origin-form request target (`/path?query`, RFC 9112 §3.2.1) exactly as
 * sent, without its query; '' for any other target, which then matches no route. Read as a
 * URL, `//evil.example/ws` would name another host and the path `/ws`, and `/x/../metrics`
 * would be `/metrics`: a proxy that routes by path prefix would pass them on as something
 * else than what the server then serves.
 */
export function pathOf(url: string | undefined): string {
  if (url === undefined || !url.startsWith('/') || url.startsWith('//')) return '';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  405: 'Method Not Allowed',
  404: 'Not Found',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

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
function refuse(socket: Duplex, status: number, headers = ''): void {
  const text = STATUS_TEXT[status] ?? 'Error';
  socket.once('finish', dropSocket);
  // A connect bucket refills a token in well under a second at any sensible rate.
  const retry = status === 429 ? 'Retry-After: 1\r\n' : '';
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\n${retry}${headers}Content-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`,
  );
}
