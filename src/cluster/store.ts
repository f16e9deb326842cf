/**
 * The node's two Redis connections, through ioredis, and one typed method per script.
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
import { keys, scripts, type ScriptName } from './scripts.js';
import type { ClusterTimings } from './lease.js';

/** Approximate length the log is trimmed to: a node further behind than this resyncs. */
export const LOG_MAX_LENGTH = 100_000;
/** Names a reaper drops (or a node hints, or a sweep announces) per script call, so that Redis never stalls long. */
const SCRIPT_BATCH = 500;

/** One entry of the log, as XREAD returns it. */
export interface LogEntry {
  seq: number;
  kind: 'j' | 'l' | 'm';
  node: string;
  conn: string;
  name: string;
  text: string;
  ts: number;
}

/** A name as `chat:names` holds it. */
export interface NameEntry {
  folded: string;
  name: string;
  node: string;
  conn: string;
  /** Sequence number of its join; null while it has not joined. */
  joinSeq: number | null;
}

/** A name this node holds, as it re-asserts it after an outage. */
export interface HeldName {
  folded: string;
  conn: string;
  name: string;
  joinSeq: number | null;
}

export interface Recovery {
  epoch: string;
  /** The value of the lease this recovery took: claims and renewals show it. */
  lease: string;
  /** How long claims must still wait for every live node to re-assert its names (ms). */
  graceLeftMs: number;
  /** This node's lease key was still there: Redis kept its data and the node was not reaped. */
  hadLease: boolean;
  /** Per held name, in the order given: still this node's? */
  kept: boolean[];
}

/** What a reaper finds: nodes whose lease ran out, and whether ghosts wait to be announced. */
export interface ReapCheck {
  dead: string[];
  ghosts: boolean;
}

type ScriptCall = (...args: Array<string | number>) => Promise<unknown>;

export class ClusterStore {
  readonly commands: Redis;
  readonly reader: Redis;
  private readonly goneTtlMs: number;
  private inFlight = 0;

  constructor(
    url: string,
    readonly node: string,
    private readonly timings: ClusterTimings,
  ) {
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
    for (const [name, script] of Object.entries(scripts)) this.commands.defineCommand(name, script);
    this.goneTtlMs = timings.goneTtlMs;
  }

  /** Both connections are up (the node may still need to recover before it serves). */
  get isReady(): boolean {
    return this.commands.status === 'ready' && this.reader.status === 'ready';
  }

  async connect(): Promise<void> {
    await Promise.all([this.commands.connect(), this.reader.connect()]);
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

  /** Scripts sent and not yet answered (for ClusterNode.debugState). */
  get pending(): number {
    return this.inFlight;
  }

  private run(name: ScriptName, ...args: Array<string | number>): Promise<unknown> {
    const call = (this.commands as unknown as Record<ScriptName, ScriptCall>)[name];
    this.inFlight++;
    return call.apply(this.commands, args).finally(() => this.inFlight--);
  }

  /** 1 granted, 0 taken, -1 this node's lease is gone (or is not `lease`), -3 ghosts still to be announced. */
  async claim(folded: string, conn: string, name: string, lease: string): Promise<number> {
    return Number(
      await this.run(
        'claim',
        keys.names,
        keys.lease(this.node),
        keys.owned(this.node),
        keys.ghosts,
        folded,
        this.node,
        conn,
        name,
        lease,
      ),
    );
  }

  async release(folded: string, conn: string): Promise<void> {
    await this.run('release', keys.names, keys.owned(this.node), folded, this.node, conn);
  }

  /** The join's seq, 0 name lost, -1 lease gone, -2 joined already. */
  async join(folded: string, conn: string): Promise<number> {
    return Number(
      await this.run(
        'join',
        keys.names,
        keys.lease(this.node),
        keys.seq,
        keys.log,
        folded,
        this.node,
        conn,
        LOG_MAX_LENGTH,
      ),
    );
  }

  /** The message's seq, 0 author lost its name, -1 lease gone. */
  async say(folded: string, conn: string, text: string, ts: number): Promise<number> {
    return Number(
      await this.run(
        'say',
        keys.names,
        keys.lease(this.node),
        keys.seq,
        keys.log,
        folded,
        this.node,
        conn,
        text,
        ts,
        LOG_MAX_LENGTH,
      ),
    );
  }

  async leave(folded: string, conn: string): Promise<void> {
    await this.run(
      'leave',
      keys.names,
      keys.seq,
      keys.log,
      keys.prefix,
      folded,
      this.node,
      conn,
      LOG_MAX_LENGTH,
      this.goneTtlMs,
    );
  }

  /** False when the lease expired or Redis lost its data: the node must recover. */
  async refresh(lease: string): Promise<boolean> {
    return Number(await this.run('refresh', keys.lease(this.node), lease, this.timings.leaseTtlMs)) === 1;
  }

  /** `newId` names the epoch if Redis is empty, and the lease this recovery takes. */
  async recover(knownEpoch: string, newId: string, held: HeldName[]): Promise<Recovery> {
    const args = held.flatMap((h) => [h.folded, h.conn, h.name, h.joinSeq === null ? '' : String(h.joinSeq)]);
    const reply = (await this.run(
      'recover',
      keys.epoch,
      keys.lease(this.node),
      keys.nodes,
      keys.names,
      keys.owned(this.node),
      keys.seq,
      keys.log,
      keys.ghosts,
      this.node,
      knownEpoch,
      newId,
      this.timings.leaseMs,
      this.timings.leaseTtlMs,
      LOG_MAX_LENGTH,
      this.goneTtlMs,
      keys.prefix,
      ...args,
    )) as [string, string, number, number[], string];
    const [epoch, graceLeft, hadLease, kept, lease] = reply;
    return {
      epoch,
      lease,
      graceLeftMs: Number(graceLeft),
      hadLease: Number(hadLease) === 1,
      kept: kept.map((k) => Number(k) === 1),
    };
  }

  /**
   * During the grace after Redis lost its data: records the names of `roster` nobody has
   * re-asserted as ghosts. False when the grace is over (then nothing more is recorded).
   */
  async hintGhosts(roster: NameEntry[]): Promise<boolean> {
    for (let i = 0; i < roster.length; i += SCRIPT_BATCH) {
      const args = roster
        .slice(i, i + SCRIPT_BATCH)
        .flatMap((e) => [e.folded, `${e.node}/${e.conn}`, e.name, String(e.joinSeq ?? 0)]);
      if (Number(await this.run('hintGhosts', keys.epoch, keys.names, keys.ghosts, keys.prefix, ...args)) < 0)
        return false;
    }
    return true;
  }

  /** Every online name (ghosts included), and the log position the list is valid at. */
  async snapshot(): Promise<{ seq: number; names: NameEntry[] }> {
    const [seq, flat, ghosts] = (await this.run('snapshot', keys.names, keys.seq, keys.ghosts)) as [
      string,
      string[],
      string[],
    ];
    const names: NameEntry[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) names.push(parseNameEntry(flat[i]!, flat[i + 1]!));
    for (let i = 0; i + 1 < ghosts.length; i += 2) names.push(parseGhost(ghosts[i]!, ghosts[i + 1]!));
    return { seq: Number(seq), names };
  }

  async deadNodes(): Promise<ReapCheck> {
    const [ghosts, dead] = (await this.run('deadNodes', keys.nodes, keys.ghosts, keys.prefix, this.node)) as [
      number,
      string[],
    ];
    return { dead, ghosts: Number(ghosts) === 1 };
  }

  /**
   * Announces the ghosts' leaves once the grace is over, in batches.
   * Returns the leaves announced, or null while the grace still runs.
   */
  async sweepGhosts(): Promise<number | null> {
    let leaves = 0;
    for (;;) {
      const reply = (await this.run(
        'sweepGhosts',
        keys.epoch,
        keys.ghosts,
        keys.names,
        keys.seq,
        keys.log,
        keys.prefix,
        LOG_MAX_LENGTH,
        this.goneTtlMs,
        SCRIPT_BATCH,
      )) as number | [number, number];
      if (!Array.isArray(reply)) return null;
      leaves += Number(reply[0]);
      if (Number(reply[1]) === 0) return leaves;
    }
  }

  /**
   * Drops every name of `node`, announcing the leaves of those that joined, in batches.
   * Returns the number of leaves announced, or null if the node turned out to be alive.
   */
  async dropNode(node: string, mustBeDead: boolean): Promise<number | null> {
    let leaves = 0;
    for (;;) {
      const reply = (await this.run(
        'dropNode',
        keys.nodes,
        keys.names,
        keys.seq,
        keys.log,
        keys.prefix,
        node,
        LOG_MAX_LENGTH,
        this.goneTtlMs,
        SCRIPT_BATCH,
        mustBeDead ? '1' : '0',
      )) as number | [number, number, number];
      if (!Array.isArray(reply)) return null;
      leaves += Number(reply[1]);
      if (Number(reply[2]) === 1) return leaves;
    }
  }

  /** Log entries after `position`, waiting up to `blockMs` for the first; [] when none came. */
  async read(position: string, blockMs: number, count: number): Promise<LogEntry[]> {
    const reply = (await this.reader.call(
      'XREAD',
      'COUNT',
      count,
      'BLOCK',
      blockMs,
      'STREAMS',
      keys.log,
      position,
    )) as Array<[string, Array<[string, string[]]>]> | null;
    if (reply === null) return [];
    return (reply[0]?.[1] ?? []).map(([id, fields]) => parseLogEntry(id, fields));
  }

  /** The last seq handed out (for ClusterNode.debugState). */
  async lastSeq(): Promise<number> {
    return Number((await this.commands.get(keys.seq)) ?? 0);
  }
}

function parseLogEntry(id: string, fields: string[]): LogEntry {
  const entry: LogEntry = { seq: Number.parseInt(id, 10), kind: 'm', node: '', conn: '', name: '', text: '', ts: 0 };
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const value = fields[i + 1]!;
    switch (fields[i]) {
      case 'k':
        entry.kind = value as LogEntry['kind'];
        break;
      case 'o':
        entry.node = value;
        break;
      case 'c':
        entry.conn = value;
        break;
      case 'u':
        entry.name = value;
        break;
      case 'x':
        entry.text = value;
        break;
      case 't':
        entry.ts = Number(value);
        break;
    }
  }
  return entry;
}

/** A ghost as a roster entry: online until its leave is announced. */
function parseGhost(holder: string, json: string): NameEntry {
  const ghost = JSON.parse(json) as { f: string; u: string; n: string };
  const slash = holder.indexOf('/');
  return {
    folded: ghost.f,
    name: ghost.u,
    node: holder.slice(0, slash),
    conn: holder.slice(slash + 1),
    joinSeq: Number(ghost.n),
  };
}

function parseNameEntry(folded: string, json: string): NameEntry {
  const entry = JSON.parse(json) as { t: string; u: string; j: number; n?: string };
  const slash = entry.t.indexOf('/');
  return {
    folded,
    name: entry.u,
    node: entry.t.slice(0, slash),
    conn: entry.t.slice(slash + 1),
    joinSeq: entry.j === 1 && entry.n !== undefined ? Number(entry.n) : null,
  };
}
