/**
 * Fan-out: N registered clients, S of them senders. Run against the reference, then this
 * server, each in a fresh process.
 *
 * - Saturation: each sender keeps `window` messages in flight (sent, own echo not yet
 *   back), so the server is never idle. Deliveries/s, server and client CPU per delivery,
 *   latency, and exactly-once in-order delivery checked by every receiver.
 * - Fixed load: the same clients at half the reference's saturation rate, open loop (each
 *   message leaves on schedule whatever the server does): latency p50/p99/p99.9.
 *
 *   npm run bench -- --only fanout
 */
import { Load, sourceAddresses } from './load.js';
import type { Figure } from './report.js';
import { isMain, runBench, sleep, within, type BenchContext, type Scenario } from './runner.js';
import { Target, TARGETS, type TargetKind } from './target.js';

interface Window {
  deliveries: number;
  seconds: number;
  serverCpuUs: number;
  /** Kernel time of the server: mostly its writes, which on loopback carry TCP itself. */
  serverSystemUs: number;
  clientCpuUs: number;
  clientSystemUs: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

interface FanoutResult {
  saturation: Window;
  fixed: Window;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  unexpected: number;
}

/** Measures for `measureMs` while the senders run; latency in ms. */
async function measure(ctx: BenchContext, target: Target, load: Load, measureMs: number): Promise<Window> {
  await load.all({ cmd: 'measure', on: true });
  const started = performance.now();
  const server0 = target.sample();
  const client0 = load.cpu();
  await sleep(measureMs);
  const server1 = target.sample();
  const client1 = load.cpu();
  const seconds = (performance.now() - started) / 1000;
  await load.all({ cmd: 'measure', on: false });
  const { deliveries, latency } = await load.report();
  if (deliveries === 0) throw new Error(`${target.kind}: nothing was delivered while measuring`);
  ctx.progress(`${target.kind}: ${Math.round(deliveries / seconds).toLocaleString('en-US')} deliveries/s`);
  return {
    deliveries,
    seconds,
    serverCpuUs: server1.cpuUs - server0.cpuUs,
    serverSystemUs: server1.systemUs - server0.systemUs,
    clientCpuUs: client1.cpuUs - client0.cpuUs,
    clientSystemUs: client1.systemUs - client0.systemUs,
    p50: latency.percentile(50) / 1000,
    p99: latency.percentile(99) / 1000,
    p999: latency.percentile(99.9) / 1000,
    max: latency.max / 1000,
  };
}

/** Stops the senders and waits until every client has every message they sent. */
async function settle(ctx: BenchContext, kind: TargetKind, load: Load): Promise<number[]> {
  const finals = await load.stop();
  const complete = await load.drain(finals, 20_000);
  if (!complete) ctx.progress(`${kind}: some messages had not arrived 20 s after the senders stopped`);
  return finals;
}

async function runOne(ctx: BenchContext, kind: TargetKind, fixedPerSec: number | null): Promise<FanoutResult> {
  const { clients, senders, processes, window, warmupMs, measureMs } = ctx.options;
  const target = ctx.track(await Target.start(kind, { maxConnections: clients + 100, profileDir: ctx.options.profileDir, logLevel: ctx.options.logLevel }));
  const load = ctx.track(await Load.start({ clients, senders, processes, localAddresses: sourceAddresses(clients), concurrency: 50 }));
  try {
    ctx.progress(`${kind}: registering ${clients} clients`);
    await within(120_000, `${kind}: registering ${clients} clients`, load.connect(target.url));

    ctx.progress(`${kind}: saturation, ${senders} senders × ${window} in flight`);
    await load.all({ cmd: 'saturate', window });
    await sleep(warmupMs);
    const saturation = await within(measureMs + 30_000, `${kind}: saturation`, measure(ctx, target, load, measureMs));
    await settle(ctx, kind, load);

    // Half the reference's saturation rate, the same for both servers.
    const perSec = fixedPerSec ?? saturation.deliveries / saturation.seconds / 2;
    const perSenderPerSec = perSec / clients / senders;
    ctx.progress(`${kind}: fixed load, ${Math.round(perSec).toLocaleString('en-US')} deliveries/s`);
    await load.all({ cmd: 'pace', perSenderPerSec, startUs: Number(process.hrtime.bigint() / 1000n) + 50_000 });
    await sleep(Math.min(warmupMs, 1_000));
    const fixed = await within(measureMs + 30_000, `${kind}: fixed load`, measure(ctx, target, load, measureMs));
    const finals = await settle(ctx, kind, load);

    const { received, problems } = await load.report();
    const expected = finals.reduce((sum, seq) => sum + seq * clients, 0);
    const got = received.reduce((sum, n) => sum + n, 0);
    return {
      saturation,
      fixed,
      lost: expected - got,
      duplicated: problems.duplicates,
      outOfOrder: problems.orderViolations,
      unexpected: problems.errors + problems.leaves + problems.closes + problems.badFrames,
    };
  } finally {
    await load.close();
    await target.stop();
  }
}

const perSec = (w: Window) => w.deliveries / w.seconds;

export const fanout: Scenario = {
  name: 'fanout',
  async run(ctx) {
    const results = {} as Record<TargetKind, FanoutResult>;
    for (const kind of TARGETS) {
      const reference = kind === 'reference' ? null : perSec(results.reference.saturation) / 2;
      results[kind] = await runOne(ctx, kind, reference);
    }
    const { reference: ref, chat } = results;
    const both = (key: string, label: string, unit: string, decimals: number, pick: (r: FanoutResult) => number, target?: Figure['target']): Figure => ({
      key, label, unit, decimals, baseline: pick(ref), measured: pick(chat), ...(target === undefined ? {} : { target }),
    });
    const n = ctx.options.clients;
    return [
      both('saturation.deliveriesPerSec', `saturation (N=${n}, S=${ctx.options.senders}): deliveries/s`, '', 0, (r) => perSec(r.saturation)),
      both('saturation.serverCpuUsPerDelivery', 'server CPU per delivery', 'µs', 2, (r) => r.saturation.serverCpuUs / r.saturation.deliveries, { op: '<=', ratio: 0.6 }),
      both('saturation.serverSystemUsPerDelivery', '  of which in the kernel', 'µs', 2, (r) => r.saturation.serverSystemUs / r.saturation.deliveries),
      both('saturation.clientCpuUsPerDelivery', 'client CPU per delivery', 'µs', 2, (r) => r.saturation.clientCpuUs / r.saturation.deliveries),
      both('saturation.clientSystemUsPerDelivery', '  of which in the kernel', 'µs', 2, (r) => r.saturation.clientSystemUs / r.saturation.deliveries),
      both('saturation.latencyP50Ms', 'saturation latency p50', 'ms', 1, (r) => r.saturation.p50),
      both('saturation.latencyP99Ms', 'saturation latency p99', 'ms', 1, (r) => r.saturation.p99),
      both('saturation.latencyMaxMs', 'saturation latency max', 'ms', 1, (r) => r.saturation.max),
      both('correctness.lost', 'lost deliveries (whole run)', '', 0, (r) => r.lost),
      both('correctness.duplicated', 'duplicated deliveries', '', 0, (r) => r.duplicated),
      both('correctness.outOfOrder', 'ids out of order', '', 0, (r) => r.outOfOrder),
      both('correctness.unexpected', 'errors, leaves, closes seen', '', 0, (r) => r.unexpected),
      both('fixed.deliveriesPerSec', 'fixed load: deliveries/s', '', 0, (r) => perSec(r.fixed)),
      both('fixed.serverCpuUsPerDelivery', 'fixed load: server CPU per delivery', 'µs', 2, (r) => r.fixed.serverCpuUs / r.fixed.deliveries),
      both('fixed.latencyP50Ms', 'fixed load latency p50', 'ms', 2, (r) => r.fixed.p50),
      both('fixed.latencyP99Ms', 'fixed load latency p99', 'ms', 2, (r) => r.fixed.p99, { op: '<=', ratio: 1.3 }),
      both('fixed.latencyP999Ms', 'fixed load latency p99.9', 'ms', 2, (r) => r.fixed.p999),
    ];
  },
};

if (isMain(import.meta.url)) await runBench([fanout], process.argv.slice(2));
