/**
 * What the chat said lately, for resumes and for `history` on arrival: the last joins,
 * messages and leaves this server delivered, in delivery order, bounded by count and by
 * bytes (HISTORY_SIZE, HISTORY_BYTES).
 *
 * It is filled from the hub's own deliveries, so a replay taken from it and the live
 * frames after it meet at an exact position: nothing can be delivered between the two.
 * In a cluster every node delivers every event, so every node's history is the same.
 */
import type { ChatFrame } from '../src/frames.js';

export interface HistoryEntry {
  seq: number;
  /** The frame every other member received. */
  frame: ChatFrame;
  /** The session it is about, whose own copy of a message differs. */
  session: string;
  cid: string | undefined;
}

export interface HistoryLimits {
  maxEntries: number;
  maxBytes: number;
}

/**
 * What one entry is taken to hold, in bytes: its strings at two bytes a code unit, plus the
 * objects around them. An estimate that errs high, so the bound holds in the heap.
 */
const ENTRY_OVERHEAD_BYTES = 320;

export function entryBytes(entry: HistoryEntry): number {
  const { frame } = entry;
  const name = frame.type === 'message' ? (frame.sender ?? '') : frame.name;
  return ENTRY_OVERHEAD_BYTES + 2 * (frame.text.length + name.length + entry.session.length + (entry.cid?.length ?? 0));
}

export class History {
  /** Entries from `start` on are live; the array is compacted when half of it is dead. */
  private entries: HistoryEntry[] = [];
  private start = 0;
  private totalBytes = 0;
  /** History holds every event after this seq (up to `last`). */
  private floor: number;
  private last: number;

  constructor(
    private readonly limits: HistoryLimits,
    /** The position it starts at: what came before is not held. */
    from = 0,
  ) {
    this.floor = from;
    this.last = from;
  }

  get size(): number {
    return this.entries.length - this.start;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** The seq of the last event delivered. */
  get lastSeq(): number {
    return this.last;
  }

  /**
   * Keeps one delivered event. An event at or before the last one is not kept: a cluster
   * node that re-read the roster announces what changed at the position it read it at,
   * which is no event of the log.
   */
  add(entry: HistoryEntry): void {
    if (entry.seq <= this.last) return;
    this.last = entry.seq;
    if (this.limits.maxEntries === 0) {
      this.floor = entry.seq;
      return;
    }
    this.entries.push(entry);
    this.totalBytes += entryBytes(entry);
    while (this.size > this.limits.maxEntries || (this.totalBytes > this.limits.maxBytes && this.size > 0)) {
      const oldest = this.entries[this.start]!;
      this.entries[this.start++] = undefined as unknown as HistoryEntry;
      this.totalBytes -= entryBytes(oldest);
      this.floor = oldest.seq;
    }
    if (this.start > 64 && this.start * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.start);
      this.start = 0;
    }
  }

  /**
   * Every event after `seq`, in order; null when history cannot say: it no longer reaches
   * back that far, or `seq` is past anything delivered here.
   */
  after(seq: number): HistoryEntry[] | null {
    if (seq < this.floor || seq > this.last) return null;
    let first = this.entries.length;
    while (first > this.start && this.entries[first - 1]!.seq > seq) first--;
    return this.entries.slice(first);
  }

  /** The last `count` messages, oldest first. */
  lastMessages(count: number): HistoryEntry[] {
    const found: HistoryEntry[] = [];
    for (let i = this.entries.length - 1; i >= this.start && found.length < count; i--) {
      const entry = this.entries[i]!;
      if (entry.frame.type === 'message') found.push(entry);
    }
    return found.reverse();
  }

  /** Everything up to `seq` is accounted for (the rest of it were no chat events). */
  advanceTo(seq: number): void {
    this.last = Math.max(this.last, seq);
  }

  /** Events were missed (cluster mode, a hole in the log): nothing before `seq` can be vouched for. */
  restartAt(seq: number): void {
    this.entries = [];
    this.start = 0;
    this.totalBytes = 0;
    this.floor = seq;
    this.last = seq;
  }

  /** What inspection and logs show: the shape, not the chat. */
  toJSON(): { size: number; bytes: number; floor: number; last: number } {
    return { size: this.size, bytes: this.totalBytes, floor: this.floor, last: this.last };
  }
}
