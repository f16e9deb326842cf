/**
 * The rules every connection follows: the configurable ones (config.ts reads them from the
 * environment and flags) and the fixed ones the protocol sets (PROTOCOL.md).
 */

/** Per-connection rules, shared by reference between every connection of one server. */
export interface ConnectionLimits {
  nameMaxLength: number;
  textMaxLength: number;
  registerTimeoutMs: number;
  heartbeatMs: number;
  /** Token bucket; a burst or rate of 0 turns rate limiting off. */
  rateBurst: number;
  ratePerSec: number;
  /** Token bucket shared by all the connections of one client address (0: off). */
  addressRateBurst: number;
  addressRatePerSec: number;
  /** Refused names (invalid or taken) before the connection is closed. */
  maxRefusals: number;
  /** Bad frames before the connection is closed. */
  maxBadFrames: number;
}

/** Rules every connection follows beyond the settings: the protocol fixes these numbers (PROTOCOL.md). */
export const fixedLimits = { maxRefusals: 5, maxBadFrames: 10 } as const satisfies Partial<ConnectionLimits>;

/** The limits settings choose (settings.ts); the others are fixed. */
export type ConfigurableLimits = Omit<ConnectionLimits, keyof typeof fixedLimits>;

/** What the author of a message gets back (PROTOCOL.md): its copy without `sender`, with it, or none. */
export type EchoMode = 'anonymous' | 'named' | 'off';
