/**
 * How long to wait before the next connection attempt: "full jitter" exponential backoff.
 *
 * After a stable connection is lost the first retry is at once (most drops are a blip: a
 * phone changing network). Each further failure in a row doubles the ceiling, up to
 * `maxMs`, and the wait is drawn uniformly below it: spread out this way, clients cut off
 * together do not all come back in the same instant and knock the server over again.
 */

export interface BackoffBounds {
  /** The ceiling of the second attempt's wait; it doubles with each failure after. */
  initialMs: number;
  /** No wait is longer than this. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffBounds = { initialMs: 500, maxMs: 30_000 };

/** The largest wait after `failures` attempts failed in a row (0: none yet, so no wait). */
export function backoffCeiling(failures: number, bounds: BackoffBounds): number {
  if (failures <= 0) return 0;
  // 2 ** 1075 is Infinity; Math.min keeps it at maxMs, so a long outage cannot overflow.
  return Math.min(bounds.maxMs, bounds.initialMs * 2 ** (failures - 1));
}

/**
 * The wait before the next attempt. `random` returns a number in [0, 1), as Math.random
 * does; injected so that tests can pin it.
 */
export function backoffDelay(failures: number, bounds: BackoffBounds, random: () => number): number {
  return Math.floor(random() * backoffCeiling(failures, bounds));
}

/** Bounds that make sense, or a TypeError naming the one that does not. */
export function checkBounds(bounds: BackoffBounds): BackoffBounds {
  const { initialMs, maxMs } = bounds;
  if (!(Number.isFinite(initialMs) && initialMs >= 0))
    throw new TypeError(`backoff.initialMs must be ≥ 0: ${initialMs}`);
  if (!(Number.isFinite(maxMs) && maxMs >= initialMs))
    throw new TypeError(`backoff.maxMs must be ≥ initialMs: ${maxMs}`);
  return bounds;
}
