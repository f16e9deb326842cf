/**
 * Figures of a bench run: the table people read, one JSON line per figure for machines,
 * and one line per run appended to bench/results.jsonl.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** The target for a figure, as a ratio measured / baseline. */
export interface Target {
  op: '<' | '<=' | '>=';
  ratio: number;
}

/** What a figure compares: this server against the bare-ws reference, unless it says otherwise. */
export type Columns = readonly [baseline: string, measured: string];

export const REFERENCE_VS_CHAT: Columns = ['reference', 'chat'];

export interface Figure {
  /** Stable name for JSON and results.jsonl, e.g. `saturation.serverCpuUsPerDelivery`. */
  key: string;
  label: string;
  unit: string;
  decimals: number;
  /** Names of the two values, as the table's headers and the JSON keys; REFERENCE_VS_CHAT when absent. */
  columns?: Columns;
  /** Null when the baseline has no such thing (Redis's share, for a single node): no ratio then. */
  baseline: number | null;
  measured: number;
  target?: Target;
}

/**
 * Figure makers for one comparison: each figure is `pick` of the baseline run's result and
 * of the measured one's, under `prefix + key`.
 */
export function comparing<R>(columns: Columns | undefined, baseline: R, measured: R, prefix = '') {
  return (
    key: string,
    label: string,
    unit: string,
    decimals: number,
    pick: (r: R) => number,
    target?: Figure['target'],
  ): Figure => ({
    key: prefix + key,
    label,
    unit,
    decimals,
    baseline: pick(baseline),
    measured: pick(measured),
    ...(columns === undefined ? {} : { columns }),
    ...(target === undefined ? {} : { target }),
  });
}

export const columnsOf = (figure: Figure): Columns => figure.columns ?? REFERENCE_VS_CHAT;

export function ratioOf(figure: Figure): number | null {
  if (figure.baseline === null) return null;
  return figure.baseline === 0 ? (figure.measured === 0 ? 1 : Infinity) : figure.measured / figure.baseline;
}

export function verdict(figure: Figure): 'met' | 'missed' | null {
  if (figure.target === undefined) return null;
  const ratio = ratioOf(figure);
  if (ratio === null) return null;
  const { op, ratio: bound } = figure.target;
  const met = op === '<' ? ratio < bound : op === '<=' ? ratio <= bound : ratio >= bound;
  return met ? 'met' : 'missed';
}

/** The two values under their column names, then the ratio: one figure in JSON. */
function valuesOf(figure: Figure): Record<string, number | null> {
  const [baseline, measured] = columnsOf(figure);
  return { [baseline]: figure.baseline, [measured]: figure.measured, ratio: ratioOf(figure) };
}

const format = (value: number, decimals: number): string =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals })
    : String(value);

const ratioText = (ratio: number | null): string => (ratio === null ? '' : `${ratio.toFixed(2)}×`);

const SYMBOL: Record<Target['op'], string> = { '<': '<', '<=': '≤', '>=': '≥' };

/** One table per comparison (reference vs chat, single node vs cluster), in the order they come. */
export function table(figures: readonly Figure[]): string {
  const groups: Figure[][] = [];
  for (const figure of figures) {
    const last = groups.at(-1);
    if (last !== undefined && columnsOf(last[0]!).join() === columnsOf(figure).join()) last.push(figure);
    else groups.push([figure]);
  }
  return groups.map(tableOf).join('\n\n');
}

function tableOf(figures: readonly Figure[]): string {
  const rows = figures.map((f) => {
    const unit = f.unit === '' ? '' : ` (${f.unit})`;
    const target = f.target === undefined ? '' : `${SYMBOL[f.target.op]} ${f.target.ratio}×`;
    const v = verdict(f);
    return [
      f.label + unit,
      f.baseline === null ? '–' : format(f.baseline, f.decimals),
      format(f.measured, f.decimals),
      ratioText(ratioOf(f)),
      target,
      v ?? '',
    ];
  });
  const header = ['figure', ...columnsOf(figures[0]!), 'ratio', 'target', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function jsonLines(figures: readonly Figure[]): string {
  return figures
    .map((f) =>
      JSON.stringify({ figure: f.key, unit: f.unit, ...valuesOf(f), target: f.target ?? null, verdict: verdict(f) }),
    )
    .join('\n');
}

function commit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    // The results file itself does not count: each run appends to it, and the next run is still of this commit.
    const dirty = execFileSync(
      'git',
      ['status', '--porcelain', '--untracked-files=no', '--', ':/', ':(top,exclude)bench/results.jsonl'],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    )
      .toString()
      .trim();
    return dirty === '' ? sha : `${sha}-dirty`;
  } catch {
    return 'unknown';
  }
}

function roundedRatio(figure: Figure): number | null {
  const ratio = ratioOf(figure);
  return ratio === null ? null : Number(ratio.toFixed(4));
}

/** One line per run: enough to compare ratios across commits and machines. */
export function appendResults(path: URL, options: object, figures: readonly Figure[], startedAt: Date): void {
  const line = {
    date: startedAt.toISOString(),
    commit: commit(),
    node: process.version,
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown' },
    options,
    figures: Object.fromEntries(figures.map((f) => [f.key, { ...valuesOf(f), ratio: roundedRatio(f) }])),
  };
  appendFileSync(path, JSON.stringify(line) + '\n');
}
