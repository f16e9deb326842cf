/**
 * Bounds on the chat port's TCP sockets before any WebSocket counts them: how long one may
 * sit idle or take to send its request headers, how many may be open in all, and what the
 * operator hears when connections cannot be taken.
 *
 *   accepted ─▶ idle > T, or headers not in within T ─▶ dropped (T: REGISTER_TIMEOUT_MS, 1 s at least)
 *            ├▶ over the socket cap ──────────────────▶ dropped at once ('drop'): counted, logged
 *            └▶ over its address's share ─────────────▶ dropped at once: counted, logged
 *   accept() fails (EMFILE, ENFILE, …) ───────────────▶ 'error': counted, logged
 *
 * Logged once per LOG_PERIOD_MS, with the number since the last line: a flood must not
 * turn into one log line per connection. Counted in chat_sockets_dropped_total; the sockets
 * open and the cap are read at each scrape (chat_sockets_open, chat_sockets_limit).
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import {
  addressKey,
  clientAddress,
  IPV6_SITE_SHARES,
  isTrustedPeer,
  siteKey,
  TrustedProxies,
} from './client-address.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { PeriodicLog } from './periodic-log.js';

/**
 * The shortest HTTP idle and header time, whatever REGISTER_TIMEOUT_MS says. Node runs
 * socket timers before it reads the sockets, so after an event-loop stall longer than the
 * idle time a request that has already arrived would be reset instead of answered.
 */
const MIN_HTTP_IDLE_MS = 1_000;

/** Longest wait between two checks of the header time (Node checks on an interval of its own, 30 s by default). */
const MAX_CHECK_INTERVAL_MS = 1_000;

/** File descriptors kept free for everything but client sockets: pages read from disk, Redis, logs. */
const FD_RESERVE = 64;

/**
 * TCP sockets one client address may hold beyond ADDRESS_MAX_CONNECTIONS: a browser's few
 * HTTP connections, upgrades about to be refused. Without a share at this level one source
 * could fill the socket cap with sockets that never upgrade, each held for the header time,
 * and keep everyone else from even reaching the upgrade checks.
 */
export const ADDRESS_SOCKET_MARGIN = 64;

/** At most one log line per kind of trouble in this time. */
export const LOG_PERIOD_MS = 10_000;

/**
 * Sockets beyond MAX_CONNECTIONS: room for plain HTTP (health checks, scrapes, the page)
 * and for upgrades about to be refused with 503, which a client can only read if its socket
 * was taken. 10 %, at least 64.
 */
export function socketCap(maxConnections: number): number {
  return maxConnections + Math.max(64, Math.ceil(maxConnections / 10));
}

export interface SocketLimitsOptions {
  log: Logger;
  metrics: Pick<Metrics, 'socketDropped' | 'watchSockets'>;
}

/** Applies the bounds above to `http`; call before it listens. */
export function limitSockets(
  http: Server,
  config: Pick<Config, 'maxConnections' | 'registerTimeoutMs' | 'addressMaxConnections' | 'trustProxy'>,
  { log, metrics }: SocketLimitsOptions,
): void {
  // Node never times out a connection that sends nothing (the header time starts at a
  // request's first byte), so an idle one is dropped: no client gets longer to start than
  // it has to register. The header time bounds one that trickles its headers a byte at a
  // time, which the idle time never catches. Node stops watching a socket once it is
  // upgraded; the /inspect feed clears the idle time on its stream.
  const limitMs = Math.max(config.registerTimeoutMs, MIN_HTTP_IDLE_MS);
  http.timeout = limitMs;
  http.headersTimeout = limitMs;
  http.requestTimeout = limitMs;
  // A createServer option in @types/node, but a property Node reads when the server starts listening.
  (http as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.min(
    MAX_CHECK_INTERVAL_MS,
    Math.ceil(limitMs / 4),
  );

  const wanted = socketCap(config.maxConnections);
  const fds = fileDescriptors();
  // Past the process's file limit the kernel refuses accept(), and libuv then accepts and
  // closes each connection itself, in silence: stay below it, where Node drops them and says so.
  const affordable = fds === null ? wanted : fds.limit - fds.open - FD_RESERVE;
  http.maxConnections = Math.max(1, Math.min(wanted, affordable));
  if (affordable < wanted)
    log.warn(
      { fileLimit: fds?.limit, maxConnections: config.maxConnections, sockets: http.maxConnections },
      'file descriptor limit too low for MAX_CONNECTIONS; raise it (ulimit -n)',
    );

  metrics.watchSockets(
    () => new Promise((resolve) => http.getConnections((err, count) => resolve(err === null ? count : 0))),
    http.maxConnections,
  );
  const dropped = new PeriodicLog(LOG_PERIOD_MS);
  http.on('drop', () => {
    metrics.socketDropped('socket_limit');
    dropped.hit((count) =>
      log.warn({ count, sockets: http.maxConnections }, 'connections dropped: too many sockets open'),
    );
  });
  if (config.addressMaxConnections > 0) shareSockets(http, config, { log, metrics });
  const failed = new PeriodicLog(LOG_PERIOD_MS);
  http.on('error', (err: NodeJS.ErrnoException) => {
    metrics.socketDropped('accept_error');
    failed.hit((count) => log.error({ err, count }, 'cannot accept connections'));
  });
}

/**
 * Each client address's share of the sockets: ADDRESS_MAX_CONNECTIONS + ADDRESS_SOCKET_MARGIN,
 * the next dropped at once (an IPv6 /48 holds IPV6_SITE_SHARES shares for all its /64s). Counted by the socket's peer; a trusted proxy's sockets carry
 * many clients, and are counted per client at the upgrade instead (admission.ts). O(1) per
 * socket: a count per address, gone when the address holds none.
 */
function shareSockets(
  http: Server,
  config: Pick<Config, 'addressMaxConnections' | 'trustProxy'>,
  { log, metrics }: SocketLimitsOptions,
): void {
  const share = config.addressMaxConnections + ADDRESS_SOCKET_MARGIN;
  const trusted = new TrustedProxies(config.trustProxy);
  const nobody = new TrustedProxies(null);
  const held = new Map<string, number>();
  const dropped = new PeriodicLog(LOG_PERIOD_MS);
  http.on('connection', (socket: Socket) => {
    const peer = socket.remoteAddress;
    if (isTrustedPeer(peer, trusted)) return;
    const key = addressKey(clientAddress(peer, undefined, nobody));
    const site = siteKey(key);
    const counted = site === null ? [key] : [key, site];
    if ((held.get(key) ?? 0) >= share || (site !== null && (held.get(site) ?? 0) >= share * IPV6_SITE_SHARES)) {
      socket.destroy();
      metrics.socketDropped('address_limit');
      return dropped.hit((times) =>
        log.warn({ ip: key, count: times, share }, 'connections dropped: a client address holds too many sockets'),
      );
    }
    for (const each of counted) held.set(each, (held.get(each) ?? 0) + 1);
    socket.once('close', () => {
      for (const each of counted) {
        const left = held.get(each)! - 1;
        if (left === 0) held.delete(each);
        else held.set(each, left);
      }
    });
  });
}

/** The process's open-file limit (soft) and the descriptors open now; null where /proc cannot tell (not Linux). */
export function fileDescriptors(): { limit: number; open: number } | null {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (line === null || line[1] === 'unlimited') return null;
    return { limit: Number(line[1]), open: readdirSync('/proc/self/fd').length };
  } catch {
    return null;
  }
}
