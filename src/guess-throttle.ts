/**
 * Wrong guesses at a secret, per client address: a few per window, then none until the
 * window has passed. Memory stays bounded: at most MAX_ADDRESSES are remembered, the one
 * remembered longest forgotten first. A guesser with many addresses (IPv6 gives plenty)
 * gets its few per address and window, so the secret must be long; this throttle makes one
 * address's guesses cost it time.
 */

/** Wrong guesses one address may make in a window. */
export const GUESSES_PER_WINDOW = 5;
export const GUESS_WINDOW_MS = 60_000;
/** Addresses remembered at once; a few hundred KB at most. */
const MAX_ADDRESSES = 10_000;

export class GuessThrottle {
  /** Address -> its wrong guesses in the window that started at `since`. In insertion order. */
  private readonly wrong = new Map<string, { since: number; count: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Ms until `address` may guess again; 0 when it may now. */
  waitFor(address: string): number {
    const entry = this.wrong.get(address);
    if (entry === undefined) return 0;
    const left = entry.since + GUESS_WINDOW_MS - this.now();
    if (left <= 0) {
      this.wrong.delete(address);
      return 0;
    }
    return entry.count >= GUESSES_PER_WINDOW ? left : 0;
  }

  /** `address` guessed wrong. */
  failed(address: string): void {
    const at = this.now();
    const entry = this.wrong.get(address);
    if (entry !== undefined && at - entry.since < GUESS_WINDOW_MS) {
      entry.count++;
      return;
    }
    this.wrong.delete(address);
    if (this.wrong.size >= MAX_ADDRESSES) this.wrong.delete(this.wrong.keys().next().value!);
    this.wrong.set(address, { since: at, count: 1 });
  }

  /** Addresses remembered now (for tests). */
  get size(): number {
    return this.wrong.size;
  }
}
