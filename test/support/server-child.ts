/**
 * A chat server in a process of its own, for tests and the soak that measure it from
 * outside: memory, event-loop delay, and latency that the measuring clients must not distort
 * by sharing its event loop. Forked by test/support/server-process.ts; settings arrive as
 * JSON in CHAT_TEST_CONFIG. Needs --expose-gc so that "heap after GC" means something.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startServer } from '../../src/server.js';

export type ChildRequest = { type: 'memory' } | { type: 'resetPeak' } | { type: 'stop' };

export interface MemoryReport {
  type: 'memory';
  rssBytes: number;
  heapUsedBytes: number;
  /** Heap in use right after a full collection: what a leak would make grow. */
  heapAfterGcBytes: number;
  /** ArrayBuffer memory after that collection: socket write queues live here. */
  arrayBuffersAfterGcBytes: number;
  /** The highest ArrayBuffer memory sampled since the last resetPeak, garbage included. */
  peakArrayBuffersBytes: number;
  /** Event-loop delay since the previous report. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

const overrides = JSON.parse(process.env.CHAT_TEST_CONFIG ?? '{}') as Partial<Config>;
const config: Config = { ...loadConfig([], {}), host: '127.0.0.1', port: 0, logLevel: 'silent', ...overrides };
// Silent unless a test asks for a level (and reads stdout: server-process.ts's captureLog).
const server = await startServer(config, { log: createLogger(config.logLevel) });
// In cluster mode: ready once the node serves (or waits for Redis), as the tests expect.
await server.started;

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
// Sampled: a write queue that stays for longer than a few milliseconds shows up here.
let peakArrayBuffers = 0;
const sampler = setInterval(() => {
  peakArrayBuffers = Math.max(peakArrayBuffers, process.memoryUsage().arrayBuffers);
}, 5);

function memory(): MemoryReport {
  const before = process.memoryUsage();
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('server-child needs --expose-gc');
  // Twice: V8 frees ArrayBuffers concurrently after a collection, and `arrayBuffers` can
  // still count megabytes of dead socket buffers right after the first one; the second
  // waits for that sweep.
  gc();
  gc();
  const after = process.memoryUsage();
  const report: MemoryReport = {
    type: 'memory',
    rssBytes: before.rss,
    heapUsedBytes: before.heapUsed,
    heapAfterGcBytes: after.heapUsed,
    arrayBuffersAfterGcBytes: after.arrayBuffers,
    peakArrayBuffersBytes: Math.max(peakArrayBuffers, before.arrayBuffers),
    loopDelayP99Ms: delay.percentile(99) / 1e6,
    loopDelayMaxMs: delay.max / 1e6,
  };
  delay.reset();
  return report;
}

process.on('message', (request: ChildRequest) => {
  switch (request.type) {
    case 'memory':
      process.send?.(memory());
      return;
    case 'resetPeak':
      peakArrayBuffers = 0;
      process.send?.({ type: 'resetPeak' });
      return;
    case 'stop':
      clearInterval(sampler);
      void server.close().then(() => process.exit(0));
      return;
  }
});
process.send?.({ type: 'ready', port: server.port });
