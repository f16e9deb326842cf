/**
 * The node's reader of the shared log: one XREAD loop that hands every join, message and
 * leave to the hub in the log's order, the node's own events included. Nothing is
 * delivered on publication; the origin hears its own events when everyone does.
 *
 * It keeps the roster as the log has it (who holds each online name), which is exactly the
 * hub's roster: at start, and whenever it finds a hole in the log (trimmed away while it
 * was cut off), it reads the roster from Redis and delivers the difference as joins and
 * leaves, so that the hub's roster and every welcome agree with the cluster's.
 */
import type { ChatEvent } from '../frames.js';
import type { Logger } from '../log.js';
import { foldName } from '../protocol.js';
import type { ClusterStore, LogEntry, NameEntry } from './store.js';

/** Longest XREAD wait; the loop also ends at once when the reader is disconnected. */
const BLOCK_MS = 2_000;
/** Entries per XREAD: enough to catch up quickly after a pause, small enough to stay fair. */
const READ_BATCH = 1_000;

export type Delivery = (event: ChatEvent, seq: number, ts: number) => void;

/** One event of the log as the hub's history keeps it. */
export interface PastEvent {
  event: ChatEvent;
  seq: number;
  ts: number;
}

/**
 * The node's view of the log starts again at `seq` (at start, after a hole, after Redis lost
 * its data): what the hub's history held cannot be vouched for, and `past` (the log's last
 * events up to `seq`) is what it may hold instead.
 */
export type Reset = (seq: number, past: PastEvent[]) => void;

export interface Holder {
  name: string;
  node: string;
  conn: string;
  joinSeq: number;
}

export interface LogHooks {
  /** Resolves once the log may be read: the node is available, and past the grace of its first join. */
  whenReadable(): Promise<void>;
  /** Reading failed: an outage as far as the node is concerned. */
  lost(reason: string, err?: unknown): void;
  /** The log announced the leave of one of this node's clients: whoever wrote it, it is gone. */
  leftInLog(conn: string): void;
  /** A connection on another node resumed the session of this node's `conn`. */
  movedAway(conn: string, session: string): void;
}

export class EventLog {
  /** Folded name -> its holder, in join order: the hub's roster with owners attached. */
  private readonly roster = new Map<string, Holder>();
  private position = '0-0';
  private lastSeq = 0;
  /** True when the next entry may legitimately skip ahead (a fresh or emptied Redis). */
  private expectJump = true;
  private needsSnapshot = true;
  /** The history must start again before the next delivery (Redis lost its data). */
  private needsReset = false;
  private reset: Reset = () => {};
  private closed = false;
  private markSynced: () => void = () => {};
  /** Resumes waiting for this node to deliver up to a seq (see reached). */
  private waiters: Array<{ seq: number; done: () => void }> = [];
  /** Resolves once the first roster has been delivered. */
  readonly synced = new Promise<void>((resolve) => (this.markSynced = resolve));

  constructor(
    private readonly store: ClusterStore,
    private readonly hooks: LogHooks,
    private readonly log: Logger,
    /** How many of the log's last events a (re)sync hands the hub's history (HISTORY_SIZE). */
    private readonly historySize = 0,
  ) {}

  /** The seq of the last event delivered. */
  get seq(): number {
    return this.lastSeq;
  }

  /**
   * Resolves once every event up to `seq` has been delivered here, or after `limitMs` (a
   * node cut off from Redis must not hold a resume forever; the hub's history then says
   * what it can vouch for).
   */
  reached(seq: number, limitMs: number): Promise<void> {
    if (this.lastSeq >= seq || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, limitMs);
      const waiter = { seq, done };
      this.waiters.push(waiter);
      function done() {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  /** Starts reading; every event goes to `deliver`, in order, and every new start of the view to `reset`. */
  start(deliver: Delivery, reset: Reset = () => {}): void {
    this.reset = reset;
    void this.loop(deliver);
  }

  stop(): void {
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) waiter.done();
  }

  private wakeWaiters(): void {
    if (this.waiters.length === 0) return;
    const still = [];
    for (const waiter of this.waiters) {
      if (waiter.seq <= this.lastSeq) waiter.done();
      else still.push(waiter);
    }
    this.waiters = still;
  }

  /** Redis lost its data: the log starts over, with seqs above every earlier one. */
  startOver(): void {
    this.position = '0-0';
    this.expectJump = true;
    this.needsReset = true;
  }

  /** The roster cannot be trusted (Redis lost its data and this node came back late): read it again. */
  reread(): void {
    this.needsSnapshot = true;
  }

  /** The roster as name entries, for the ghost hints after Redis lost its data. */
  rosterEntries(): NameEntry[] {
    return [...this.roster].map(([folded, holder]) => ({ folded, ...holder }));
  }

  /** The seq at which this node's client `conn` joined under `folded`, if the log says it did. */
  joinSeqOf(folded: string, node: string, conn: string): number | null {
    const holder = this.roster.get(folded);
    return holder !== undefined && holder.node === node && holder.conn === conn ? holder.joinSeq : null;
  }

  private async loop(deliver: Delivery): Promise<void> {
    while (!this.closed) {
      await this.hooks.whenReadable();
      if (this.closed) return;
      try {
        if (this.needsSnapshot) {
          await this.resync(deliver);
          continue;
        }
        if (this.needsReset) {
          this.needsReset = false;
          this.reset(this.lastSeq, []);
        }
        const entries = await this.store.read(this.position, BLOCK_MS, READ_BATCH);
        for (const entry of entries) {
          if (this.closed || !this.apply(entry, deliver)) break;
        }
        this.wakeWaiters();
      } catch (err) {
        if (!this.closed) this.hooks.lost('reading the log failed', err);
      }
    }
  }

  /** Delivers one entry; false when it reveals a hole in the log (then a resync is due). */
  private apply(entry: LogEntry, deliver: Delivery): boolean {
    if (entry.seq <= this.lastSeq) return true; // read twice (after a restart from the top)
    if (!this.expectJump && entry.seq !== this.lastSeq + 1) {
      this.log.warn({ after: this.lastSeq, next: entry.seq }, 'hole in the log; reading the roster again');
      this.needsSnapshot = true;
      return false;
    }
    this.expectJump = false;
    this.lastSeq = entry.seq;
    this.position = `${entry.seq}-0`;
    const from = this.fromOf(entry.node, entry.conn);
    const session = entry.session === '' ? from : entry.session;
    switch (entry.kind) {
      case 'r': {
        // Not a chat event: the session keeps its name, and clients hear nothing of it.
        const folded = foldName(entry.name);
        const holder = this.roster.get(folded);
        if (holder !== undefined) this.roster.set(folded, { ...holder, node: entry.node, conn: entry.conn });
        const slash = entry.previous.indexOf('/');
        const [oldNode, oldConn] = [entry.previous.slice(0, slash), entry.previous.slice(slash + 1)];
        if (oldNode === this.store.node && entry.node !== this.store.node) this.hooks.movedAway(oldConn, entry.session);
        return true;
      }
      case 'j':
        this.roster.set(foldName(entry.name), {
          name: entry.name,
          node: entry.node,
          conn: entry.conn,
          joinSeq: entry.seq,
        });
        deliver({ type: 'join', name: entry.name, from, session }, entry.seq, entry.ts);
        return true;
      case 'l': {
        // The hub forgets a leaving name by the name as shown; so does this copy of its roster.
        const folded = foldName(entry.name);
        if (this.roster.get(folded)?.name === entry.name) this.roster.delete(folded);
        deliver({ type: 'leave', name: entry.name, from, session }, entry.seq, entry.ts);
        if (entry.node === this.store.node) this.hooks.leftInLog(entry.conn);
        return true;
      }
      case 'm': {
        const message: ChatEvent = { type: 'message', name: entry.name, from, session, text: entry.text, ts: entry.ts };
        if (entry.cid !== undefined) message.cid = entry.cid;
        deliver(message, entry.seq, entry.ts);
        return true;
      }
    }
  }

  /** Reads the roster from Redis and delivers how it differs from the one the hub has. */
  private async resync(deliver: Delivery): Promise<void> {
    const { seq, names } = await this.store.snapshot();
    const tail = this.historySize > 0 && seq > 0 ? await this.store.tail(seq, this.historySize) : [];
    const past: PastEvent[] = [];
    for (const entry of tail) {
      const event = this.chatEventOf(entry);
      if (event !== null) past.push({ event, seq: entry.seq, ts: entry.ts });
    }
    this.needsReset = false;
    this.reset(seq, past);
    const online = names.filter((entry) => entry.joinSeq !== null).sort((a, b) => a.joinSeq! - b.joinSeq!);
    const current = new Map(online.map((entry) => [entry.folded, entry]));
    for (const [folded, holder] of this.roster) {
      const now = current.get(folded);
      if (now !== undefined && now.node === holder.node && now.conn === holder.conn) continue;
      this.roster.delete(folded);
      const from = this.fromOf(holder.node, holder.conn);
      deliver({ type: 'leave', name: holder.name, from, session: from }, seq, Date.now());
      if (holder.node === this.store.node) this.hooks.leftInLog(holder.conn);
    }
    for (const entry of online) {
      if (this.roster.has(entry.folded)) continue;
      this.roster.set(entry.folded, { name: entry.name, node: entry.node, conn: entry.conn, joinSeq: entry.joinSeq! });
      const from = this.fromOf(entry.node, entry.conn);
      deliver({ type: 'join', name: entry.name, from, session: from }, seq, Date.now());
    }
    this.lastSeq = Math.max(this.lastSeq, seq);
    this.position = `${seq}-0`;
    // An empty Redis hands out its first seq from the clock, far past 0.
    this.expectJump = seq === 0;
    this.needsSnapshot = false;
    this.markSynced();
  }

  /** A join, message or leave of the log as the hub hears it; null for a session's move. */
  private chatEventOf(entry: LogEntry): ChatEvent | null {
    const from = this.fromOf(entry.node, entry.conn);
    const session = entry.session === '' ? from : entry.session;
    switch (entry.kind) {
      case 'j':
        return { type: 'join', name: entry.name, from, session };
      case 'l':
        return { type: 'leave', name: entry.name, from, session };
      case 'm': {
        const message: ChatEvent = { type: 'message', name: entry.name, from, session, text: entry.text, ts: entry.ts };
        if (entry.cid !== undefined) message.cid = entry.cid;
        return message;
      }
      case 'r':
        return null;
    }
  }

  /** The hub knows its own connections by id; another node's are prefixed so ids never clash. */
  private fromOf(node: string, conn: string): string {
    return node === this.store.node ? conn : `${node}/${conn}`;
  }
}
