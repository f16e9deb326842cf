/**
 * The feed behind the /inspect page: lifecycle entries (opened, joined, left with its cause,
 * resumed, a session ended with its cause, errors by code, closed, crashed) and live counts
 * per state of the connection and session machines, streamed to each viewer as server-sent
 * events. Never message text, and never a session's secret: no entry carries either.
 *
 * Entries are batched: whatever happens within FLUSH_MS goes out as one update, so a burst
 * of thousands of joins costs each viewer a handful of writes, and with no viewer nothing
 * is sent or counted beyond a short history for the next one to open the page.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorCode, LeaveCause, SessionEndCause } from './errors.js';

export type LifecycleEntry =
  | { kind: 'opened'; conn: string }
  | { kind: 'joined'; conn: string; name: string }
  | { kind: 'left'; conn: string; name: string; cause: LeaveCause }
  | { kind: 'resumed'; conn: string; name: string; recovered: boolean; replayed: number }
  | { kind: 'ended'; name: string; cause: SessionEndCause }
  | { kind: 'error'; conn: string; name: string | null; code: ErrorCode }
  | { kind: 'closed'; conn: string; code: number }
  | { kind: 'crashed'; conn: string };

export type StampedEntry = LifecycleEntry & { at: number };

/** One server-sent event, as the page reads it (web/inspect.ts mirrors this shape). */
export interface LiveUpdate {
  /** true on the first update a viewer gets: replace, don't append. */
  reset: boolean;
  /** Open connections per state path, e.g. `awaitingName.claiming`. */
  states: Record<string, number>;
  /** Running sessions per state path: `attached`, `detached`. */
  sessions: Record<string, number>;
  /** Since start: connections opened and closed, names granted, sessions resumed and ended. */
  totals: { opened: number; joined: number; closed: number; resumed: number; ended: number };
  errors: Record<string, number>;
  leaves: Record<string, number>;
  /** Sessions ended, by cause (`expired`, `evicted`, or how the last connection ended). */
  ends: Record<string, number>;
  entries: StampedEntry[];
  /** Entries left out of this update because too many came at once. */
  skipped: number;
}

const FLUSH_MS = 100;
/** History a newly opened page starts with. */
const RECENT = 100;
/** Most entries in one update; the rest are counted in `skipped`. */
const MAX_BATCH = 200;
const MAX_VIEWERS = 16;
/** One client address's share of the viewers' places, so that no one address can take them all. */
export const MAX_VIEWERS_PER_ADDRESS = 4;
/** A viewer this far behind is dropped; its browser reconnects and starts afresh. */
const MAX_VIEWER_BACKLOG = 512 * 1024;

export class LiveView {
  private readonly recent: StampedEntry[] = [];
  private pending: StampedEntry[] = [];
  private skipped = 0;
  private readonly viewers = new Set<ServerResponse>();
  /** Open streams per client address; an address with none is not kept. */
  private readonly perAddress = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private readonly totals = { opened: 0, joined: 0, closed: 0, resumed: 0, ended: 0 };
  private readonly errors: Record<string, number> = {};
  private readonly leaves: Record<string, number> = {};
  private readonly ends: Record<string, number> = {};

  /** @param count open connections and running sessions per state path, each read once per update */
  constructor(
    private readonly count: { connections: () => Record<string, number>; sessions: () => Record<string, number> },
  ) {}

  record(entry: LifecycleEntry): void {
    const stamped = { ...entry, at: Date.now() };
    this.tally(stamped);
    this.recent.push(stamped);
    if (this.recent.length > RECENT) this.recent.shift();
    if (this.viewers.size === 0) return;
    if (this.pending.length < MAX_BATCH) this.pending.push(stamped);
    else this.skipped++;
    this.timer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  /**
   * Answers GET (and HEAD) /inspect/events, for a request already authorised. False (nothing
   * written) when there are too many viewers, or too many from `address` (the client's).
   */
  addViewer(req: IncomingMessage, res: ServerResponse, address: string): boolean {
    const fromAddress = this.perAddress.get(address) ?? 0;
    if (this.viewers.size >= MAX_VIEWERS || fromAddress >= MAX_VIEWERS_PER_ADDRESS) return false;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    // HEAD asks for the headers alone: Node drops a HEAD's body writes and would never end
    // the stream, so the client would hang and hold a viewer's place for as long as it stays.
    if (req.method === 'HEAD') {
      res.end();
      return true;
    }
    res.write('retry: 1000\n\n');
    this.viewers.add(res);
    this.perAddress.set(address, fromAddress + 1);
    req.socket.setNoDelay(true);
    req.socket.setTimeout(0); // a quiet chat sends nothing for a while: not an idle socket
    res.on('close', () => {
      this.viewers.delete(res);
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.perAddress.set(address, left);
      else this.perAddress.delete(address);
    });
    this.send(res, this.update(true, this.recent, 0));
    return true;
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  /** Ends every viewer's stream and stops the timer. */
  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    for (const res of this.viewers) res.end();
    this.viewers.clear();
  }

  private flush(): void {
    this.timer = null;
    const update = this.update(false, this.pending, this.skipped);
    this.pending = [];
    this.skipped = 0;
    for (const res of this.viewers) this.send(res, update);
  }

  private update(reset: boolean, entries: StampedEntry[], skipped: number): string {
    const update: LiveUpdate = {
      reset,
      states: this.count.connections(),
      sessions: this.count.sessions(),
      totals: this.totals,
      errors: this.errors,
      leaves: this.leaves,
      ends: this.ends,
      entries,
      skipped,
    };
    // JSON.stringify escapes newlines, so one `data:` line always holds the whole update.
    return `data: ${JSON.stringify(update)}\n\n`;
  }

  private send(res: ServerResponse, data: string): void {
    if (res.writableLength > MAX_VIEWER_BACKLOG) {
      this.viewers.delete(res);
      res.destroy();
      return;
    }
    res.write(data);
  }

  private tally(entry: StampedEntry): void {
    switch (entry.kind) {
      case 'opened':
        this.totals.opened++;
        return;
      case 'joined':
        this.totals.joined++;
        return;
      case 'closed':
        this.totals.closed++;
        return;
      case 'left':
        this.leaves[entry.cause] = (this.leaves[entry.cause] ?? 0) + 1;
        return;
      case 'error':
        this.errors[entry.code] = (this.errors[entry.code] ?? 0) + 1;
        return;
      case 'resumed':
        this.totals.resumed++;
        return;
      case 'ended':
        this.totals.ended++;
        this.ends[entry.cause] = (this.ends[entry.cause] ?? 0) + 1;
        return;
      case 'crashed':
        return;
    }
  }
}
