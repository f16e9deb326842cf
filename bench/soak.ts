/**
 * Soak: churn connects, registrations, messages, garbage and disconnects against a server
 * in its own process for a fixed time, and print its memory and event-loop delay over time.
 *
 *   npm run soak -- --minutes 10 [--clients 200] [--every 30]
 *
 * Loopback only; bounded by --minutes; stops by itself. A leak shows as heap-after-GC
 * climbing from sample to sample; the summary compares the first and last samples.
 */
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { startServerProcess } from '../test/support/server-process.js';
import type { MemoryReport } from '../test/support/server-child.js';
import { addressLimitsOff } from '../test/support/address-limits-off.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    clients: { type: 'string', default: '200' },
    every: { type: 'string', default: '30' },
  },
});
const minutes = Number(values.minutes);
const population = Number(values.clients);
const sampleEverySec = Number(values.every);
if (!(minutes > 0) || !(population > 0) || !(sampleEverySec > 0)) {
  console.error('usage: npm run soak -- --minutes N [--clients N] [--every SECONDS]');
  process.exit(1);
}

const totals = { connects: 0, registered: 0, messages: 0, garbage: 0, framesIn: 0, serverCloses: 0, abrupt: 0 };
let open = 0;
let nameCounter = 0;
let stopping = false;

const random = (min: number, max: number) => min + Math.random() * (max - min);
const chance = (p: number) => Math.random() < p;
const GARBAGE = ['not json', '[1,2]', '42', '{"sender":5}', '{"text":{"a":1}}', '{"__proto__":{"text":"x"}}'];

/** One simulated client: a random lifetime and a random way of behaving (and of leaving). */
function runClient(url: string): void {
  const socket = new WebSocket(url, { perMessageDeflate: false });
  open++;
  totals.connects++;
  const timers: NodeJS.Timeout[] = [];
  const later = (ms: number, fn: () => void) => timers.push(setTimeout(fn, ms));
  const send = (frame: string) => socket.readyState === WebSocket.OPEN && socket.send(frame);
  const name = `soak${++nameCounter}`;
  const lurker = chance(0.05); // never registers: the server's register timeout ends it

  socket.on('open', () => {
    if (lurker) return;
    if (chance(0.1)) send(JSON.stringify({ sender: `soak${Math.max(1, nameCounter - 5)}`, text: '' }));
    if (chance(0.1)) {
      for (let i = 0; i < 3; i++) {
        send(GARBAGE[i % GARBAGE.length]!);
        totals.garbage++;
      }
    }
    send(JSON.stringify({ sender: name, text: '' }));
  });
  socket.on('message', (data) => {
    totals.framesIn++;
    const frame = JSON.parse((data as Buffer).toString()) as { type: string; name?: string };
    if (frame.type !== 'welcome' || frame.name !== name) return;
    totals.registered++;
    const chat = () => {
      const burst = chance(0.05) ? 40 : 1; // now and then a flood, to meet the rate limit
      for (let i = 0; i < burst; i++) send(JSON.stringify({ sender: 'spoof', text: `hello from ${name} ${i}` }));
      totals.messages += burst;
      later(random(2_000, 10_000), chat);
    };
    later(random(500, 3_000), chat);
    later(random(1_000, 20_000), () => {
      if (chance(0.3)) {
        totals.abrupt++;
        socket.terminate();
      } else socket.close(1000);
    });
  });
  socket.on('error', () => undefined);
  socket.on('close', (code) => {
    if (code >= 1001 && code !== 1005 && code !== 1006) totals.serverCloses++;
    for (const timer of timers) clearTimeout(timer);
    open--;
    if (!stopping) setImmediate(() => runClient(url));
  });
}

const mb = (bytes: number) => (bytes / 1048576).toFixed(1);

async function main(): Promise<void> {
  // Every soak client comes from 127.0.0.1: per-address limits would refuse its churn.
  const server = await startServerProcess(addressLimitsOff);
  const url = server.url;
  console.log(
    `soak: ${minutes} min, ${population} clients at a time, server pid ${server.pid}, node ${process.version}`,
  );
  console.log('min  open  connects  registered  messages  rss_MB  heap_MB  heap_after_gc_MB  loop_p99_ms  loop_max_ms');

  for (let i = 0; i < population; i++) runClient(url);
  const started = Date.now();
  const samples: MemoryReport[] = [];
  while (Date.now() - started < minutes * 60_000) {
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(sampleEverySec * 1000, minutes * 60_000 - (Date.now() - started))),
    );
    const s = await server.memory();
    samples.push(s);
    const elapsed = ((Date.now() - started) / 60_000).toFixed(1);
    console.log(
      [
        elapsed.padStart(4),
        String(open).padStart(5),
        String(totals.connects).padStart(9),
        String(totals.registered).padStart(11),
        String(totals.messages).padStart(9),
        mb(s.rssBytes).padStart(7),
        mb(s.heapUsedBytes).padStart(8),
        mb(s.heapAfterGcBytes).padStart(17),
        s.loopDelayP99Ms.toFixed(1).padStart(12),
        s.loopDelayMaxMs.toFixed(1).padStart(12),
      ].join(' '),
    );
  }
  stopping = true;
  await server.stop();

  // Compare after warm-up: the first sample still includes start-up allocation.
  const first = samples[Math.min(1, samples.length - 1)]!;
  const last = samples[samples.length - 1]!;
  const summary = {
    minutes,
    population,
    ...totals,
    heapAfterGcFirstMb: Number(mb(first.heapAfterGcBytes)),
    heapAfterGcLastMb: Number(mb(last.heapAfterGcBytes)),
    rssFirstMb: Number(mb(first.rssBytes)),
    rssLastMb: Number(mb(last.rssBytes)),
    worstLoopDelayMs: Math.max(...samples.map((s) => s.loopDelayMaxMs)),
  };
  console.log(JSON.stringify(summary));
  process.exit(0);
}

void main();
