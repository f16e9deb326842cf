/**
 * A release installed as docs/operations.md says, on a machine without the build tools:
 * `npm run release`'s archive unpacked in a temp directory, `npm ci --omit=dev` (from the
 * npm registry, or npm's cache), then `npm start`. It must serve the page and a chat, with
 * neither tsc nor tsx installed. (Before, `npm start` rebuilt first: `tsc: not found`.)
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { buildRelease, RELEASE_DIR } from '../../tools/release.js';
import { TestSocket, withTimeout } from '../support/ws-client.js';

const INSTALL_MS = 120_000;

describe('a release started without dev dependencies', () => {
  const dirs: string[] = [];
  const stops: Array<() => void> = [];
  afterAll(async () => {
    for (const stop of stops) stop();
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it(
    'runs with npm ci --omit=dev && npm start',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'chat-release-test-'));
      dirs.push(dir);
      const archive = join(dir, 'release.tar.gz');
      await buildRelease(archive);
      execFileSync('tar', ['-xzf', archive, '-C', dir]);
      const app = join(dir, RELEASE_DIR);
      execFileSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], {
        cwd: app,
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: INSTALL_MS,
      });
      for (const tool of ['typescript', 'tsx', 'esbuild'])
        expect(existsSync(join(app, 'node_modules', tool)), tool).toBe(false);

      // Its own process group, so that npm and the node it starts stop together.
      const child = spawn('npm', ['start'], {
        cwd: app,
        env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      // 'close': npm's output pipe, which the server shares, is closed: both have exited.
      const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
      stops.push(() => child.exitCode === null && process.kill(-child.pid!, 'SIGKILL'));
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const lines: string[] = [];
      const listening = new Promise<number>((resolve, reject) => {
        createInterface({ input: child.stdout }).on('line', (line) => {
          lines.push(line);
          if (line.includes('"msg":"listening"')) resolve((JSON.parse(line) as { port: number }).port);
        });
        void exited.then((code) => reject(new Error(`npm start exited with ${code}: ${stderr}`)));
      });
      const port = await withTimeout(listening, 15_000, 'the release to listen');

      const page = await fetch(`http://127.0.0.1:${port}/`);
      expect(page.status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/assets/chat.js`)).status).toBe(200);
      const socket = await TestSocket.open(`ws://127.0.0.1:${port}/ws`);
      socket.send({ sender: 'operator', text: '' });
      expect((await socket.nextFrame()).type).toBe('welcome');
      socket.close();

      // As systemd stops it: SIGTERM to the group; the server stops cleanly.
      process.kill(-child.pid!, 'SIGTERM');
      await withTimeout(exited, 10_000, 'the release to stop');
      expect(lines.some((line) => line.includes('"msg":"stopped"'))).toBe(true);
    },
    INSTALL_MS + 90_000,
  );
});
