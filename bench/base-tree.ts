/**
 * Another commit's server, runnable beside this one for an A/B run: its files (`git
 * archive`, no checkout, the repository untouched) in a directory under the system's temp
 * directory, kept for the next run. Its node_modules is this tree's when the lockfiles are
 * the same; otherwise `npm ci` installs its own there.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface BaseTree {
  /** The commit, abbreviated as results.jsonl has them. */
  commit: string;
  dir: string;
  /** Its bench/chat-server.ts: the server as its own bench ran it. */
  entry: URL;
}

const here = fileURLToPath(new URL('..', import.meta.url));

const git = (args: string[]): Buffer =>
  execFileSync('git', args, { cwd: here, maxBuffer: 512 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });

export function prepareBase(commit: string, progress: (message: string) => void): BaseTree {
  let sha: string;
  try {
    sha = git(['rev-parse', '--verify', `${commit}^{commit}`])
      .toString()
      .trim();
  } catch {
    throw new Error(`--base ${commit}: no such commit in this repository`);
  }
  const short = sha.slice(0, 12);
  const dir = join(tmpdir(), `chat-bench-base-${short}`);
  const entry = join(dir, 'bench', 'chat-server.ts');
  if (!existsSync(entry)) {
    progress(`A/B: unpacking ${short} into ${dir}`);
    const partial = `${dir}.partial`;
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true });
    execFileSync('tar', ['-x', '-C', partial], { input: git(['archive', '--format=tar', sha]) });
    if (!existsSync(join(partial, 'bench', 'chat-server.ts'))) {
      rmSync(partial, { recursive: true, force: true });
      throw new Error(`--base ${commit}: that commit has no bench/chat-server.ts to run`);
    }
    const sameLock =
      readFileSync(join(partial, 'package-lock.json'), 'utf8') ===
      readFileSync(join(here, 'package-lock.json'), 'utf8');
    if (sameLock) symlinkSync(join(here, 'node_modules'), join(partial, 'node_modules'), 'dir');
    else {
      progress(`A/B: ${short} has other dependencies: npm ci in ${partial}`);
      execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: partial, stdio: ['ignore', 'inherit', 'inherit'] });
    }
    renameSync(partial, dir);
  }
  return { commit: short, dir, entry: pathToFileURL(entry) };
}
