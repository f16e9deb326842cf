/**
 * One server process's place in the cluster: its Redis connections, lease, log reader and
 * the names its clients hold; the registry and bus actors (redis-registry.ts, redis-bus.ts)
 * are thin adapters over it.
 *
 * Whether it may serve is the availability machine's call (availability.machine.ts, wired
 * to the node in availability.ts): it joins once Redis answers, however long that takes,
 * and only then serves; it goes unavailable when a command fails or the lease is gone,
 * and recovers (recovery.ts) every probeMs and whenever a connection is back.
 *
 * While not available, claims and messages are answered `server_unavailable` at once and
 * /readyz is 503. A write that failed, or whose fate is unknown (a timeout), is not simply
 * sent again: recovery (recovery.ts) compares what Redis says this node holds with what it
 * really holds and fixes the difference, announcing leaves that went missing. Only joins
 * are written again, and the join script knows a join that did land. A message whose
 * script timed out may have landed all the same: its author was told `server_unavailable`,
 * and it is delivered after recovery (PROTOCOL.md says so).
 */
import { randomUUID } from 'node:crypto';
import type { ChatEvent } from '../frames.js';
import type { Logger } from '../log.js';
import { foldName } from '../protocol.js';
import { Availability, type InspectOption } from './availability.js';
import type { AvailabilityState, Readiness } from './availability.machine.js';
import { EventLog, type Delivery, type PastEvent } from './event-log.js';
import { clusterTimings, LeaseKeeper, type ClusterTimings } from './lease.js';
import { Recovery, type HeldNames } from './recovery.js';
import { ClusterStore, type LogLimits } from './store.js';

export type ClaimResult = 'granted' | 'taken' | 'unavailable';

/** A resume's answer: the session, now this connection's, or why not. */
export type ResumeResult =
  | { session: string; name: string; /** The connection here that held it, if one did. */ previous: string | null }
  | 'unknown'
  | 'unavailable';

/** What a message's publication came to (see publish). */
export type Published = boolean | { duplicateOf: { seq: number; ts: number } };

/** A name held here, with the session that holds it. */
export interface HeldSession {
  name: string;
  session: string;
  hash: string;
}

export interface ClusterNodeOptions {
  redisUrl: string;
  leaseMs: number;
  /** RESUME_WINDOW_MS: every node of a cluster must use the same. */
  resumeWindowMs: number;
  /** HISTORY_SIZE: how much of the log a (re)sync hands the hub's history. */
  historySize?: number;
  /** LOG_MAX_BYTES and LOG_MAX_AGE_MS: how much of the log Redis keeps. */
  logLimits: LogLimits;
  log: Logger;
  /** `--inspect`: the availability actor is reported to the Stately inspector. */
  inspect?: InspectOption;
}

/** What a test or an operator may want to know about a node; not a stable interface. */
export interface ClusterDebugState {
  state: AvailabilityState;
  pendingScripts: number;
  /** The seq of the last event delivered to the hub, and the last one Redis handed out. */
  deliveredSeq: number;
  loggedSeq: number;
}

export class ClusterNode {
  readonly id = randomUUID().slice(0, 8);
  readonly timings: ClusterTimings;
  private readonly store: ClusterStore;
  private readonly events: EventLog;
  private readonly lease: LeaseKeeper;
  private readonly recovery: Recovery;
  private readonly log: Logger;
  private readonly availability: Availability;
  /** conn -> the name (as shown) and session, for every name held here and not given back or moved away. */
  private readonly held = new Map<string, HeldSession>();
  private readonly resumeWindowMs: number;
  /** Conns here whose connection was lost: their sessions wait for a resume. */
  private readonly detachedConns = new Set<string>();
  private onMove: (session: string) => void = () => {};
  /** Conns whose join could not be written yet; written, in order, before service resumes. */
  private readonly owedJoins = new Set<string>();
  private onRevoke: (conn: string) => void = () => {};
  /** When refusedForMemory last logged. */
  private lastMemoryWarning = -Infinity;
  /** Resolves with Redis's refusal if one ends the node before it has joined (refusal.ts); it has closed its connections. */
  readonly refused: Promise<Error>;

  constructor(options: ClusterNodeOptions) {
    this.timings = clusterTimings(options.leaseMs);
    this.resumeWindowMs = options.resumeWindowMs;
    this.log = options.log.child({ node: this.id });
    this.store = new ClusterStore(options.redisUrl, this.id, this.timings, options.logLimits);
    this.events = new EventLog(
      this.store,
      {
        whenReadable: () => this.availability.whenLogReadable(),
        lost: (reason, err) => this.availability.lost(reason, err),
        leftInLog: (conn) => this.revoke(conn),
        movedAway: (conn, session) => this.letGo(conn, session),
      },
      this.log,
      options.historySize ?? 0,
    );
    this.lease = new LeaseKeeper(
      this.store,
      this.timings,
      {
        lease: () => (this.availability.isAvailable ? this.recovery.currentLease : null),
        mayReap: () => this.availability.mayReap,
        lost: (reason, err) => this.availability.lost(reason, err),
        resumeWindowMs: this.resumeWindowMs,
      },
      this.log,
    );
    const names: HeldNames = {
      held: this.held,
      owedJoins: this.owedJoins,
      detached: this.detachedConns,
      revoke: (conn) => this.revoke(conn),
      writeJoin: (conn) => this.writeJoin(conn),
    };
    this.recovery = new Recovery(this.store, this.events, names, this.log);
    this.availability = new Availability(
      this.store,
      () => this.recovery.run(),
      this.timings,
      this.log,
      options.inspect,
    );
    for (const connection of [this.store.commands, this.store.reader]) {
      connection.on('error', (err: Error) => {
        this.log.debug({ err }, 'redis connection error');
        this.availability.failed(err);
      });
      connection.on('close', () => this.availability.lost('redis connection closed'));
      connection.on('ready', () => this.availability.ready());
    }
    void this.events.synced.then(() => this.availability.rosterDelivered());
    this.refused = this.availability.refused.then((err) => {
      this.stopWork();
      this.store.disconnect();
      return err;
    });
  }

  /**
   * Connects and joins the cluster, in the background: the log must be delivered somewhere
   * first (deliverTo, which the hub's bus calls), or the node never serves. Resolves
   * `serving` once it serves: joined, a grace in progress waited out, the roster handed to
   * the hub. Resolves `waiting` instead as soon as Redis cannot be reached (or joined): it
   * keeps trying, and serves once it can. Throws Redis's refusal (refusal.ts).
   */
  async start(): Promise<'serving' | 'waiting'> {
    this.store.connect();
    // Its timers do nothing until the node is available.
    this.lease.start();
    return this.availability.started();
  }

  /** REDIS_URL without its password. */
  get redactedUrl(): string {
    return this.store.redactedUrl;
  }

  /** Joined, available and taking claims: what /readyz reports. */
  get isServing(): boolean {
    return this.availability.isServing;
  }

  /** Where the node stands: `serving`, `starting` (not joined yet), `grace`, `unavailable` (availability.machine.ts). */
  get readiness(): Readiness {
    return this.availability.readiness;
  }

  /** Has joined the cluster once: a node still starting (grace, Redis out of reach) has not, and takes no clients. */
  get hasJoined(): boolean {
    return this.availability.hasJoined;
  }

  /** Where revoked names are reported (the registry actor). */
  onRevoked(listener: (conn: string) => void): void {
    this.onRevoke = listener;
  }

  /** Where sessions resumed on another node are reported (the registry actor). */
  onMovedAway(listener: (session: string) => void): void {
    this.onMove = listener;
  }

  /** Starts delivering the log to the hub (the bus actor), and each new start of its view with the epoch. */
  deliverTo(deliver: Delivery, reset: (seq: number, epoch: string, past: PastEvent[]) => void): void {
    this.events.start(deliver, (seq, past) => reset(seq, this.recovery.currentEpoch, past));
  }

  /** The lineage of ids (PROTOCOL.md, Sessions): Redis's, new whenever Redis starts empty. */
  get epoch(): string {
    return this.recovery.currentEpoch;
  }

  /** Resolves once the roster has been read and delivered to the hub. */
  get synced(): Promise<void> {
    return this.events.synced;
  }

  async claim(conn: string, name: string, session: string, hash: string): Promise<ClaimResult> {
    if (!this.availability.isServing) return 'unavailable';
    try {
      const result = await this.store.claim(foldName(name), conn, name, this.recovery.currentLease, {
        id: session,
        hash,
      });
      if (result === 1) {
        this.held.set(conn, { name, session, hash });
        return 'granted';
      }
      if (result === 0) return 'taken';
      if (result === -3) return 'unavailable'; // ghosts of a data loss still to be announced: soon
      this.availability.lost('lease gone');
    } catch (err) {
      if (this.refusedForMemory(err)) return 'unavailable';
      this.availability.lost('claim failed', err);
    }
    return 'unavailable';
  }

  /**
   * A resume: moves the session whose secret hashes to `hash` to `conn`, wherever it was.
   * With `since` (the client's position), answers only once this node has delivered every
   * event up to it (or as far as the log went when the session moved), so that the hub's
   * history holds everything the client may have missed.
   */
  async resume(conn: string, hash: string, since: number | null): Promise<ResumeResult> {
    if (!this.availability.isServing) return 'unavailable';
    let moved;
    try {
      moved = await this.store.transfer(hash, conn, this.recovery.currentLease);
    } catch (err) {
      this.availability.lost('resume failed', err);
      return 'unavailable';
    }
    if (moved === 'lease gone') {
      this.availability.lost('lease gone');
      return 'unavailable';
    }
    if (moved === null) return 'unknown';
    const { session, name, previous } = moved;
    const wasHere = previous.node === this.id && previous.conn !== conn;
    if (wasHere) {
      this.held.delete(previous.conn);
      this.owedJoins.delete(previous.conn);
      this.detachedConns.delete(previous.conn);
    }
    this.held.set(conn, { name, session, hash });
    if (since !== null) await this.events.reached(Math.min(since, moved.lastSeq), this.timings.leaseMs);
    return { session, name, previous: wasHere ? previous.conn : null };
  }

  /** The session of `conn` lost its connection: its window is kept in Redis too, so that it outlives this node. */
  detach(conn: string): void {
    const held = this.held.get(conn);
    if (held === undefined || this.resumeWindowMs === 0) return;
    this.detachedConns.add(conn);
    if (!this.availability.isAvailable) return;
    this.store
      .detach(foldName(held.name), conn, this.resumeWindowMs)
      .catch((err: unknown) => this.availability.lost('detach failed', err));
  }

  /** The hub gave a name back: frees it if it never joined (a joined name leaves by `publish`). */
  release(conn: string): void {
    const name = this.held.get(conn)?.name;
    if (name === undefined) return;
    this.held.delete(conn);
    this.owedJoins.delete(conn);
    this.detachedConns.delete(conn);
    if (!this.availability.isAvailable) {
      this.recovery.heldNamesChanged(); // recovery frees it
      return;
    }
    this.store.release(foldName(name), conn).catch((err: unknown) => this.availability.lost('release failed', err));
  }

  /**
   * Writes a chat event to the log; false when it could not be (the author is told), and
   * for a message whose `cid` its session sent before, where that one landed.
   */
  async publish(event: ChatEvent): Promise<Published> {
    switch (event.type) {
      case 'join':
        if (!this.availability.isAvailable) {
          this.owedJoins.add(event.from);
          return true;
        }
        try {
          if (!(await this.writeJoin(event.from))) {
            this.owedJoins.add(event.from);
            this.availability.lost('lease gone');
          }
        } catch (err) {
          this.owedJoins.add(event.from); // retried after recovery; a join that did land is not written twice
          this.availability.lost('join failed', err);
        }
        return true;
      case 'leave':
        // Not available: recovery finds the name still held in Redis and announces the leave.
        if (this.availability.isAvailable) {
          await this.store
            .leave(foldName(event.name), event.from)
            .catch((err: unknown) => this.availability.lost('leave failed', err));
        }
        return true;
      case 'message': {
        if (!this.availability.isAvailable) return false;
        try {
          const seq = await this.store.say(foldName(event.name), event.from, event.text, event.ts, event.cid);
          if (typeof seq === 'object') return { duplicateOf: seq };
          if (seq === -1) this.availability.lost('lease gone');
          return seq > 0;
        } catch (err) {
          if (!this.refusedForMemory(err)) this.availability.lost('message failed', err);
          return false;
        }
      }
    }
  }

  /** Resolves once every name this node holds has been re-asserted and service is back. */
  whenAvailable(): Promise<void> {
    return this.availability.whenAvailable();
  }

  /** Leaves the cluster: this node's names are dropped and their leaves announced now, not after a lease. */
  async close(): Promise<void> {
    const wasAvailable = this.availability.isAvailable;
    this.stopWork();
    if (wasAvailable) {
      await this.store
        .dropNode(this.id, false, this.resumeWindowMs)
        .catch((err: unknown) => this.log.warn({ err }, 'could not leave the cluster'));
    }
    await this.store.quit();
  }

  /** For tests and diagnosis: where the node stands. Not a stable interface. */
  async debugState(): Promise<ClusterDebugState> {
    const state = this.availability.state;
    const loggedSeq = state === 'closed' ? 0 : await this.store.lastSeq();
    return { state, pendingScripts: this.store.pending, deliveredSeq: this.events.seq, loggedSeq };
  }

  /** Stops the lease, the log reader and the machine; what is left is closing the connections. */
  private stopWork(): void {
    this.lease.stop();
    this.events.stop();
    this.availability.close(); // after events.stop(): the log reader, woken, sees that it must end
  }

  /** Writes the join of a held name; false when the node's lease is gone. */
  private async writeJoin(conn: string): Promise<boolean> {
    const name = this.held.get(conn)?.name;
    if (name === undefined) return true; // gone before its join could be written: nothing to announce
    const result = await this.store.join(foldName(name), conn);
    if (result === 0) this.revoke(conn);
    return result !== -1;
  }

  /**
   * Redis is full (maxmemory reached) and refused a claim or a message before it wrote
   * anything: the one client is told server_unavailable, but the connection is sound and
   * nothing needs reconciling, so the node stays available (a recovery would be refused
   * too, and /readyz would flap). Appends give up old log entries to make room (lua.ts,
   * nextSeq), so this lasts only while something other than the log fills Redis.
   * Logged at most once a lease.
   */
  private refusedForMemory(err: unknown): boolean {
    // Redis 7 answers "OOM command not allowed…"; 5 and 6 wrap a script's error in their own words.
    if (!(err instanceof Error) || !err.message.includes('OOM command not allowed')) return false;
    const now = Date.now();
    if (now - this.lastMemoryWarning >= this.timings.leaseMs) {
      this.lastMemoryWarning = now;
      this.log.warn({ err: err.message }, 'redis is out of memory (maxmemory): refusing claims and messages');
    }
    return true;
  }

  /** A connection elsewhere resumed the session of `conn`: it is no longer this node's to hold or announce. */
  private letGo(conn: string, session: string): void {
    this.held.delete(conn);
    this.owedJoins.delete(conn);
    this.detachedConns.delete(conn);
    this.onMove(session);
  }

  /** A client's name is no longer its own: forget it and have the hub close the client. */
  private revoke(conn: string): void {
    if (!this.held.delete(conn)) return;
    this.owedJoins.delete(conn);
    this.detachedConns.delete(conn);
    this.log.info({ conn }, 'name lost during an outage');
    this.onRevoke(conn);
  }
}
