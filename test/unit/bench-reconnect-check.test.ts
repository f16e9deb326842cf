/**
 * The reconnect storm's verdicts (bench/reconnect-check.ts): a client with a gap may lack
 * ids but nothing else; a client without one may lack nothing; and the storm's times are
 * read from the cut, per client and for the last one back.
 */
import { describe, expect, it } from 'vitest';
import { checkShown, percentile, stormTimes } from '../../bench/reconnect-check.js';
import { expectedFrom, JOIN_KEY, problemCount, SEQ_SPAN, type Seen } from '../../bench/resume-check.js';

const message = (slot: number, seq: number) => slot * SEQ_SPAN + seq;
const seen = (pairs: [id: number, key: number][]): Seen => ({
  ids: pairs.map(([id]) => id),
  keys: pairs.map(([, key]) => key),
  length: pairs.length,
});

// The senders showed ids 11..14 after position 10.
const sequence: [number, number][] = [
  [11, message(0, 1)],
  [12, message(1, 1)],
  [13, JOIN_KEY],
  [14, message(0, 2)],
];
const expected = expectedFrom(seen(sequence));
const without = (id: number) => seen(sequence.filter(([i]) => i !== id));

describe('reconnect check', () => {
  it('finds nothing wrong in the whole sequence, gap or not', () => {
    for (const gaps of [0, 1]) {
      const verdict = checkShown(expected, seen(sequence), 10, 14, gaps, 'r1');
      expect(problemCount(verdict.problems)).toBe(0);
      expect(verdict).toMatchObject({ lostAfterGap: 0, problems: { first: null } });
    }
  });

  it('counts an id missing without a gap as lost', () => {
    const verdict = checkShown(expected, without(12), 10, 14, 0, 'r1');
    expect(verdict.problems.lost).toBe(1);
    expect(verdict.lostAfterGap).toBe(0);
    expect(verdict.problems.first).toContain('never processed id 12');
  });

  it('counts ids missing after a gap apart, and finds no problem in them', () => {
    const verdict = checkShown(expected, without(12), 10, 14, 1, 'r1');
    expect(problemCount(verdict.problems)).toBe(0);
    expect(verdict.problems.first).toBeNull();
    expect(verdict.lostAfterGap).toBe(1);
  });

  it('still counts an id shown twice after a gap, and names it rather than the missing one', () => {
    const shown = seen([
      [11, message(0, 1)],
      [13, JOIN_KEY],
      [13, JOIN_KEY],
      [14, message(0, 2)],
    ]);
    const verdict = checkShown(expected, shown, 10, 14, 1, 'r1');
    expect(verdict.problems).toMatchObject({ duplicated: 1, lost: 0 });
    expect(verdict.problems.first).toContain('id 13 processed again');
    expect(verdict.lostAfterGap).toBe(1);
  });

  it('still counts ids out of order or altered after a gap', () => {
    const shown = seen([
      [11, message(0, 1)],
      [14, message(0, 2)],
      [12, message(1, 9)],
    ]);
    const verdict = checkShown(expected, shown, 10, 14, 2, 'r1');
    expect(verdict.problems).toMatchObject({ outOfOrder: 1, wrongContent: 1, lost: 0 });
    expect(verdict.lostAfterGap).toBe(1);
  });
});

describe('storm times', () => {
  it('reads every delay from the cut: the last one back, the rate, p50 and p99', () => {
    const cutUs = 1_000_000;
    // 100 clients back 10 ms, 20 ms … 1,000 ms after the cut, in no order.
    const back = Array.from({ length: 100 }, (_, i) => cutUs + ((i * 37) % 100) * 10_000 + 10_000);
    const times = stormTimes(cutUs, back);
    expect(times).toEqual({ back: 100, allOnlineMs: 1000, perSec: 100, p50Ms: 500, p99Ms: 990 });
  });

  it('has no times when nobody came back', () => {
    const times = stormTimes(0, []);
    expect(times.back).toBe(0);
    expect(times.perSec).toBe(0);
    expect(times.allOnlineMs).toBeNaN();
    expect(times.p99Ms).toBeNaN();
  });

  it('takes the nearest rank', () => {
    expect(percentile([5], 99)).toBe(5);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 51)).toBe(3);
    expect(percentile([1, 2, 3, 4], 100)).toBe(4);
    expect(percentile([1, 2, 3, 4], 0)).toBe(1);
  });
});
