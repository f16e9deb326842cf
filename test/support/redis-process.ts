/**
 * A private redis-server process: Debian's binary on a free loopback port, nothing saved
 * to disk, never the machine's shared Redis on 6379. Used by the cluster tests (through
 * redis-server.ts, which adds vitest's hooks) and by the bench's cluster case.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { joinCluster } from './cluster-node.js';

const START_MS = 5_000;

function findRedisServer(): string | null {
  for (const candidate of [process.env.REDIS_SERVER, '/usr/bin/redis-server']) {
    if (candidate !== undefined && candidate !== '' && existsSync(candidate)) return candidate;
  }
  const onPath = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return onPath.status === 0 ? 'redis-server' : null;
}

export const redisServerBinary = findRedisServer();

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

export interface RedisOptions {
  /** Clients must give this password (`--requirepass`); `url` carries it. */
  password?: string;
}

export class RedisProcess {
  private child: ChildProcess | null = null;

  private constructor(
    readonly port: number,
    private readonly options: RedisOptions = {},
  ) {}

  get url(): string {
    const auth = this.options.password === undefined ? '' : `:${encodeURIComponent(this.options.password)}@`;
    return `redis://${auth}127.0.0.1:${this.port}`;
  }

  /** The process id while it runs (the bench reads its CPU time). */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /**
   * A free port for a redis-server that is not started yet: a node can be pointed at it
   * first, and `resume()` starts it. (Another process may take the port meanwhile; then
   * `resume()` fails, loudly.)
   */
  static async reserve(options: RedisOptions = {}): Promise<RedisProcess> {
    return new RedisProcess(await freePort(), options);
  }

  /** Starts redis-server on a free port (retrying if another process took it first). */
  static async start(options: RedisOptions = {}): Promise<RedisProcess> {
    for (let attempt = 1; ; attempt++) {
      const redis = new RedisProcess(await freePort(), options);
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
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        tmpdir(),
        '--loglevel',
        'notice',
        ...(this.options.password === undefined ? [] : ['--requirepass', this.options.password]),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    running.add(child);
    child.once('exit', () => running.delete(child));
    let output = '';
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis-server on ${this.port} not ready after ${START_MS} ms:\n${output}`)),
        START_MS,
      );
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
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

  /** Stops it at once, without waiting (the bench's cleanup when a run fails). */
  kill(): void {
    this.child?.kill('SIGKILL');
    this.child = null;
  }
}

/**
 * On an empty Redis the first node waits out a grace of its lease (it cannot tell a first
 * start from lost data: node-scripts.ts, recover). Suites and the bench, which are not about
 * that, open the cluster with a node on a 1 s lease, so that their own nodes find the grace over.
 */
export async function openCluster(url: string): Promise<void> {
  const node = await joinCluster(url, 1_000);
  await node.close();
}
