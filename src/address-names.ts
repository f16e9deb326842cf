/**
 * Per client address (SPEC §5): the names it holds and how fast it registers. The hub
 * keeps one of these in its context and counts as it decides, so no count is ever a scan:
 *
 *   claim asked ─▶ claim(key): registrations left? names held < max? ─▶ held+1 (or refused)
 *   name refused, released before use, session ended ─▶ release(key): held-1
 *   (a claim cluster mode could not decide, server_unavailable, is no registration either)
 *   session resumed from another address ─▶ release(old) and hold(new)
 *
 * A name counts from its claim until its session ends, so a session waiting in its resume
 * window still holds its name (and a claim still on its way to the registry already does).
 *
 * Pure: time comes in as an argument.
 */
import { AddressBook } from './address-book.js';
import { fullAt, fullBucket, isOverLimit, spendToken, type RateLimit, type TokenBucket } from './rate-limit.js';
import { MAX_IDLE_ADDRESSES } from './address-limits.js';

export interface AddressNameSettings {
  /** Names an address may hold at once, sessions waiting for a resume included (0: no limit). */
  maxNames: number;
  /** Names an address may claim per minute, in a burst of as many (0: no limit). */
  registrationsPerMin: number;
}

/** No limits: what a hub started without any (machine tests) uses. */
export const noAddressNameLimits: AddressNameSettings = { maxNames: 0, registrationsPerMin: 0 };

interface Holder {
  held: number;
  registrations: TokenBucket;
}

export class AddressNames {
  private readonly book: AddressBook<Holder>;
  private readonly rate: RateLimit;

  constructor(private readonly settings: AddressNameSettings) {
    this.rate = { burst: settings.registrationsPerMin, perSec: settings.registrationsPerMin / 60 };
    this.book = new AddressBook({
      fresh: (now) => ({ held: 0, registrations: fullBucket(this.rate, now) }),
      idleUntil: (holder) => (holder.held > 0 ? null : fullAt(holder.registrations, this.rate)),
      maxIdle: MAX_IDLE_ADDRESSES,
    });
  }

  /**
   * `key` claims a name at `now`: null when it may (the name counts as held from now),
   * else the limit that refuses it.
   */
  claim(key: string, now: number): 'registrations' | 'names' | null {
    const holder = this.book.get(key, now);
    const refusal = this.refusal(holder, now);
    if (refusal === null) {
      holder.registrations = spendToken(holder.registrations, this.rate, now);
      holder.held++;
    }
    this.book.settle(key, now);
    return refusal;
  }

  private refusal(holder: Holder, now: number): 'registrations' | 'names' | null {
    if (isOverLimit(holder.registrations, this.rate, now)) return 'registrations';
    if (this.settings.maxNames > 0 && holder.held >= this.settings.maxNames) return 'names';
    return null;
  }

  /** `key` holds one more name without claiming it: a session resumed from it. Never refused. */
  hold(key: string, now: number): void {
    this.book.get(key, now).held++;
    this.book.settle(key, now);
  }

  /**
   * `key` holds one name fewer. `unmade`: the claim was never decided (cluster mode, the
   * shared store away), so it does not count as a registration either.
   */
  release(key: string, now: number, unmade = false): void {
    const holder = this.book.find(key);
    if (holder === undefined) return;
    holder.held = Math.max(0, holder.held - 1);
    if (unmade) {
      const { tokens, at } = holder.registrations;
      holder.registrations = { tokens: Math.min(this.rate.burst, tokens + 1), at };
    }
    this.book.settle(key, now);
  }

  /** Names `key` holds now. */
  held(key: string): number {
    return this.book.find(key)?.held ?? 0;
  }

  /** Addresses remembered now. */
  get size(): number {
    return this.book.size;
  }

  /** In a snapshot: how many addresses, not which. */
  toJSON(): { addresses: number } {
    return { addresses: this.book.size };
  }
}
