/**
 * The server under soak: a normal server in its own process, which reports its own memory
 * and event-loop delay to the parent over IPC. Started by bench/soak.ts; not for direct use.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { startServer } from '../src/server.js';

export interface SoakSample {
  type: 'sample';
  rssBytes: number;
  heapUsedBytes: number;
  /** Heap in use right after a full collection: what a leak would make grow. */
  heapAfterGcBytes: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

const send = (message: object) => process.send?.(message);

const config = { ...loadConfig([], process.env), host: '127.0.0.1', port: 0, logLevel: 'silent' };
const server = await startServer(config, { log: createLogger('silent') });
const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();

process.on('message', (message: { type: string }) => {
  if (message.type === 'sample') {
    const before = process.memoryUsage();
    (globalThis as { gc?: () => void }).gc?.();
    const after = process.memoryUsage();
    send({
      type: 'sample',
      rssBytes: before.rss,
      heapUsedBytes: before.heapUsed,
      heapAfterGcBytes: after.heapUsed,
      loopDelayP99Ms: delay.percentile(99) / 1e6,
      loopDelayMaxMs: delay.max / 1e6,
    } satisfies SoakSample);
    delay.reset();
  } else if (message.type === 'stop') {
    void server.close().then(() => process.exit(0));
  }
});
send({ type: 'ready', port: server.port });
