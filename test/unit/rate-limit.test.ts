/**
 * The per-client token bucket (SPEC §3): a burst, then a sustained rate; 0 turns it off.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  fullBucket,
  isOverLimit,
  isRateLimitOff,
  spendToken,
  type RateLimit,
  type TokenBucket,
} from '../../src/rate-limit.js';

const limit: RateLimit = { burst: 20, perSec: 10 };

/** Offers one message at each time; returns the times of those accepted. */
function offer(
  times: number[],
  rate: RateLimit = limit,
  start: TokenBucket = fullBucket(rate, times[0] ?? 0),
): number[] {
  let bucket = start;
  const accepted: number[] = [];
  for (const at of times) {
    if (isOverLimit(bucket, rate, at)) continue;
    bucket = spendToken(bucket, rate, at);
    accepted.push(at);
  }
  return accepted;
}

describe('token bucket', () => {
  it('accepts a full burst at once, then refuses', () => {
    expect(offer(new Array<number>(25).fill(0))).toHaveLength(20);
  });

  it('refills at the sustained rate: one token per 100 ms at 10/s', () => {
    let bucket = fullBucket(limit, 0);
    for (let i = 0; i < 20; i++) bucket = spendToken(bucket, limit, 0);
    expect(isOverLimit(bucket, limit, 0)).toBe(true);
    expect(isOverLimit(bucket, limit, 99)).toBe(true);
    expect(isOverLimit(bucket, limit, 100)).toBe(false);
    bucket = spendToken(bucket, limit, 100);
    expect(isOverLimit(bucket, limit, 150)).toBe(true);
    expect(isOverLimit(bucket, limit, 200)).toBe(false);
  });

  it('allows a full burst again after a long pause, but never more than the burst', () => {
    const burst = Array<number>(20).fill(0);
    const later = Array<number>(30).fill(60_000);
    expect(offer([...burst, ...later])).toHaveLength(40);
  });

  it('sustains exactly the rate under a steady flood', () => {
    // 100 messages per second for 10 s after the burst is spent: 20 + 10 * 10 get through.
    const times = Array.from({ length: 1001 }, (_, i) => i * 10);
    expect(offer(times)).toHaveLength(20 + 100);
  });

  it.each([
    { burst: 0, perSec: 10 },
    { burst: 20, perSec: 0 },
    { burst: 0, perSec: 0 },
  ])('is off when burst or rate is 0: %o', (rate) => {
    expect(isRateLimitOff(rate)).toBe(true);
    expect(offer(new Array<number>(1000).fill(5), rate)).toHaveLength(1000);
  });

  it('is on for positive burst and rate', () => {
    expect(isRateLimitOff(limit)).toBe(false);
  });

  it('never holds more than the burst, however long the pause', () => {
    let bucket = fullBucket(limit, 0);
    bucket = spendToken(bucket, limit, 1e12);
    expect(bucket.tokens).toBe(limit.burst - 1);
  });

  it('never gains tokens from a clock that stands still', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 1, max: 100 }), (at, count) => {
        expect(offer(new Array<number>(count).fill(at))).toHaveLength(Math.min(count, limit.burst));
      }),
    );
  });
});

describe('token bucket properties', () => {
  const rates = fc.record({ burst: fc.integer({ min: 1, max: 30 }), perSec: fc.integer({ min: 1, max: 50 }) });
  /** Non-decreasing receive times, as a monotonic clock gives them. */
  const times = fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 300 }).map((gaps) => {
    let at = 0;
    return gaps.map((gap) => (at += gap));
  });

  it('accepts at most burst + rate * T / 1000 messages in any window of T ms', () => {
    fc.assert(
      fc.property(rates, times, fc.integer({ min: 0, max: 5_000 }), (rate, sent, windowMs) => {
        const accepted = offer(sent, rate);
        const bound = rate.burst + (rate.perSec * windowMs) / 1000;
        for (const start of accepted) {
          const inWindow = accepted.filter((at) => at >= start && at <= start + windowMs).length;
          expect(inWindow).toBeLessThanOrEqual(bound);
        }
      }),
    );
  });

  it('tokens stay between 0 and the burst', () => {
    fc.assert(
      fc.property(rates, times, (rate, sent) => {
        let bucket = fullBucket(rate, 0);
        for (const at of sent) {
          if (isOverLimit(bucket, rate, at)) continue;
          bucket = spendToken(bucket, rate, at);
          expect(bucket.tokens).toBeGreaterThanOrEqual(0);
          expect(bucket.tokens).toBeLessThanOrEqual(rate.burst - 1);
        }
      }),
    );
  });

  // Receive times come from Date.now() (src/transport.ts), a wall clock that can step back.
  // Regression: spendToken used to move `at` backwards with it, refilling the same span twice.
  it('gains no tokens when the clock steps back and forth', () => {
    const times = Array<number>(19).fill(1_000);
    for (let i = 0; i < 5; i++) times.push(0, ...Array<number>(9).fill(1_000));
    // Every time lies in [0, 1000]: at most 20 + 10 * 1 = 30 may be accepted.
    expect(offer(times, limit, { tokens: 20, at: 0 }).length).toBeLessThanOrEqual(30);
  });
});
