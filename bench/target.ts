/**
 * A server under test, in its own process: this chat server or the bare-ws reference.
 * Both run under the same Node flags and loader, so the only difference is the server.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { readProc, type ProcSample } from './proc.js';
import { sleep, type BenchOptions } from './runner.js';
import type { GcDone } from './server-control.js';
import { addressLimitsOffEnv } from '../test/support/address-limits-off.js';

export type TargetKind = 'reference' | 'chat';

/**
 * The server side of a fan-out run, whatever it is made of: one process, or the cluster's
 * nodes and their Redis. The bench reads the CPU of every process in `pids` as the server's.
 */
export interface Servers {
  readonly name: string;
  /** Where clients connect; the load processes take turns over them. */
  readonly urls: readonly string[];
  /** Every process doing the server's work. */
  readonly pids: readonly number[];
  /** The part of `pids` that is Redis (none for a single process). */
  readonly redisPids: readonly number[];
  stop(): Promise<void>;
  kill(): void;
}

export const TARGETS: readonly TargetKind[] = ['reference', 'chat'];

const ENTRY: Record<TargetKind, URL> = {
  reference: new URL('./reference-server.ts', import.meta.url),
  chat: new URL('./chat-server.ts', import.meta.url),
};

export interface TargetOptions {
  /** Connections the server must accept (beyond its default cap). */
  maxConnections: number;
  /** Write a V8 CPU profile (--cpu-prof) into this directory when the server stops. */
  profileDir: string | null;
  logLevel: string;
  /** More environment for the server (a cluster node's REDIS_URL). */
  env?: Record<string, string>;
  /** Where the server's log goes (a file per server); null: nowhere. */
  logDir: string | null;
  /** Another build of the same kind (an A/B run's base commit), and the name it goes by. */
  entry?: URL;
  label?: string;
  /** Names the --cpu-prof directory and the log file when several servers of one kind run at once. */
  profileName?: string;
}

/** What every server of a run shares: the run's profile and log options, room for `maxConnections`. */
export function targetOptions(
  options: Pick<BenchOptions, 'profileDir' | 'logLevel' | 'logDir'>,
  maxConnections: number,
  env?: Record<string, string>,
): TargetOptions {
  return {
    maxConnections,
    profileDir: options.profileDir,
    logLevel: options.logLevel,
    logDir: options.logDir,
    ...(env === undefined ? {} : { env }),
  };
}

export class Target implements Servers {
  private constructor(
    readonly kind: TargetKind,
    private readonly child: ChildProcess,
    readonly port: number,
    private readonly label: string,
  ) {}

  static async start(kind: TargetKind, options: TargetOptions): Promise<Target> {
    const execArgv = ['--import', 'tsx', '--expose-gc'];
    if (options.profileDir !== null) {
      // One directory per server: the loader's worker thread writes a profile of its own.
      const dir = join(options.profileDir, options.profileName ?? options.label ?? kind);
      mkdirSync(dir, { recursive: true });
      execArgv.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
    }
    // A REDIS_URL in the caller's shell must not turn the single-node runs into a cluster.
    const { REDIS_URL: _ignored, ...inherited } = process.env;
    let log: number | 'ignore' = 'ignore';
    if (options.logDir !== null) {
      mkdirSync(options.logDir, { recursive: true });
      log = openSync(join(options.logDir, `${options.profileName ?? options.label ?? kind}-${Date.now()}.log`), 'a');
    }
    const child = fork(options.entry ?? ENTRY[kind], [], {
      execArgv,
      // Production settings but for the rate limits (the load is the point) and the caps: every
      // client of a bench comes from 127.0.0.1, one address, so the per-address limits are off.
      env: {
        ...inherited,
        LOG_LEVEL: options.logLevel,
        RATE_BURST: '0',
        ...addressLimitsOffEnv,
        MAX_CONNECTIONS: String(options.maxConnections),
        ...options.env,
      },
      // Logs go nowhere unless asked for (--server-logs): the bench reads the process, not its output.
      stdio: ['ignore', log, 'inherit', 'ipc'],
    });
    if (typeof log === 'number') closeSync(log);
    const exited = once(child, 'exit').then(([code]) => {
      throw new Error(`${kind} server exited (${String(code)}) before it was ready`);
    });
    const [ready] = (await Promise.race([once(child, 'message'), exited])) as [{ type: string; port: number }];
    return new Target(kind, child, ready.port, options.label ?? kind);
  }

  get name(): string {
    return this.label;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get pids(): number[] {
    return [this.pid];
  }

  readonly redisPids: number[] = [];

  get url(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  get urls(): string[] {
    return [this.url];
  }

  sample(): ProcSample {
    return readProc(this.pid);
  }

  /**
   * Full collection in the server, then its resident memory as the kernel sees it, and
   * the part of it that is V8's young generation (see GcDone).
   */
  async settledMemory(): Promise<{ rssBytes: number; heapUsedBytes: number; newSpaceBytes: number }> {
    this.child.send({ type: 'gc' });
    const [reply] = (await once(this.child, 'message')) as [GcDone];
    return { rssBytes: this.sample().rssBytes, heapUsedBytes: reply.heapUsedBytes, newSpaceBytes: reply.newSpaceBytes };
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.send({ type: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }

  /** SIGKILL, as a crash: no clean close, nothing written on the way out; resolves once it has exited. */
  async crash(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGKILL');
    await exited;
  }
}

/** A young generation this small is back to its idle size (V8's minimum is 1–2 MiB). */
const IDLE_NEW_SPACE_BYTES = 4 * 1024 * 1024;
const SETTLE_CAP_MS = 30_000;

/**
 * Memory once the server has settled: V8 shrinks a young generation grown under load only
 * after some seconds of low allocation (about 20 s after a storm here), so collect and read
 * every 3 s until it has, for 30 s at most. What is left of it is taken out of RSS.
 */
export async function idleMemory(target: Target): Promise<{ rssBytes: number; heapUsedBytes: number }> {
  const deadline = Date.now() + SETTLE_CAP_MS;
  let memory = await target.settledMemory();
  while (memory.newSpaceBytes > IDLE_NEW_SPACE_BYTES && Date.now() < deadline) {
    await sleep(3_000);
    memory = await target.settledMemory();
  }
  return { rssBytes: memory.rssBytes - memory.newSpaceBytes, heapUsedBytes: memory.heapUsedBytes };
}
