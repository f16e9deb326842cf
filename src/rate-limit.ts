/**
 * A token bucket as plain data, so it can live in an actor's context and be tested alone.
 * Time comes in as an argument: the caller decides which clock counts.
 */
export interface TokenBucket {
  tokens: number;
  /** When `tokens` was last brought up to date, in ms. */
  at: number;
}

export interface RateLimit {
  burst: number;
  perSec: number;
}

/** A burst or rate of 0 turns the limit off. */
export function isRateLimitOff(limit: RateLimit): boolean {
  return limit.burst <= 0 || limit.perSec <= 0;
}

export function fullBucket(limit: RateLimit, now: number): TokenBucket {
  return { tokens: limit.burst, at: now };
}

/**
 * The bucket after refilling up to `now`; never above the burst. Receive times come from a
 * wall clock that can step back: `at` never moves backwards, or a span would refill twice.
 */
function refill(bucket: TokenBucket, limit: RateLimit, now: number): TokenBucket {
  if (now <= bucket.at) return bucket;
  const tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.at) * limit.perSec) / 1000);
  return { tokens, at: now };
}

/** Whether one more message at `now` would exceed the limit. */
export function isOverLimit(bucket: TokenBucket, limit: RateLimit, now: number): boolean {
  if (isRateLimitOff(limit)) return false;
  return refill(bucket, limit, now).tokens < 1;
}

/** The bucket after spending one token at `now` (callers check `isOverLimit` first). */
export function spendToken(bucket: TokenBucket, limit: RateLimit, now: number): TokenBucket {
  if (isRateLimitOff(limit)) return bucket;
  const refilled = refill(bucket, limit, now);
  return { tokens: refilled.tokens - 1, at: refilled.at };
}

/** When the bucket will hold its whole burst again if nothing is spent (`bucket.at` or earlier when it already does, or the limit is off). */
export function fullAt(bucket: TokenBucket, limit: RateLimit): number {
  if (isRateLimitOff(limit) || bucket.tokens >= limit.burst) return bucket.at;
  return bucket.at + ((limit.burst - bucket.tokens) * 1000) / limit.perSec;
}
