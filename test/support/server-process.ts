/**
 * Starts test/support/server-child.ts in its own process and talks to it over IPC.
 *
 *   const server = await startServerProcess({ rateBurst: 0 });
 *   const alice = await TestSocket.open(server.url);
 *   const { heapAfterGcBytes } = await server.memory();
 *   await server.stop();
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Config } from '../../src/config.js';
import type { ChildRequest, MemoryReport } from './server-child.js';
import { withTimeout } from './ws-client.js';

const START_TIMEOUT_MS = 15_000;
const REQUEST_TIMEOUT_MS = 5_000;

export interface ServerProcess {
  readonly url: string;
  readonly pid: number;
  memory(): Promise<MemoryReport>;
  /** Starts a new window for `peakArrayBuffersBytes`. */
  resetPeak(): Promise<void>;
  stop(): Promise<void>;
}

export async function startServerProcess(overrides: Partial<Config> = {}): Promise<ServerProcess> {
  const child: ChildProcess = fork(new URL('./server-child.ts', import.meta.url), {
    execArgv: ['--expose-gc', '--import', 'tsx'],
    env: { ...process.env, CHAT_TEST_CONFIG: JSON.stringify(overrides) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
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
    memory: () => ask<MemoryReport>({ type: 'memory' }, "the server's memory report"),
    resetPeak: async () => void (await ask({ type: 'resetPeak' }, 'the peak reset')),
    async stop() {
      if (child.exitCode !== null) return;
      child.send({ type: 'stop' } satisfies ChildRequest);
      await withTimeout(exited, REQUEST_TIMEOUT_MS, 'the server process to exit').catch(() => child.kill('SIGKILL'));
    },
  };
}
