/**
 * A table of per-address state that stays bounded without a timer per address.
 *
 *   get(key) ──▶ busy entry ──settle(): holds nothing──▶ idle until `idleUntil` ──▶ forgotten
 *                    ▲                                        │ (swept by later calls,
 *                    └──────────── get(key) again ◀───────────┘  oldest idle first)
 *
 * An entry that holds nothing (no connection, no name) is kept only until its state is
 * again what a new entry's would be (its buckets refilled, its log period over): forgetting
 * it earlier would hand an offender fresh buckets. Idle entries wait in the order they
 * became idle; each call forgets a few whose time has come, and past `maxIdle` the oldest
 * goes early. So every call costs O(1), and the table holds the busy entries (bounded by
 * the connections and names they hold) plus at most `maxIdle`.
 *
 * Pure: time comes in as an argument.
 */

/** Idle entries one call forgets at most: enough to keep up, few enough to keep a call short. */
const SWEEP_PER_CALL = 4;

export interface AddressBookOptions<Entry> {
  /** A new entry, as an address that has never been seen gets. */
  fresh: (now: number) => Entry;
  /** null while the entry holds something; else when it may be forgotten (it equals a fresh one then). */
  idleUntil: (entry: Entry) => number | null;
  /** Idle entries kept at most; past it the oldest is forgotten early. */
  maxIdle: number;
}

export class AddressBook<Entry> {
  private readonly entries = new Map<string, Entry>();
  /** Idle entries' keys -> when each may be forgotten, in the order they became idle. */
  private readonly idle = new Map<string, number>();

  constructor(private readonly options: AddressBookOptions<Entry>) {}

  /** The entry of `key`, new if there is none; it is busy until `settle` finds it holds nothing. */
  get(key: string, now: number): Entry {
    this.sweep(now);
    this.idle.delete(key);
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = this.options.fresh(now);
      this.entries.set(key, entry);
    }
    return entry;
  }

  /** The entry of `key` if there is one; nothing changes. */
  find(key: string): Entry | undefined {
    return this.entries.get(key);
  }

  /** Call after changing `key`'s entry: if it now holds nothing, it becomes idle. */
  settle(key: string, now: number): void {
    const entry = this.entries.get(key);
    if (entry !== undefined) {
      const until = this.options.idleUntil(entry);
      this.idle.delete(key);
      if (until !== null) this.idle.set(key, until);
    }
    this.sweep(now);
  }

  /** Entries held, busy and idle. */
  get size(): number {
    return this.entries.size;
  }

  /** In a snapshot (logs, the inspector): how many addresses, not which. */
  toJSON(): { addresses: number } {
    return { addresses: this.entries.size };
  }

  private sweep(now: number): void {
    let forgotten = 0;
    for (const [key, until] of this.idle) {
      const overfull = this.idle.size > this.options.maxIdle;
      if (!overfull && (until > now || forgotten >= SWEEP_PER_CALL)) break;
      this.idle.delete(key);
      this.entries.delete(key);
      forgotten++;
    }
  }
}
