/**
 * The bench's report: a target's verdict at its bound, a figure without a baseline (no
 * ratio, no verdict), one table per comparison under its own column names, and JSON keyed
 * by those names. The figures people quote come from here, so its edges are pinned.
 */
import { describe, expect, it } from 'vitest';
import { jsonLines, ratioOf, table, verdict, type Figure } from '../../bench/report.js';

const figure = (overrides: Partial<Figure>): Figure => ({
  key: 'k',
  label: 'a figure',
  unit: '',
  decimals: 2,
  baseline: 2,
  measured: 3,
  ...overrides,
});

describe('bench report', () => {
  it('reads each kind of target at its bound', () => {
    expect(verdict(figure({ measured: 3, target: { op: '<=', ratio: 1.5 } }))).toBe('met');
    expect(verdict(figure({ measured: 3, target: { op: '<', ratio: 1.5 } }))).toBe('missed');
    expect(verdict(figure({ measured: 2.99, target: { op: '<', ratio: 1.5 } }))).toBe('met');
    expect(verdict(figure({ measured: 1.6, target: { op: '>=', ratio: 0.8 } }))).toBe('met');
    expect(verdict(figure({ measured: 1.59, target: { op: '>=', ratio: 0.8 } }))).toBe('missed');
    expect(verdict(figure({}))).toBeNull();
  });

  it('gives a figure without a baseline no ratio and no verdict', () => {
    const redisOnly = figure({ baseline: null, measured: 0.05, target: { op: '<=', ratio: 1 } });
    expect(ratioOf(redisOnly)).toBeNull();
    expect(verdict(redisOnly)).toBeNull();
    expect(ratioOf(figure({ baseline: 0, measured: 0 }))).toBe(1);
  });

  it('prints one table per comparison, headed by its column names', () => {
    const printed = table([
      figure({ key: 'a', label: 'throughput', baseline: 100, measured: 900 }),
      figure({
        key: 'cluster.a',
        label: 'cluster throughput',
        columns: ['single', 'cluster'],
        baseline: 900,
        measured: 450,
      }),
      figure({
        key: 'cluster.r',
        label: 'redis share',
        columns: ['single', 'cluster'],
        baseline: null,
        measured: 0.05,
      }),
    ]);
    const [first, second] = printed.split('\n\n');
    expect(first).toMatch(/^figure\s+reference\s+chat\s+ratio/);
    expect(first).toContain('9.00×');
    expect(second).toMatch(/^figure\s+single\s+cluster\s+ratio/);
    expect(second).toContain('0.50×');
    expect(second!.split('\n').at(-1)).toMatch(/^redis share\s+–\s+0\.05$/);
  });

  it('keys each JSON value by its column name', () => {
    const lines = jsonLines([
      figure({ key: 'a' }),
      figure({
        key: 'cluster.a',
        columns: ['single', 'cluster'],
        baseline: 4,
        measured: 5,
        target: { op: '<', ratio: 2 },
      }),
    ])
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ figure: 'a', reference: 2, chat: 3, ratio: 1.5, verdict: null });
    expect(lines[1]).toMatchObject({ figure: 'cluster.a', single: 4, cluster: 5, ratio: 1.25, verdict: 'met' });
  });
});
