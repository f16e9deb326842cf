/**
 * vitest globalSetup: compiles web/ (the pages' TypeScript) into dist/web/ once per run, as
 * `npm run build` does before `npm start`, so that a fresh clone's `npm test` serves real
 * scripts to the browser tests. Incremental: a run with nothing changed takes about a second.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export default function buildWeb(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'web/tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
}
