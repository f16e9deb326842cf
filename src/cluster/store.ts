/**
 * One typed method per cluster script (src/cluster/scripts.ts), run on the node's commands
 * connection, plus the log read on its reader connection (src/cluster/redis-connections.ts).
 */
import { REMEMBERED_CIDS } from '../../machines/session.machine.js';
import { keys, scripts, type ScriptName } from './scripts.js';
import type { ClusterTimings } from './lease.js';
import { RedisConnections } from './redis-connections.js';
import {
  parseGhost,
  parseLogEntry,
  parseNameEntry,
  type HeldName,
  type LogEntry,
  type NameEntry,
  type ReapCheck,
  type Recovery,
} from './store-records.js';

/** A resume's move of a session to this node (scripts.ts, transfer). */
export interface Transfer {
  session: string;
  name: string;
  /** Where it was held before. */
  previous: { node: string; conn: string };
  joinSeq: number | null;
  /** The last seq handed out when it moved: nothing the client saw can be later. */
  lastSeq: number;
}

/** Re-exported: the cluster's modules know these records by the store that returns them. */
export type { HeldName, LogEntry, NameEntry, ReapCheck, Recovery } from './store-records.js';

/** Most entries the log keeps: a node further behind than this resyncs. */
export const LOG_MAX_LENGTH = 100_000;

/** How much of the log Redis keeps besides LOG_MAX_LENGTH entries (LOG_MAX_BYTES, LOG_MAX_AGE_MS; 0: no bound). */
export interface LogLimits {
  /** Entries: LOG_MAX_LENGTH unless a test asks for fewer. */
  maxCount?: number;
  /** Estimated bytes of its entries (lua.ts, entryBytes). */
  maxBytes: number;
  /** Age of its oldest entry, by the entry's time. */
  maxAgeMs: number;
}
/** Names a reaper drops (or a node hints, or a sweep announces) per script call, so that Redis never stalls long. */
const SCRIPT_BATCH = 500;

type ScriptCall = (...args: Array<string | number>) => Promise<unknown>;

export class ClusterStore extends RedisConnections {
  private readonly goneTtlMs: number;
  /** The log's bounds as every appending script takes them: "count,bytes,ageMs" (lua.ts, trim). */
  private readonly logBounds: string;
  private inFlight = 0;

  constructor(url: string, node: string, timings: ClusterTimings, log: LogLimits) {
    super(url, node, timings);
    for (const [name, script] of Object.entries(scripts)) this.commands.defineCommand(name, script);
    this.goneTtlMs = timings.goneTtlMs;
    this.logBounds = `${log.maxCount ?? LOG_MAX_LENGTH},${log.maxBytes},${log.maxAgeMs}`;
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
  async claim(
    folded: string,
    conn: string,
    name: string,
    lease: string,
    session: { id: string; hash: string },
  ): Promise<number> {
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
        session.id,
        session.hash,
        keys.prefix,
      ),
    );
  }

  async release(folded: string, conn: string): Promise<void> {
    await this.run('release', keys.names, keys.owned(this.node), folded, this.node, conn, keys.prefix);
  }

  /** Moves the session whose secret hashes to `hash` to `conn` here (a resume); null when there is none. */
  async transfer(hash: string, conn: string, lease: string): Promise<Transfer | null | 'lease gone'> {
    const reply = (await this.run(
      'transfer',
      keys.names,
      keys.lease(this.node),
      keys.owned(this.node),
      keys.seq,
      keys.log,
      keys.prefix,
      hash,
      this.node,
      conn,
      this.logBounds,
      lease,
    )) as [number, string?, string?, string?, string?, string?, string?];
    const outcome = Number(reply[0]);
    if (outcome === -1) return 'lease gone';
    if (outcome !== 1) return null;
    const [, session, name, oldNode, oldConn, joinSeq, lastSeq] = reply;
    return {
      session: session ?? '',
      name: name ?? '',
      previous: { node: oldNode ?? '', conn: oldConn ?? '' },
      joinSeq: joinSeq === undefined || joinSeq === '' ? null : Number(joinSeq),
      lastSeq: Number(lastSeq ?? 0),
    };
  }

  /** The session of `conn` lost its connection: it waits `windowMs`, here or on any node. */
  async detach(folded: string, conn: string, windowMs: number): Promise<void> {
    await this.run('detach', keys.names, keys.waiting, folded, this.node, conn, windowMs);
  }

  /** Announces the sessions whose window is over; returns how many leaves. */
  async sweepWaiting(): Promise<number> {
    let leaves = 0;
    for (;;) {
      const [announced, looked] = (await this.run(
        'sweepWaiting',
        keys.names,
        keys.seq,
        keys.log,
        keys.waiting,
        keys.prefix,
        this.logBounds,
        this.goneTtlMs,
        SCRIPT_BATCH,
      )) as [number, number];
      leaves += Number(announced);
      if (Number(looked) < SCRIPT_BATCH) return leaves;
    }
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
        this.logBounds,
      ),
    );
  }

  /**
   * The message's seq, 0 author lost its name, -1 lease gone; for a `cid` its session sent
   * before, where that first send landed (nothing is appended).
   */
  async say(
    folded: string,
    conn: string,
    text: string,
    ts: number,
    cid: string | undefined,
  ): Promise<number | { seq: number; ts: number }> {
    const reply = await this.run(
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
      this.logBounds,
      cid ?? '',
      keys.prefix,
      REMEMBERED_CIDS,
    );
    if (typeof reply === 'string') {
      const [seq, at] = reply.split('/');
      return { seq: Number(seq), ts: Number(at) };
    }
    return Number(reply);
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
      this.logBounds,
      this.goneTtlMs,
    );
  }

  /** False when the lease expired or Redis lost its data: the node must recover. */
  async refresh(lease: string): Promise<boolean> {
    return Number(await this.run('refresh', keys.lease(this.node), lease, this.timings.leaseTtlMs)) === 1;
  }

  /** `newId` names the epoch if Redis is empty, and the lease this recovery takes. */
  async recover(knownEpoch: string, newId: string, held: HeldName[]): Promise<Recovery> {
    const args = held.flatMap((h) => [
      h.folded,
      h.conn,
      h.name,
      h.joinSeq === null ? '' : String(h.joinSeq),
      h.session,
      h.hash,
      h.attached ? '1' : '0',
    ]);
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
      this.logBounds,
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
        this.logBounds,
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
  async dropNode(node: string, mustBeDead: boolean, windowMs: number): Promise<number | null> {
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
        this.logBounds,
        this.goneTtlMs,
        SCRIPT_BATCH,
        mustBeDead ? '1' : '0',
        windowMs,
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

  /** Up to `count` of the log's last entries up to `seq`, oldest first. */
  async tail(seq: number, count: number): Promise<LogEntry[]> {
    const reply = (await this.commands.call('XREVRANGE', keys.log, `${seq}-0`, '-', 'COUNT', count)) as Array<
      [string, string[]]
    >;
    return reply.map(([id, fields]) => parseLogEntry(id, fields)).reverse();
  }

  /** The last seq handed out (for ClusterNode.debugState). */
  async lastSeq(): Promise<number> {
    return Number((await this.commands.get(keys.seq)) ?? 0);
  }
}
