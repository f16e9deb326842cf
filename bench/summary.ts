/**
 * The spread of several bench runs: for each figure, the lowest, median and highest ratio
 * (this server / reference, or cluster / single node) over the runs in bench/results.jsonl of one commit, made with
 * the same options as its latest one (runs with a --note are left out).
 *
 *   npx tsx bench/summary.ts [--commit SHA] [--last N]
 *
 * Timings on a shared machine are noisy; a ratio's spread says how far to trust it.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Run {
  date: string;
  commit: string;
  options: Record<string, unknown>;
  /** Each figure's two values under their column names (`reference`, `chat`; `single`, `cluster`), and the ratio. */
  figures: Record<string, Record<string, number | null> & { ratio: number | null }>;
}

// Piped into `head`: a closed stdout is the reader saying it has enough.
process.stdout.on('error', () => process.exit(0));

const { values } = parseArgs({ options: { commit: { type: 'string' }, last: { type: 'string' } } });
const runs = readFileSync(new URL('./results.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as Run);
const commit = values.commit ?? runs.at(-1)?.commit;
/** What makes two runs comparable: the same load, whatever the output format or time cap. */
const loadOf = ({ options }: Run) => {
  const { json: _json, note: _note, profileDir: _profile, logDir: _logs, maxMinutes: _cap, ...load } = options;
  return JSON.stringify(load);
};
const plain = runs.filter((run) => run.commit === commit && (run.options.note ?? null) === null);
const load = plain.at(-1) === undefined ? null : loadOf(plain.at(-1)!);
let chosen = plain.filter((run) => loadOf(run) === load);
if (values.last !== undefined) chosen = chosen.slice(-Number(values.last));
if (chosen.length === 0) {
  console.error(`no runs of commit ${commit ?? '(none)'} in bench/results.jsonl`);
  process.exit(1);
}

const keys = [...new Set(chosen.flatMap((run) => Object.keys(run.figures)))];
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3));

console.log(`${chosen.length} runs of ${commit}: ${chosen.map((run) => run.date).join(', ')}`);
const columnsOf = (key: string): string[] => {
  const first = chosen.find((run) => run.figures[key] !== undefined)!.figures[key]!;
  return Object.keys(first).filter((name) => name !== 'ratio');
};
/** One table per comparison (reference/chat, single/cluster), the storm's figures with the first. */
const groups = new Map<string, string[]>();
for (const key of keys) {
  const columns = columnsOf(key).join(',');
  groups.set(columns, [...(groups.get(columns) ?? []), key]);
}
for (const [columns, groupKeys] of groups) {
  const [baseline = '', measured = ''] = columns.split(',');
  const rows = groupKeys.map((key) => {
    const present = chosen.filter((run) => run.figures[key] !== undefined).map((run) => run.figures[key]!);
    const ratios = present.map((f) => f.ratio).filter((ratio) => ratio !== null);
    const span = (column: string) => {
      const values = present.map((f) => f[column]).filter((value) => value !== null && value !== undefined);
      return values.length === 0 ? '–' : `${fmt(Math.min(...values))}–${fmt(Math.max(...values))}`;
    };
    if (ratios.length === 0) return [key, span(baseline), span(measured), '', ''];
    return [
      key,
      span(baseline),
      span(measured),
      `${median(ratios).toFixed(2)}×`,
      `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}×`,
    ];
  });
  const header = ['figure', `${baseline} (min–max)`, `${measured} (min–max)`, 'median ratio', 'ratio range'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  console.log('');
  for (const row of [header, ...rows])
    console.log(row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
}
