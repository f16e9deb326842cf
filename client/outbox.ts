/**
 * The messages the app asked to send that the server has not yet answered, oldest first,
 * each under its `cid`. A message stays here, also while offline, until the server's own
 * copy of it (with its `cid`) or an error settles its promise. Bounded: an app that sends
 * while the chat is unreachable for long gets a refusal instead of growing memory.
 */

/** A message waiting for its answer, as the sending side sees it. */
export interface OutgoingMessage {
  readonly cid: string;
  readonly text: string;
  /** Written to a connection at least once: the server may have it, even if unconfirmed. */
  readonly written: boolean;
}

interface Entry<Copy> extends OutgoingMessage {
  written: boolean;
  resolve(copy: Copy): void;
  reject(error: Error): void;
}

export const DEFAULT_OUTBOX_LIMIT = 100;

export class Outbox<Copy> {
  /** A Map keeps insertion order: the order the app sent in, which is the order to resend in. */
  private readonly entries = new Map<string, Entry<Copy>>();

  constructor(readonly limit: number) {
    if (!(Number.isInteger(limit) && limit >= 1))
      throw new TypeError(`outboxLimit must be a whole number ≥ 1: ${limit}`);
  }

  get size(): number {
    return this.entries.size;
  }

  get full(): boolean {
    return this.entries.size >= this.limit;
  }

  /** Keeps `text` under `cid` until it is settled. The caller checks `full` first. */
  add(cid: string, text: string): Promise<Copy> {
    if (this.full) throw new RangeError('the outbox is full');
    if (this.entries.has(cid)) throw new RangeError(`cid already waiting: ${cid}`);
    return new Promise<Copy>((resolve, reject) => {
      this.entries.set(cid, { cid, text, written: false, resolve, reject });
    });
  }

  /** The oldest message still waiting, which is the next to write. */
  first(): OutgoingMessage | undefined {
    return this.entries.values().next().value;
  }

  /** The message waiting under `cid`, if it still waits. */
  get(cid: string): OutgoingMessage | undefined {
    return this.entries.get(cid);
  }

  has(cid: string): boolean {
    return this.entries.has(cid);
  }

  markWritten(cid: string): void {
    const entry = this.entries.get(cid);
    if (entry !== undefined) entry.written = true;
  }

  /** Resolves `cid`'s promise with the server's copy; false when nothing waits under it. */
  confirm(cid: string, copy: Copy): boolean {
    const entry = this.entries.get(cid);
    if (entry === undefined) return false;
    this.entries.delete(cid);
    entry.resolve(copy);
    return true;
  }

  /** Rejects `cid`'s promise; false when nothing waits under it. */
  fail(cid: string, error: Error): boolean {
    const entry = this.entries.get(cid);
    if (entry === undefined) return false;
    this.entries.delete(cid);
    entry.reject(error);
    return true;
  }

  /** Rejects every waiting message that `which` picks (all by default), in send order. */
  failWhere(
    error: (message: OutgoingMessage) => Error,
    which: (message: OutgoingMessage) => boolean = () => true,
  ): void {
    for (const entry of [...this.entries.values()]) {
      if (which(entry)) this.fail(entry.cid, error(entry));
    }
  }
}
