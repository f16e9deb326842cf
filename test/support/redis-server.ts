/**
 * A private redis-server per test file: Debian's binary on a free loopback port, nothing
 * saved to disk, stopped after the file. Never the machine's shared Redis on 6379.
 *
 *   const redis = redisPerFile();          // started in beforeAll, stopped in afterAll
 *   describeWithRedis('...', () => { ... redis().url ... });
 *
 * Without redis-server the cluster suites skip with a loud warning on a developer's
 * machine, and fail under CI=true (.ci/run installs the package).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe } from 'vitest';
import { joinCluster } from '../../src/cluster/cluster.js';
import { createLogger } from '../../src/log.js';

const START_MS = 5_000;

function findRedisServer(): string | null {
  for (const candidate of [process.env.REDIS_SERVER, '/usr/bin/redis-server']) {
    if (candidate !== undefined && candidate !== '' && existsSync(candidate)) return candidate;
  }
  const onPath = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return onPath.status === 0 ? 'redis-server' : null;
}

export const redisServerBinary = findRedisServer();

if (redisServerBinary === null) {
  if (process.env.CI === 'true') {
    throw new Error('redis-server is not installed, and CI=true: the cluster tests must run (.ci/run installs it with apt-get)');
  }
  console.warn('\n**********\n* SKIPPED: redis-server not found; the cluster tests need it (apt-get install redis-server)\n**********\n');
}

/** `describe`, or `describe.skip` when redis-server is missing on a developer's machine. */
export const describeWithRedis = redisServerBinary === null ? describe.skip : describe;

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

/** Every redis-server this process started and has not stopped. */
const running = new Set<ChildProcess>();
// A test worker that exits without its afterAll (a crash, a forced stop) takes them along.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export class RedisProcess {
  private child: ChildProcess | null = null;

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts redis-server on a free port (retrying if another process took it first). */
  static async start(): Promise<RedisProcess> {
    for (let attempt = 1; ; attempt++) {
      const redis = new RedisProcess(await freePort());
      try {
        await redis.resume();
        return redis;
      } catch (err) {
        if (attempt >= 3) throw err;
      }
    }
  }

  /** Starts it again on the same port, empty. */
  async resume(): Promise<void> {
    if (this.child !== null) throw new Error('redis-server is running already');
    const child = spawn(
      redisServerBinary!,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpdir(), '--loglevel', 'notice'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    running.add(child);
    child.once('exit', () => running.delete(child));
    let output = '';
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server on ${this.port} not ready after ${START_MS} ms:\n${output}`)), START_MS);
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk;
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server on ${this.port} exited with ${code}:\n${output}`));
      });
    });
    try {
      await ready;
    } catch (err) {
      this.child = null;
      child.kill('SIGKILL');
      throw err;
    }
  }

  /** Stops it (SIGTERM: it closes every connection and exits; nothing is saved). */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    this.child = null;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }
}

/**
 * On an empty Redis the first node waits out a grace of its lease (it cannot tell a first
 * start from lost data: scripts.ts, recover). Suites that are not about that start the
 * cluster with a node on a 1 s lease, so that their own nodes find the grace over.
 */
export async function openCluster(url: string): Promise<void> {
  const node = await joinCluster(url, 1_000, createLogger('silent'));
  await node.close();
}

/** A private Redis for this test file, its cluster opened; call the returned function inside tests. */
export function redisPerFile(): () => RedisProcess {
  let redis: RedisProcess | null = null;
  beforeAll(async () => {
    if (redisServerBinary === null) return;
    redis = await RedisProcess.start();
    await openCluster(redis.url);
  });
  afterAll(async () => {
    await redis?.stop();
  });
  return () => {
    if (redis === null) throw new Error('redis-server is not running');
    return redis;
  };
}
