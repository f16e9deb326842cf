/**
 * Starts test/support/server-child.ts in its own process and talks to it over IPC.
 *
 *   const server = await startServerProcess({ rateBurst: 0 });
 *   const alice = await TestSocket.open(server.url);
 *   const { heapAfterGcBytes } = await server.memory();
 *   await server.stop();
 *
 *   // Under a file-descriptor limit of 128 (`ulimit -n`), its log lines read from stdout:
 *   const server = await startServerProcess({ logLevel: 'warn' }, { fdLimit: 128, captureLog: true });
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Config } from '../../src/config.js';
import type { ChildRequest, MemoryReport } from './server-child.js';
import { withTimeout } from './ws-client.js';

const START_TIMEOUT_MS = 15_000;
const REQUEST_TIMEOUT_MS = 5_000;

export interface ServerProcessOptions {
  /** The child's open-file limit (soft and hard), set by `ulimit -n` in a shell that then execs node. */
  fdLimit?: number;
  /** Read the child's stdout as JSON log lines (`logLines`) instead of passing it through. */
  captureLog?: boolean;
}

export interface ServerProcess {
  readonly url: string;
  readonly pid: number;
  /** With `captureLog`: the JSON lines logged so far. */
  logLines(): Array<Record<string, unknown>>;
  memory(): Promise<MemoryReport>;
  /** Starts a new window for `peakArrayBuffersBytes`. */
  resetPeak(): Promise<void>;
  stop(): Promise<void>;
}

export async function startServerProcess(
  overrides: Partial<Config> = {},
  options: ServerProcessOptions = {},
): Promise<ServerProcess> {
  const nodeArgs = ['--expose-gc', '--import', 'tsx'];
  // fork() runs `execPath ...execArgv module`: a shell sets the limit, then becomes node
  // (the IPC channel's descriptor survives the exec).
  const limited =
    options.fdLimit === undefined
      ? { execArgv: nodeArgs }
      : {
          execPath: '/bin/sh',
          execArgv: ['-c', `ulimit -n ${options.fdLimit} && exec "$0" "$@"`, process.execPath, ...nodeArgs],
        };
  const child: ChildProcess = fork(new URL('./server-child.ts', import.meta.url), {
    ...limited,
    env: { ...process.env, CHAT_TEST_CONFIG: JSON.stringify(overrides) },
    stdio: ['ignore', options.captureLog === true ? 'pipe' : 'inherit', 'inherit', 'ipc'],
  });
  const lines: Array<Record<string, unknown>> = [];
  if (child.stdout !== null)
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    });
  const exited = once(child, 'exit');
  const [ready] = (await withTimeout(once(child, 'message'), START_TIMEOUT_MS, 'the server process to listen')) as [
    { port: number },
  ];

  const ask = async <T>(request: ChildRequest, what: string): Promise<T> => {
    const reply = withTimeout(once(child, 'message'), REQUEST_TIMEOUT_MS, what);
    child.send(request);
    return ((await reply) as [T])[0];
  };
  return {
    url: `ws://127.0.0.1:${ready.port}/ws`,
    pid: child.pid ?? 0,
    logLines: () => lines,
    memory: () => ask<MemoryReport>({ type: 'memory' }, "the server's memory report"),
    resetPeak: async () => void (await ask({ type: 'resetPeak' }, 'the peak reset')),
    async stop() {
      if (child.exitCode !== null) return;
      child.send({ type: 'stop' } satisfies ChildRequest);
      await withTimeout(exited, REQUEST_TIMEOUT_MS, 'the server process to exit').catch(() => child.kill('SIGKILL'));
    },
  };
}
