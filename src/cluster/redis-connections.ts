/**
 * The node's two Redis connections, through ioredis: their options, connecting and closing.
 *
 * `commands` carries every write, in the order the node issues them (ioredis keeps one
 * connection's commands in order, and Redis runs each script whole). `reader` only blocks
 * on XREAD, which would hold up anything queued behind it on a shared connection.
 *
 * Both fail fast: no offline queue, no resending after a reconnect, a command timeout.
 * A chat client is told `server_unavailable` at once rather than waiting on a retry loop,
 * and the node reconciles its state with Redis when the connection is back (node.ts).
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { ClusterTimings } from './lease.js';

/** The connections a ClusterStore runs its scripts and reads the log on. */
export class RedisConnections {
  readonly commands: Redis;
  readonly reader: Redis;
  /** REDIS_URL without its password, fit for a log line or an error message. */
  readonly redactedUrl: string;

  constructor(
    url: string,
    readonly node: string,
    protected readonly timings: ClusterTimings,
  ) {
    this.redactedUrl = redactUrl(url);
    const shared: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // Plain RESP2 replies: the same shapes on every Redis version that has streams.
      protocol: 2,
      connectTimeout: timings.commandTimeoutMs * 2,
      retryStrategy: (attempt) => Math.min(50 * attempt, timings.probeMs * 2),
    };
    this.commands = new Redis(url, {
      ...shared,
      commandTimeout: timings.commandTimeoutMs,
      connectionName: `chat:${node}`,
    });
    // No command timeout here: XREAD blocks by design, bounded by its own BLOCK argument.
    this.reader = new Redis(url, { ...shared, connectionName: `chat:${node}:reader` });
  }

  /** Both connections are up (the node may still need to recover before it serves). */
  get isReady(): boolean {
    return this.commands.status === 'ready' && this.reader.status === 'ready';
  }

  /**
   * Starts opening both connections. How it goes comes as their events ('ready', 'error',
   * 'close'); after a failed attempt ioredis keeps trying (retryStrategy above).
   */
  connect(): void {
    for (const connection of [this.commands, this.reader]) connection.connect().catch(() => {});
  }

  /** Closes both connections; a pending XREAD is cut short. */
  disconnect(): void {
    this.commands.disconnect();
    this.reader.disconnect();
  }

  async quit(): Promise<void> {
    this.reader.disconnect();
    await this.commands.quit().catch(() => this.commands.disconnect());
  }
}

/** The URL without its password. */
function redactUrl(raw: string): string {
  const url = new URL(raw);
  if (url.password !== '') url.password = '***';
  return url.toString();
}
