/**
 * Reads a V8 CPU profile (from `npm run bench -- --profile DIR`) and prints where the time
 * went: the functions with the most self time, and the most total time (self + callees).
 *
 *   npx tsx bench/profile-top.ts DIR/chat-….cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

// Piped into `head`: a closed stdout is the reader saying it has enough.
process.stdout.on('error', () => process.exit(0));

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' } },
});
const file = positionals[0];
if (file === undefined) {
  console.error('usage: npx tsx bench/profile-top.ts FILE.cpuprofile [--top N]');
  process.exit(1);
}
const top = Number(values.top);
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[] };

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parentOf = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);

const nameOf = (node: ProfileNode): string => {
  const { functionName, url, lineNumber } = node.callFrame;
  const where =
    url === '' ? '' : ` ${url.replace(/^file:\/\/.*?\/(node_modules|src|machines|bench)\//, '$1/')}:${lineNumber + 1}`;
  return `${functionName === '' ? '(anonymous)' : functionName}${where}`;
};

const self = new Map<string, number>();
const total = new Map<string, number>();
for (const sample of profile.samples) {
  const leaf = byId.get(sample)!;
  self.set(nameOf(leaf), (self.get(nameOf(leaf)) ?? 0) + 1);
  // Count each function once per sample, however deep its recursion.
  const seen = new Set<string>();
  for (let id: number | undefined = sample; id !== undefined; id = parentOf.get(id)) {
    const name = nameOf(byId.get(id)!);
    if (seen.has(name)) continue;
    seen.add(name);
    total.set(name, (total.get(name) ?? 0) + 1);
  }
}

const samples = profile.samples.length;
const print = (title: string, counts: Map<string, number>) => {
  console.log(`\n${title} (${samples} samples)`);
  for (const [name, count] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * count) / samples).toFixed(1).padStart(6)}%  ${name}`);
  }
};
print('self time', self);
print('total time', total);
