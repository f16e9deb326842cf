/**
 * Fan-out: N registered clients, S of them senders. Run against the reference, then this
 * server, each in a fresh process, then (when redis-server is here) this server as a
 * cluster of two nodes on a private Redis, the clients split between the nodes.
 *
 * - Saturation: each sender keeps `window` messages in flight (sent, own echo not yet
 *   back), so the server is never idle. Deliveries/s, server and client CPU per delivery,
 *   latency, and exactly-once in-order delivery checked by every receiver.
 * - Fixed load: the same clients at half the reference's saturation rate, open loop (each
 *   message leaves on schedule whatever the server does): latency p50/p99/p99.9.
 *
 * The cluster's figures are ratios to the single node's of the same run; its server CPU is
 * that of both nodes and of Redis.
 *
 *   npm run bench -- --only fanout [--no-cluster]
 */
import { ClusterTarget, clusterUnavailable, CLUSTER_NODES } from './cluster-target.js';
import { Load, sourceAddresses } from './load.js';
import { cpuOf } from './proc.js';
import type { Columns, Figure } from './report.js';
import { isMain, runBench, sleep, within, type BenchContext, type Scenario } from './runner.js';
import { Target, type Servers, type TargetOptions } from './target.js';

interface Window {
  deliveries: number;
  seconds: number;
  serverCpuUs: number;
  /** Kernel time of the server: mostly its writes, which on loopback carry TCP itself. */
  serverSystemUs: number;
  /** The part of serverCpuUs that Redis used (cluster only). */
  redisCpuUs: number;
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
async function measure(ctx: BenchContext, servers: Servers, load: Load, measureMs: number): Promise<Window> {
  await load.all({ cmd: 'measure', on: true });
  const started = performance.now();
  const server0 = cpuOf(servers.pids);
  const redis0 = cpuOf(servers.redisPids);
  const client0 = load.cpu();
  await sleep(measureMs);
  const server1 = cpuOf(servers.pids);
  const redis1 = cpuOf(servers.redisPids);
  const client1 = load.cpu();
  const seconds = (performance.now() - started) / 1000;
  await load.all({ cmd: 'measure', on: false });
  const { deliveries, latency } = await load.report();
  if (deliveries === 0) throw new Error(`${servers.name}: nothing was delivered while measuring`);
  ctx.progress(`${servers.name}: ${Math.round(deliveries / seconds).toLocaleString('en-US')} deliveries/s`);
  return {
    deliveries,
    seconds,
    serverCpuUs: server1.cpuUs - server0.cpuUs,
    serverSystemUs: server1.systemUs - server0.systemUs,
    redisCpuUs: redis1.cpuUs - redis0.cpuUs,
    clientCpuUs: client1.cpuUs - client0.cpuUs,
    clientSystemUs: client1.systemUs - client0.systemUs,
    p50: latency.percentile(50) / 1000,
    p99: latency.percentile(99) / 1000,
    p999: latency.percentile(99.9) / 1000,
    max: latency.max / 1000,
  };
}

/** Stops the senders and waits until every client has every message they sent. */
async function settle(ctx: BenchContext, kind: string, load: Load): Promise<number[]> {
  const finals = await load.stop();
  const complete = await load.drain(finals, 20_000);
  if (!complete) ctx.progress(`${kind}: some messages had not arrived 20 s after the senders stopped`);
  return finals;
}

/** Starts the servers of one run: the reference, this server, or a cluster of it. */
type StartServers = (ctx: BenchContext, options: TargetOptions) => Promise<Servers>;

const single = (kind: 'reference' | 'chat'): StartServers => async (ctx, options) => ctx.track(await Target.start(kind, options));
const cluster: StartServers = async (ctx, options) => ctx.track(await ClusterTarget.start(options, (started) => ctx.track(started)));

async function runOne(ctx: BenchContext, start: StartServers, fixedPerSec: number | null): Promise<FanoutResult> {
  const { clients, senders, processes, window, warmupMs, measureMs } = ctx.options;
  const target = await start(ctx, { maxConnections: clients + 100, profileDir: ctx.options.profileDir, logLevel: ctx.options.logLevel });
  const kind = target.name;
  const load = ctx.track(await Load.start({ clients, senders, processes, localAddresses: sourceAddresses(clients), concurrency: 50 }));
  try {
    ctx.progress(`${kind}: registering ${clients} clients${target.urls.length > 1 ? ` over ${target.urls.length} nodes` : ''}`);
    await within(120_000, `${kind}: registering ${clients} clients`, load.connect(target.urls));

    ctx.progress(`${kind}: saturation, ${senders} senders × ${window} in flight`);
    await load.all({ cmd: 'saturate', window });
    await sleep(warmupMs);
    const saturation = await within(measureMs + 30_000, `${kind}: saturation`, measure(ctx, target, load, measureMs));
    await settle(ctx, kind, load);

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

/** Figure makers for one comparison: `key`'s value in the baseline run and in the measured one. */
function comparing(columns: Columns | undefined, baseline: FanoutResult, measured: FanoutResult, prefix = '') {
  return (key: string, label: string, unit: string, decimals: number, pick: (r: FanoutResult) => number, target?: Figure['target']): Figure => ({
    key: prefix + key, label, unit, decimals, baseline: pick(baseline), measured: pick(measured),
    ...(columns === undefined ? {} : { columns }), ...(target === undefined ? {} : { target }),
  });
}

const perDelivery = (us: (w: Window) => number, pickWindow: (r: FanoutResult) => Window) => (r: FanoutResult) =>
  us(pickWindow(r)) / pickWindow(r).deliveries;
const saturation = (r: FanoutResult) => r.saturation;
const fixed = (r: FanoutResult) => r.fixed;

function referenceFigures(ctx: BenchContext, ref: FanoutResult, chat: FanoutResult): Figure[] {
  const both = comparing(undefined, ref, chat);
  const n = ctx.options.clients;
  return [
    both('saturation.deliveriesPerSec', `saturation (N=${n}, S=${ctx.options.senders}): deliveries/s`, '', 0, (r) => perSec(r.saturation)),
    both('saturation.serverCpuUsPerDelivery', 'server CPU per delivery', 'µs', 2, perDelivery((w) => w.serverCpuUs, saturation), { op: '<=', ratio: 0.6 }),
    both('saturation.serverSystemUsPerDelivery', '  of which in the kernel', 'µs', 2, perDelivery((w) => w.serverSystemUs, saturation)),
    both('saturation.clientCpuUsPerDelivery', 'client CPU per delivery', 'µs', 2, perDelivery((w) => w.clientCpuUs, saturation)),
    both('saturation.clientSystemUsPerDelivery', '  of which in the kernel', 'µs', 2, perDelivery((w) => w.clientSystemUs, saturation)),
    both('saturation.latencyP50Ms', 'saturation latency p50', 'ms', 1, (r) => r.saturation.p50),
    both('saturation.latencyP99Ms', 'saturation latency p99', 'ms', 1, (r) => r.saturation.p99),
    both('saturation.latencyMaxMs', 'saturation latency max', 'ms', 1, (r) => r.saturation.max),
    ...correctness(both),
    both('fixed.deliveriesPerSec', 'fixed load: deliveries/s', '', 0, (r) => perSec(r.fixed)),
    both('fixed.serverCpuUsPerDelivery', 'fixed load: server CPU per delivery', 'µs', 2, perDelivery((w) => w.serverCpuUs, fixed)),
    both('fixed.latencyP50Ms', 'fixed load latency p50', 'ms', 2, (r) => r.fixed.p50),
    both('fixed.latencyP99Ms', 'fixed load latency p99', 'ms', 2, (r) => r.fixed.p99, { op: '<=', ratio: 1.3 }),
    both('fixed.latencyP999Ms', 'fixed load latency p99.9', 'ms', 2, (r) => r.fixed.p999),
  ];
}

function correctness(both: ReturnType<typeof comparing>): Figure[] {
  return [
    both('correctness.lost', 'lost deliveries (whole run)', '', 0, (r) => r.lost),
    both('correctness.duplicated', 'duplicated deliveries', '', 0, (r) => r.duplicated),
    both('correctness.outOfOrder', 'ids out of order', '', 0, (r) => r.outOfOrder),
    both('correctness.unexpected', 'errors, leaves, closes seen', '', 0, (r) => r.unexpected),
  ];
}

/**
 * The cluster against the single node. The cost target is read at the fixed load, where
 * both deliver at the same rate. Per-delivery cost falls steeply as the rate grows (a busier
 * turn writes more frames per system call; a single node's cost at saturation is many
 * times lower than at the fixed load), and at saturation the cluster runs at a lower rate.
 */
function clusterFigures(ctx: BenchContext, single: FanoutResult, clustered: FanoutResult): Figure[] {
  const columns: Columns = ['single', 'cluster'];
  const both = comparing(columns, single, clustered, 'cluster.');
  /** A figure only the cluster has: Redis's share. */
  const redisShare = (key: string, pickWindow: (r: FanoutResult) => Window): Figure => ({
    key: `cluster.${key}`, label: '  of which Redis', unit: 'µs', decimals: 3, columns, baseline: null,
    measured: perDelivery((w) => w.redisCpuUs, pickWindow)(clustered),
  });
  return [
    both('saturation.deliveriesPerSec', `${CLUSTER_NODES} nodes, saturation (N=${ctx.options.clients}, S=${ctx.options.senders}): deliveries/s`, '', 0, (r) => perSec(r.saturation)),
    both('saturation.serverCpuUsPerDelivery', 'server CPU per delivery, Redis included', 'µs', 2, perDelivery((w) => w.serverCpuUs, saturation)),
    both('saturation.serverSystemUsPerDelivery', '  of which in the kernel', 'µs', 2, perDelivery((w) => w.serverSystemUs, saturation)),
    redisShare('saturation.redisCpuUsPerDelivery', saturation),
    both('saturation.clientCpuUsPerDelivery', 'client CPU per delivery', 'µs', 2, perDelivery((w) => w.clientCpuUs, saturation)),
    both('saturation.latencyP50Ms', 'saturation latency p50', 'ms', 1, (r) => r.saturation.p50),
    both('saturation.latencyP99Ms', 'saturation latency p99', 'ms', 1, (r) => r.saturation.p99),
    ...correctness(both),
    both('fixed.deliveriesPerSec', 'fixed load: deliveries/s', '', 0, (r) => perSec(r.fixed)),
    both('fixed.serverCpuUsPerDelivery', 'fixed load: server CPU per delivery, Redis included', 'µs', 2, perDelivery((w) => w.serverCpuUs, fixed), { op: '<=', ratio: 1.5 }),
    both('fixed.serverSystemUsPerDelivery', '  of which in the kernel', 'µs', 2, perDelivery((w) => w.serverSystemUs, fixed)),
    redisShare('fixed.redisCpuUsPerDelivery', fixed),
    both('fixed.latencyP50Ms', 'fixed load latency p50', 'ms', 2, (r) => r.fixed.p50),
    both('fixed.latencyP99Ms', 'fixed load latency p99', 'ms', 2, (r) => r.fixed.p99, { op: '<', ratio: 2 }),
    both('fixed.latencyP999Ms', 'fixed load latency p99.9', 'ms', 2, (r) => r.fixed.p999),
  ];
}

export const fanout: Scenario = {
  name: 'fanout',
  async run(ctx) {
    const ref = await runOne(ctx, single('reference'), null);
    // Half the reference's saturation rate, the same for every server that follows.
    const fixedPerSec = perSec(ref.saturation) / 2;
    const chat = await runOne(ctx, single('chat'), fixedPerSec);
    const figures = referenceFigures(ctx, ref, chat);
    if (!ctx.options.cluster) return figures;
    const unavailable = clusterUnavailable();
    if (unavailable !== null) {
      ctx.progress(`SKIPPED the cluster case: ${unavailable}`);
      return figures;
    }
    return [...figures, ...clusterFigures(ctx, chat, await runOne(ctx, cluster, fixedPerSec))];
  },
};

if (isMain(import.meta.url)) await runBench([fanout], process.argv.slice(2));
