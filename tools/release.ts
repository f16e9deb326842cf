/**
 * `npm run release`: the archive an operator unpacks on a server, where `npm ci --omit=dev`
 * then installs only what runs (docs/operations.md#installing-a-release). It holds the
 * repository's files as they are in the working tree (those git would commit), the lockfile
 * among them, and the build:
 * the server compiled by tsc and the pages bundled by esbuild, both dev dependencies that a
 * server without them cannot run.
 *
 *   npx tsx tools/release.ts [archive]     default: chat-backend-<version>.tar.gz here
 *
 * The build goes to a staging directory, never to this checkout's dist/, which a running
 * server or test may be reading.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundlePages } from './bundle.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The directory the archive unpacks to. */
export const RELEASE_DIR = 'chat-backend';

/** Writes the release archive to `archive` (a .tar.gz). */
export async function buildRelease(archive: string): Promise<void> {
  const staging = mkdtempSync(join(tmpdir(), 'chat-release-'));
  try {
    const dir = join(staging, RELEASE_DIR);
    // Tracked files only: an untracked `.env` or a TLS key made while trying the docs must not ship.
    const tracked = execFileSync('git', ['ls-files', '-z', '--cached'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).split('\0');
    // A file deleted in the working tree but not yet in git is left out, as a commit would.
    for (const file of tracked.filter((f) => f !== '' && existsSync(join(ROOT, f)))) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      copyFileSync(join(ROOT, file), join(dir, file));
    }
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const dist = join(dir, 'dist');
    const buildInfo = join(staging, 'tsbuildinfo');
    execFileSync(
      process.execPath,
      [tsc, '-p', 'tsconfig.build.json', '--outDir', dist, '--tsBuildInfoFile', buildInfo],
      {
        cwd: ROOT,
        stdio: 'inherit',
      },
    );
    await bundlePages(join(dist, 'web'));
    execFileSync('tar', ['-czf', resolve(archive), '-C', staging, RELEASE_DIR]);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const archive = process.argv[2] ?? `chat-backend-${version}.tar.gz`;
  await buildRelease(archive);
  console.log(`${archive}: unpack it on the server, then npm ci --omit=dev (docs/operations.md)`);
}
