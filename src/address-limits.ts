/**
 * Per client address (SPEC §5): the connections it holds and may open. What admission
 * checks before a WebSocket handshake, and the message bucket an address's connections share.
 *
 *   upgrade ─▶ admit(key): connects per second? ── no ─▶ 429
 *                          open < max? unregistered < max? ── no ─▶ 503
 *                          └─▶ counted: open+1, unregistered+1
 *   welcome (or resume) ─▶ registered(key): unregistered-1
 *   socket closed, or the handshake failed ─▶ closed(key, registered)
 *
 * An IPv6 key (a /64) is counted twice: for itself, and for its /48, which holds
 * IPV6_SITE_SHARES times the open and unregistered limits for all its /64s together.
 *
 * Names held and registrations per minute are the hub's to count (src/address-names.ts):
 * only the hub knows which names, sessions in their window included, an address holds.
 *
 * Pure: time comes in as an argument; the caller keeps it one clock (Date.now()).
 */
import { AddressBook } from './address-book.js';
import { IPV6_SITE_SHARES, siteKey } from './client-address.js';
import { fullAt, fullBucket, isOverLimit, spendToken, type RateLimit, type TokenBucket } from './rate-limit.js';

/** Every per-address limit, as metrics label them and logs name them. */
export const ADDRESS_LIMITS = [
  'connections',
  'unregistered',
  'connects',
  'names',
  'registrations',
  'messages',
] as const;
export type AddressLimit = (typeof ADDRESS_LIMITS)[number];

/** An offender is logged once per limit and period, however often it hits the limit. */
export const LOG_PERIOD_MS = 60_000;

/** Idle addresses remembered at most (about 300 bytes of heap each, measured); an attacker's many addresses cannot grow the table past it. */
export const MAX_IDLE_ADDRESSES = 10_000;

/** The settings (0: that limit is off). */
export interface AddressLimitSettings {
  maxConnections: number;
  maxUnregistered: number;
  connectBurst: number;
  connectsPerSec: number;
  /** Messages per second across all of an address's connections (token bucket). */
  rateBurst: number;
  ratePerSec: number;
}

interface AddressState {
  /** WebSockets open, and handshakes under way. */
  open: number;
  /** Of those, the ones not (yet) registered. */
  unregistered: number;
  connects: TokenBucket;
  /** Shared by every connection of the address: they spend from it in place (connection.machine.ts). */
  messages: TokenBucket;
  /** When each limit was last logged for this address. */
  logged: Partial<Record<AddressLimit, number>>;
}

export class AddressLimits {
  private readonly book: AddressBook<AddressState>;
  private readonly connectRate: RateLimit;
  readonly messageRate: RateLimit;

  constructor(private readonly settings: AddressLimitSettings) {
    this.connectRate = { burst: settings.connectBurst, perSec: settings.connectsPerSec };
    this.messageRate = { burst: settings.rateBurst, perSec: settings.ratePerSec };
    this.book = new AddressBook({
      fresh: (now) => ({
        open: 0,
        unregistered: 0,
        connects: fullBucket(this.connectRate, now),
        messages: fullBucket(this.messageRate, now),
        logged: {},
      }),
      idleUntil: (state) => {
        if (state.open > 0) return null;
        let logQuiet = 0;
        for (const at of Object.values(state.logged)) logQuiet = Math.max(logQuiet, (at as number) + LOG_PERIOD_MS);
        return Math.max(fullAt(state.connects, this.connectRate), fullAt(state.messages, this.messageRate), logQuiet);
      },
      maxIdle: MAX_IDLE_ADDRESSES,
    });
  }

  /**
   * A new connection from `key`: null when it may open (then it is counted, unregistered,
   * until `registered` and `closed`), else the limit that refuses it.
   */
  admit(key: string, now: number): AddressLimit | null {
    const state = this.book.get(key, now);
    const site = siteKey(key);
    const siteState = site === null ? null : this.book.get(site, now);
    const refusal = this.refusal(state, now) ?? (siteState === null ? null : this.siteRefusal(siteState));
    if (refusal === null) {
      for (const counted of siteState === null ? [state] : [state, siteState]) {
        counted.open++;
        counted.unregistered++;
      }
    }
    this.book.settle(key, now);
    if (site !== null) this.book.settle(site, now);
    return refusal;
  }

  /** An IPv6 /48's own limits, for all its /64s together. */
  private siteRefusal(site: AddressState): AddressLimit | null {
    const { maxConnections, maxUnregistered } = this.settings;
    if (maxConnections > 0 && site.open >= maxConnections * IPV6_SITE_SHARES) return 'connections';
    if (maxUnregistered > 0 && site.unregistered >= maxUnregistered * IPV6_SITE_SHARES) return 'unregistered';
    return null;
  }

  private refusal(state: AddressState, now: number): AddressLimit | null {
    // Every attempt spends a connect, refused or not: hammering a full address is itself too fast.
    if (isOverLimit(state.connects, this.connectRate, now)) return 'connects';
    state.connects = spendToken(state.connects, this.connectRate, now);
    const { maxConnections, maxUnregistered } = this.settings;
    if (maxConnections > 0 && state.open >= maxConnections) return 'connections';
    if (maxUnregistered > 0 && state.unregistered >= maxUnregistered) return 'unregistered';
    return null;
  }

  /** A connection of `key` registered (or resumed) for the first time. */
  registered(key: string, now: number): void {
    for (const counted of withSite(key)) {
      const state = this.book.get(counted, now);
      state.unregistered = Math.max(0, state.unregistered - 1);
      this.book.settle(counted, now);
    }
  }

  /** A connection of `key` closed (or its handshake failed); `registered`: whether it had registered. */
  closed(key: string, registered: boolean, now: number): void {
    for (const counted of withSite(key)) {
      const state = this.book.get(counted, now);
      state.open = Math.max(0, state.open - 1);
      if (!registered) state.unregistered = Math.max(0, state.unregistered - 1);
      this.book.settle(counted, now);
    }
  }

  /** The bucket `key`'s connections share for messages (while one is open, always the same object). */
  messageBucket(key: string, now: number): TokenBucket {
    const bucket = this.book.get(key, now).messages;
    this.book.settle(key, now);
    return bucket;
  }

  /** Whether `key` hitting `limit` now should be logged: once per LOG_PERIOD_MS and limit. */
  shouldLog(key: string, limit: AddressLimit, now: number): boolean {
    // An IPv6 /64 logs as its /48: a /48 refused as a whole could otherwise log once per /64.
    const logKey = siteKey(key) ?? key;
    const state = this.book.get(logKey, now);
    const last = state.logged[limit];
    const log = last === undefined || now - last >= LOG_PERIOD_MS;
    if (log) state.logged[limit] = now;
    this.book.settle(logKey, now);
    return log;
  }

  /** Addresses remembered now (busy and idle). */
  get size(): number {
    return this.book.size;
  }
}

/** The keys a connection of `key` is counted under: itself, and its /48 if it is an IPv6 /64. */
function withSite(key: string): string[] {
  const site = siteKey(key);
  return site === null ? [key] : [key, site];
}
