/**
 * A/B: this server against the same server at another commit (`--base`), on the fan-out at
 * saturation and at a fixed load, in rounds that alternate base, this, base, this… so that
 * both meet the same neighbours. The fixed load is the fan-out scenario's: half the bare-ws
 * reference's saturation rate, measured once first, the same for every run after. Each
 * figure is the median of the rounds for each side; the rounds' own ratios are shown
 * beside, since the spread says how far to trust it.
 *
 *   npm run bench -- --only ab --base 8fca4f1 [--ab-rounds 3]
 */
import { prepareBase } from './base-tree.js';
import { oneProcess, perSec, runOne, type FanoutResult, type StartServers } from './fanout-run.js';
import { comparing, type Columns, type Figure } from './report.js';
import { isMain, runBench, type Scenario } from './runner.js';
import { Target } from './target.js';

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const cpuAtSaturation = (r: FanoutResult) => r.saturation.serverCpuUs / r.saturation.deliveries;
const cpuAtFixedLoad = (r: FanoutResult) => r.fixed.serverCpuUs / r.fixed.deliveries;

export const abComparison: Scenario = {
  name: 'ab',
  async run(ctx) {
    const { base, abRounds } = ctx.options;
    if (base === null) throw new Error('the A/B scenario needs --base COMMIT (e.g. --only ab --base 8fca4f1)');
    const tree = prepareBase(base, (message) => ctx.progress(message));
    const startBase: StartServers = async (c, options) =>
      c.track(await Target.start('chat', { ...options, entry: tree.entry, label: `base ${tree.commit}` }));

    const reference = await runOne(ctx, oneProcess('reference'), { fixed: null, matched: null });
    const fixed = perSec(reference.saturation) / 2;
    const bases: FanoutResult[] = [];
    const chats: FanoutResult[] = [];
    for (let round = 1; round <= abRounds; round++) {
      ctx.progress(`A/B round ${round} of ${abRounds}`);
      const b = await runOne(ctx, startBase, { fixed, matched: null });
      const c = await runOne(ctx, oneProcess('chat'), { fixed, matched: null });
      bases.push(b);
      chats.push(c);
      ctx.progress(
        `A/B round ${round}: CPU per delivery at saturation ${(cpuAtSaturation(c) / cpuAtSaturation(b)).toFixed(2)}×, ` +
          `fixed-load p99 ${(c.fixed.p99 / b.fixed.p99).toFixed(2)}×`,
      );
    }
    return abFigures(tree.commit, bases, chats);
  },
};

function abFigures(commit: string, bases: FanoutResult[], chats: FanoutResult[]): Figure[] {
  const columns: Columns = ['base', 'chat'];
  const figure = comparing(columns, bases, chats, 'ab.');
  const med = (pick: (r: FanoutResult) => number) => (runs: FanoutResult[]) => median(runs.map(pick));
  const rounds = bases.map((b, i) => ({ base: b, chat: chats[i]! }));
  /** A round's ratio, lowest or highest: no baseline, the ratio itself is the figure. */
  const spread = (key: string, pick: (r: FanoutResult) => number): Figure[] => {
    const ratios = rounds.map(({ base, chat }) => pick(chat) / pick(base));
    const ratioFigure = (which: 'lowest' | 'highest', measured: number): Figure => ({
      key: `ab.${key}.${which}Ratio`,
      label: `  one round's ratio, ${which}`,
      unit: '×',
      decimals: 2,
      columns,
      baseline: null,
      measured,
    });
    return [ratioFigure('lowest', Math.min(...ratios)), ratioFigure('highest', Math.max(...ratios))];
  };
  const n = bases.length;
  return [
    figure(
      'saturation.deliveriesPerSec',
      `A/B against ${commit}, median of ${n} rounds: saturation deliveries/s`,
      '',
      0,
      med((r) => perSec(r.saturation)),
    ),
    figure(
      'saturation.serverCpuUsPerDelivery',
      'server CPU per delivery at saturation',
      'µs',
      3,
      med(cpuAtSaturation),
      { op: '<=', ratio: 1.1 },
    ),
    ...spread('saturation.serverCpuUsPerDelivery', cpuAtSaturation),
    figure(
      'fixed.deliveriesPerSec',
      'fixed load: deliveries/s',
      '',
      0,
      med((r) => perSec(r.fixed)),
    ),
    figure('fixed.serverCpuUsPerDelivery', 'fixed load: server CPU per delivery', 'µs', 2, med(cpuAtFixedLoad)),
    figure(
      'fixed.latencyP50Ms',
      'fixed load latency p50',
      'ms',
      2,
      med((r) => r.fixed.p50),
    ),
    figure(
      'fixed.latencyP99Ms',
      'fixed load latency p99',
      'ms',
      2,
      med((r) => r.fixed.p99),
      { op: '<=', ratio: 1.1 },
    ),
    ...spread('fixed.latencyP99Ms', (r) => r.fixed.p99),
    figure('correctness.lostOrDuplicated', 'lost, duplicated or out-of-order deliveries (all rounds)', '', 0, (runs) =>
      runs.reduce((sum, r) => sum + r.lost + r.duplicated + r.outOfOrder, 0),
    ),
  ];
}

if (isMain(import.meta.url)) await runBench([abComparison], process.argv.slice(2));
