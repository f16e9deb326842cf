/**
 * One fan-out run: start the servers, register the clients, then measure saturation, the
 * fixed load and (cluster case) the matched load, checking every delivery on the way.
 */
import { ClusterTarget } from './cluster-target.js';
import { Load, sourceAddresses } from './load.js';
import { cpuOf } from './proc.js';
import { sleep, within, type BenchContext } from './runner.js';
import { Target, targetOptions, type Servers, type TargetOptions } from './target.js';

export interface Window {
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

export interface FanoutResult {
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
export type StartServers = (ctx: BenchContext, options: TargetOptions) => Promise<Servers>;

export const oneProcess =
  (kind: 'reference' | 'chat'): StartServers =>
  async (ctx, options) =>
    ctx.track(await Target.start(kind, options));
export const twoNodes: StartServers = async (ctx, options) =>
  ctx.track(await ClusterTarget.start(options, (started) => ctx.track(started)));

/** The open-loop loads of one run, in deliveries/s. */
export interface Loads {
  /** The fixed load; null: half this server's own saturation rate (the reference's run). */
  fixed: number | null;
  /** A second, higher load, from this run's saturation rate; null: none. */
  matched: ((ownSaturationPerSec: number) => number) | null;
}

export async function runOne(ctx: BenchContext, start: StartServers, loads: Loads): Promise<FanoutResult> {
  const { clients, senders, processes, window, warmupMs, measureMs } = ctx.options;
  const target = await start(ctx, targetOptions(ctx.options, clients + 100));
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

export const perSec = (w: Window) => w.deliveries / w.seconds;

/**
 * The matched load: this share of the cluster's saturation rate, open loop, for the cluster
 * and then the single node. Per-delivery cost falls as the rate grows (a busier turn writes
 * more frames per system call), so costs are compared at equal rates: the fixed load, far
 * below either's capacity, and this one, near the cluster's. Kept below its saturation so
 * that the open loop does not queue without end.
 */
export const MATCHED_SHARE = 0.75;
