/**
 * Fan-out: N registered clients, S of them senders. Run against the reference, then (when
 * redis-server is here) this server as a cluster of two nodes on a private Redis, the
 * clients split between the nodes, then this server alone; each in fresh processes.
 *
 * - Saturation: each sender keeps `window` messages in flight (sent, own echo not yet
 *   back), so the server is never idle. Deliveries/s, server and client CPU per delivery,
 *   latency, and exactly-once in-order delivery checked by every receiver.
 * - Fixed load: the same clients at half the reference's saturation rate, open loop (each
 *   message leaves on schedule whatever the server does): latency p50/p99/p99.9.
 *
 * - Matched load (cluster case): the cluster and the single node at one rate near the
 *   cluster's capacity (see MATCHED_SHARE), to compare their costs at equal rates.
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
  /** At the matched load (cluster case only): the same rate for the single node and the cluster. */
  matched: Window | null;
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

const oneProcess =
  (kind: 'reference' | 'chat'): StartServers =>
  async (ctx, options) =>
    ctx.track(await Target.start(kind, options));
const twoNodes: StartServers = async (ctx, options) =>
  ctx.track(await ClusterTarget.start(options, (started) => ctx.track(started)));

/** The open-loop loads of one run, in deliveries/s. */
interface Loads {
  /** The fixed load; null: half this server's own saturation rate (the reference's run). */
  fixed: number | null;
  /** A second, higher load, from this run's saturation rate; null: none. */
  matched: ((ownSaturationPerSec: number) => number) | null;
}

async function runOne(ctx: BenchContext, start: StartServers, loads: Loads): Promise<FanoutResult> {
  const { clients, senders, processes, window, warmupMs, measureMs } = ctx.options;
  const target = await start(ctx, {
    maxConnections: clients + 100,
    profileDir: ctx.options.profileDir,
    logLevel: ctx.options.logLevel,
  });
  const kind = target.name;
  const load = ctx.track(
    await Load.start({ clients, senders, processes, localAddresses: sourceAddresses(clients), concurrency: 50 }),
  );
  /** Open loop at `rate`: each message leaves on schedule whatever the server does. */
  const paced = async (phase: string, rate: number): Promise<{ window: Window; finals: number[] }> => {
    ctx.progress(`${kind}: ${phase}, ${Math.round(rate).toLocaleString('en-US')} deliveries/s`);
    await load.all({
      cmd: 'pace',
      perSenderPerSec: rate / clients / senders,
      startUs: Number(process.hrtime.bigint() / 1000n) + 50_000,
    });
    await sleep(Math.min(warmupMs, 1_000));
    const measured = await within(measureMs + 30_000, `${kind}: ${phase}`, measure(ctx, target, load, measureMs));
    return { window: measured, finals: await settle(ctx, kind, load) };
  };
  try {
    ctx.progress(
      `${kind}: registering ${clients} clients${target.urls.length > 1 ? ` over ${target.urls.length} nodes` : ''}`,
    );
    await within(120_000, `${kind}: registering ${clients} clients`, load.connect(target.urls));

    ctx.progress(`${kind}: saturation, ${senders} senders × ${window} in flight`);
    await load.all({ cmd: 'saturate', window });
    await sleep(warmupMs);
    const saturation = await within(measureMs + 30_000, `${kind}: saturation`, measure(ctx, target, load, measureMs));
    await settle(ctx, kind, load);

    const fixed = await paced('fixed load', loads.fixed ?? perSec(saturation) / 2);
    const matched = loads.matched === null ? null : await paced('matched load', loads.matched(perSec(saturation)));
    // Senders number their messages across phases: the last phase's counts cover the run.
    const finals = (matched ?? fixed).finals;

    const { received, problems } = await load.report();
    const expected = finals.reduce((sum, seq) => sum + seq * clients, 0);
    const got = received.reduce((sum, n) => sum + n, 0);
    return {
      saturation,
      fixed: fixed.window,
      matched: matched?.window ?? null,
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
  return (
    key: string,
    label: string,
    unit: string,
    decimals: number,
    pick: (r: FanoutResult) => number,
    target?: Figure['target'],
  ): Figure => ({
    key: prefix + key,
    label,
    unit,
    decimals,
    baseline: pick(baseline),
    measured: pick(measured),
    ...(columns === undefined ? {} : { columns }),
    ...(target === undefined ? {} : { target }),
  });
}

const perDelivery = (us: (w: Window) => number, pickWindow: (r: FanoutResult) => Window) => (r: FanoutResult) =>
  us(pickWindow(r)) / pickWindow(r).deliveries;
const atSaturation = (r: FanoutResult) => r.saturation;
const atFixedLoad = (r: FanoutResult) => r.fixed;

function referenceFigures(ctx: BenchContext, ref: FanoutResult, chat: FanoutResult): Figure[] {
  const figure = comparing(undefined, ref, chat);
  const n = ctx.options.clients;
  return [
    figure('saturation.deliveriesPerSec', `saturation (N=${n}, S=${ctx.options.senders}): deliveries/s`, '', 0, (r) =>
      perSec(r.saturation),
    ),
    figure(
      'saturation.serverCpuUsPerDelivery',
      'server CPU per delivery',
      'µs',
      2,
      perDelivery((w) => w.serverCpuUs, atSaturation),
      { op: '<=', ratio: 0.6 },
    ),
    figure(
      'saturation.serverSystemUsPerDelivery',
      '  of which in the kernel',
      'µs',
      2,
      perDelivery((w) => w.serverSystemUs, atSaturation),
    ),
    figure(
      'saturation.clientCpuUsPerDelivery',
      'client CPU per delivery',
      'µs',
      2,
      perDelivery((w) => w.clientCpuUs, atSaturation),
    ),
    figure(
      'saturation.clientSystemUsPerDelivery',
      '  of which in the kernel',
      'µs',
      2,
      perDelivery((w) => w.clientSystemUs, atSaturation),
    ),
    figure('saturation.latencyP50Ms', 'saturation latency p50', 'ms', 1, (r) => r.saturation.p50),
    figure('saturation.latencyP99Ms', 'saturation latency p99', 'ms', 1, (r) => r.saturation.p99),
    figure('saturation.latencyMaxMs', 'saturation latency max', 'ms', 1, (r) => r.saturation.max),
    ...correctness(figure),
    figure('fixed.deliveriesPerSec', 'fixed load: deliveries/s', '', 0, (r) => perSec(r.fixed)),
    figure(
      'fixed.serverCpuUsPerDelivery',
      'fixed load: server CPU per delivery',
      'µs',
      2,
      perDelivery((w) => w.serverCpuUs, atFixedLoad),
    ),
    figure('fixed.latencyP50Ms', 'fixed load latency p50', 'ms', 2, (r) => r.fixed.p50),
    figure('fixed.latencyP99Ms', 'fixed load latency p99', 'ms', 2, (r) => r.fixed.p99, { op: '<=', ratio: 1.3 }),
    figure('fixed.latencyP999Ms', 'fixed load latency p99.9', 'ms', 2, (r) => r.fixed.p999),
  ];
}

function correctness(figure: ReturnType<typeof comparing>): Figure[] {
  return [
    figure('correctness.lost', 'lost deliveries (whole run)', '', 0, (r) => r.lost),
    figure('correctness.duplicated', 'duplicated deliveries', '', 0, (r) => r.duplicated),
    figure('correctness.outOfOrder', 'ids out of order', '', 0, (r) => r.outOfOrder),
    figure('correctness.unexpected', 'errors, leaves, closes seen', '', 0, (r) => r.unexpected),
  ];
}

/**
 * The matched load: this share of the cluster's saturation rate, open loop, for the cluster
 * and then the single node. Per-delivery cost falls as the rate grows (a busier turn writes
 * more frames per system call), so costs are compared at equal rates: the fixed load, far
 * below either's capacity, and this one, near the cluster's. Kept below its saturation so
 * that the open loop does not queue without end.
 */
const MATCHED_SHARE = 0.75;

/** The cluster against the single node, the cost counted over both nodes and Redis. */
function clusterFigures(ctx: BenchContext, singleNode: FanoutResult, clustered: FanoutResult): Figure[] {
  const columns: Columns = ['single', 'cluster'];
  const figure = comparing(columns, singleNode, clustered, 'cluster.');
  /**
   * A figure only the cluster has: Redis's share. Over a window at the fixed load it is a
   * few clock ticks of CPU, so it is shown no finer than that.
   */
  const redisShare = (key: string, pickWindow: (r: FanoutResult) => Window, decimals: number): Figure => ({
    key: `cluster.${key}`,
    label: '  of which Redis',
    unit: 'µs',
    decimals,
    columns,
    baseline: null,
    measured: perDelivery((w) => w.redisCpuUs, pickWindow)(clustered),
  });
  const atMatchedLoad = (r: FanoutResult) => r.matched!;
  return [
    figure(
      'saturation.deliveriesPerSec',
      `${CLUSTER_NODES} nodes, saturation (N=${ctx.options.clients}, S=${ctx.options.senders}): deliveries/s`,
      '',
      0,
      (r) => perSec(r.saturation),
    ),
    figure(
      'saturation.serverCpuUsPerDelivery',
      'server CPU per delivery, Redis included',
      'µs',
      2,
      perDelivery((w) => w.serverCpuUs, atSaturation),
    ),
    figure(
      'saturation.serverSystemUsPerDelivery',
      '  of which in the kernel (Redis too)',
      'µs',
      2,
      perDelivery((w) => w.serverSystemUs, atSaturation),
    ),
    redisShare('saturation.redisCpuUsPerDelivery', atSaturation, 3),
    figure(
      'saturation.clientCpuUsPerDelivery',
      'client CPU per delivery',
      'µs',
      2,
      perDelivery((w) => w.clientCpuUs, atSaturation),
    ),
    figure('saturation.latencyP50Ms', 'saturation latency p50', 'ms', 1, (r) => r.saturation.p50),
    figure('saturation.latencyP99Ms', 'saturation latency p99', 'ms', 1, (r) => r.saturation.p99),
    ...correctness(figure),
    figure('fixed.deliveriesPerSec', 'fixed load: deliveries/s', '', 0, (r) => perSec(r.fixed)),
    figure(
      'fixed.serverCpuUsPerDelivery',
      'fixed load: server CPU per delivery, Redis included',
      'µs',
      2,
      perDelivery((w) => w.serverCpuUs, atFixedLoad),
      { op: '<=', ratio: 1.5 },
    ),
    figure(
      'fixed.serverSystemUsPerDelivery',
      '  of which in the kernel (Redis too)',
      'µs',
      2,
      perDelivery((w) => w.serverSystemUs, atFixedLoad),
    ),
    redisShare('fixed.redisCpuUsPerDelivery', atFixedLoad, 2),
    figure('fixed.latencyP50Ms', 'fixed load latency p50', 'ms', 2, (r) => r.fixed.p50),
    figure('fixed.latencyP99Ms', 'fixed load latency p99', 'ms', 2, (r) => r.fixed.p99, { op: '<', ratio: 2 }),
    figure('fixed.latencyP999Ms', 'fixed load latency p99.9', 'ms', 2, (r) => r.fixed.p999),
    figure(
      'matched.deliveriesPerSec',
      `matched load (${MATCHED_SHARE * 100} % of the cluster's saturation): deliveries/s`,
      '',
      0,
      (r) => perSec(atMatchedLoad(r)),
    ),
    figure(
      'matched.serverCpuUsPerDelivery',
      'matched load: server CPU per delivery, Redis included',
      'µs',
      2,
      perDelivery((w) => w.serverCpuUs, atMatchedLoad),
      { op: '<=', ratio: 1.5 },
    ),
    figure(
      'matched.serverSystemUsPerDelivery',
      '  of which in the kernel (Redis too)',
      'µs',
      2,
      perDelivery((w) => w.serverSystemUs, atMatchedLoad),
    ),
    redisShare('matched.redisCpuUsPerDelivery', atMatchedLoad, 3),
    figure(
      'matched.clientCpuUsPerDelivery',
      'matched load: client CPU per delivery',
      'µs',
      2,
      perDelivery((w) => w.clientCpuUs, atMatchedLoad),
    ),
    figure('matched.latencyP50Ms', 'matched load latency p50', 'ms', 1, (r) => atMatchedLoad(r).p50),
    figure('matched.latencyP99Ms', 'matched load latency p99', 'ms', 1, (r) => atMatchedLoad(r).p99),
  ];
}

export const fanout: Scenario = {
  name: 'fanout',
  async run(ctx) {
    const ref = await runOne(ctx, oneProcess('reference'), { fixed: null, matched: null });
    // Half the reference's saturation rate, the same for every server that follows.
    const fixed = perSec(ref.saturation) / 2;
    const unavailable = ctx.options.cluster ? clusterUnavailable() : 'left out (--no-cluster)';
    if (unavailable !== null) {
      ctx.progress(`SKIPPED the cluster case: ${unavailable}`);
      return referenceFigures(ctx, ref, await runOne(ctx, oneProcess('chat'), { fixed, matched: null }));
    }
    // The cluster first: the single node's matched load is the cluster's.
    const clustered = await runOne(ctx, twoNodes, { fixed, matched: (own) => own * MATCHED_SHARE });
    const matched = perSec(clustered.saturation) * MATCHED_SHARE;
    const chat = await runOne(ctx, oneProcess('chat'), { fixed, matched: () => matched });
    return [...referenceFigures(ctx, ref, chat), ...clusterFigures(ctx, chat, clustered)];
  },
};

if (isMain(import.meta.url)) await runBench([fanout], process.argv.slice(2));
