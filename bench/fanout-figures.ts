/**
 * The fan-out figures from the runs' results: this server against the reference, and the
 * cluster against the single node.
 */
import { CLUSTER_NODES } from './cluster-target.js';
import { MATCHED_SHARE, perSec, type FanoutResult, type Window } from './fanout-run.js';
import { comparing, type Columns, type Figure } from './report.js';
import type { BenchContext } from './runner.js';

const perDelivery = (us: (w: Window) => number, pickWindow: (r: FanoutResult) => Window) => (r: FanoutResult) =>
  us(pickWindow(r)) / pickWindow(r).deliveries;
const atSaturation = (r: FanoutResult) => r.saturation;
const atFixedLoad = (r: FanoutResult) => r.fixed;

export function referenceFigures(ctx: BenchContext, ref: FanoutResult, chat: FanoutResult): Figure[] {
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

function correctness(figure: ReturnType<typeof comparing<FanoutResult>>): Figure[] {
  return [
    figure('correctness.lost', 'lost deliveries (whole run)', '', 0, (r) => r.lost),
    figure('correctness.duplicated', 'duplicated deliveries', '', 0, (r) => r.duplicated),
    figure('correctness.outOfOrder', 'ids out of order', '', 0, (r) => r.outOfOrder),
    figure('correctness.unexpected', 'errors, leaves, closes seen', '', 0, (r) => r.unexpected),
  ];
}

/** The cluster against the single node, the cost counted over both nodes and Redis. */
export function clusterFigures(ctx: BenchContext, singleNode: FanoutResult, clustered: FanoutResult): Figure[] {
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
