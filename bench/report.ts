/**
 * Figures of a bench run: the table people read, one JSON line per figure for machines,
 * and one line per run appended to bench/results.jsonl.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** The target for a figure, as a ratio this server / reference. */
export interface Target {
  op: '<=' | '>=';
  ratio: number;
}

export interface Figure {
  /** Stable name for JSON and results.jsonl, e.g. `saturation.serverCpuUsPerDelivery`. */
  key: string;
  label: string;
  unit: string;
  decimals: number;
  reference: number;
  chat: number;
  target?: Target;
}

export function ratioOf(figure: Figure): number {
  return figure.reference === 0 ? (figure.chat === 0 ? 1 : Infinity) : figure.chat / figure.reference;
}

export function verdict(figure: Figure): 'met' | 'missed' | null {
  if (figure.target === undefined) return null;
  const ratio = ratioOf(figure);
  const met = figure.target.op === '<=' ? ratio <= figure.target.ratio : ratio >= figure.target.ratio;
  return met ? 'met' : 'missed';
}

const format = (value: number, decimals: number): string =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals }) : String(value);

export function table(figures: readonly Figure[]): string {
  const rows = figures.map((f) => {
    const unit = f.unit === '' ? '' : ` (${f.unit})`;
    const target = f.target === undefined ? '' : `${f.target.op === '<=' ? '≤' : '≥'} ${f.target.ratio}×`;
    const v = verdict(f);
    return [f.label + unit, format(f.reference, f.decimals), format(f.chat, f.decimals), `${ratioOf(f).toFixed(2)}×`, target, v ?? ''];
  });
  const header = ['figure', 'reference', 'chat', 'ratio', 'target', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function jsonLines(figures: readonly Figure[]): string {
  return figures
    .map((f) => JSON.stringify({ figure: f.key, unit: f.unit, reference: f.reference, chat: f.chat, ratio: ratioOf(f), target: f.target ?? null, verdict: verdict(f) }))
    .join('\n');
}

function commit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    return dirty === '' ? sha : `${sha}-dirty`;
  } catch {
    return 'unknown';
  }
}

/** One line per run: enough to compare ratios across commits and machines. */
export function appendResults(path: URL, options: object, figures: readonly Figure[], startedAt: Date): void {
  const line = {
    date: startedAt.toISOString(),
    commit: commit(),
    node: process.version,
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown' },
    options,
    figures: Object.fromEntries(figures.map((f) => [f.key, { reference: f.reference, chat: f.chat, ratio: Number(ratioOf(f).toFixed(4)) }])),
  };
  appendFileSync(path, JSON.stringify(line) + '\n');
}
