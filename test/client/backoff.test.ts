import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffCeiling, backoffDelay, checkBounds } from '../../client/backoff.js';

const bounds = { initialMs: 100, maxMs: 1_000 };

describe('client backoff', () => {
  it('retries at once after the first failure, then doubles the ceiling up to the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((failures) => backoffCeiling(failures, bounds))).toEqual([
      0, 100, 200, 400, 800, 1_000, 1_000,
    ]);
    expect(backoffDelay(0, bounds, () => 0.999)).toBe(0);
  });

  it('draws the whole range below the ceiling (full jitter), never above it', () => {
    expect(backoffDelay(3, bounds, () => 0)).toBe(0);
    expect(backoffDelay(3, bounds, () => 0.5)).toBe(200);
    expect(backoffDelay(3, bounds, () => 0.9999)).toBe(399);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (failures, r) => {
          const delay = backoffDelay(failures, bounds, () => r);
          return delay >= 0 && delay <= backoffCeiling(failures, bounds) && delay <= bounds.maxMs;
        },
      ),
    );
  });

  it('spreads waits over the range with a real random source', () => {
    const delays = Array.from({ length: 400 }, () => backoffDelay(5, bounds, Math.random));
    expect(Math.min(...delays)).toBeLessThan(250);
    expect(Math.max(...delays)).toBeGreaterThan(750);
  });

  it('refuses bounds that make no sense', () => {
    expect(() => checkBounds({ initialMs: -1, maxMs: 10 })).toThrow(/initialMs/);
    expect(() => checkBounds({ initialMs: 100, maxMs: 10 })).toThrow(/maxMs/);
    expect(checkBounds(bounds)).toBe(bounds);
  });
});
