/** One log line per period, with the count since the last (src/periodic-log.ts). */
import { describe, expect, it } from 'vitest';
import { PeriodicLog } from '../../src/periodic-log.js';

describe('PeriodicLog', () => {
  it('writes the first at once, then once per period with the count since the last line', () => {
    const log = new PeriodicLog(1_000);
    const written: Array<[at: number, count: number]> = [];
    for (const at of [0, 1, 2, 999, 1_000, 1_500, 2_000, 5_000]) log.hit((count) => written.push([at, count]), at);
    expect(written).toEqual([
      [0, 1],
      [1_000, 4],
      [2_000, 2],
      [5_000, 1],
    ]);
  });
});
