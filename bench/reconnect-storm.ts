/**
 * Reconnect storm through the client library: N library clients (`connect()` from client/)
 * reach the server through a TCP proxy in the bench (bench/cut-proxy.ts) while S senders,
 * library clients connected straight to a server that stays up, keep chatting.
 *
 * - One node: the proxy drops every connection at once, without a close frame, and goes on
 *   accepting; every client reconnects and resumes by itself.
 * - Two nodes on a private Redis: the proxy spreads the clients over both, in turn; then it
 *   sends every new connection to node B (a balancer whose health check failed) and node A
 *   is killed with SIGKILL. Its clients lose their connections and come back through the
 *   proxy to B, where they resume. The senders are on B.
 *
 * Figures: time from the cut (or the kill) until every client that lost its connection is
 * `online` again (its `state` event), reconnects/s, per client p50/p99, server CPU per
 * reconnect, and per client whether it showed (its `message`, `join`, `leave` events) every
 * id of the senders' sequence exactly once and in order, or emitted a `gap`.
 *
 *   npm run bench -- --only reconnect [--no-cluster] [--clients N] [--senders N] [--processes N]
 *   npx tsx bench/reconnect-storm.ts [the same options]
 */
import { ClusterTarget, clusterUnavailable } from './cluster-target.js';
import { CutProxy } from './cut-proxy.js';
import { oneProcess, twoNodes, type StartServers } from './fanout-run.js';
import { senderIndices } from './load.js';
import { cpuOf } from './proc.js';
import { percentile, stormTimes, type StormTimes } from './reconnect-check.js';
import { startReconnectLoad, type ReconnectCheck, type ReconnectReport, type StormStatus } from './reconnect-load.js';
import { comparing, type Columns, type Figure } from './report.js';
import type { Problems } from './resume-check.js';
import { checkAgainstSender0, stopAndSettle } from './storm-verdict.js';
import { isMain, runBench, sleep, within, type BenchContext, type Scenario } from './runner.js';
import { targetOptions } from './target.js';

/** Messages a second from all senders together: a few chatting, not a load test. */
export const RECONNECT_CHAT_PER_SEC = 20;
/** History every node keeps: far more than the storm needs, so a resume never misses for lack of it. */
const HISTORY_SIZE = 10_000;
const CHAT_BEFORE_MS = 2_000;
const CHAT_AFTER_MS = 2_000;
const STORM_CAP_MS = 120_000;
const STATUS_EVERY_MS = 20;

export interface ReconnectResult extends StormTimes {
  /** Client connections the cut (or the kill) dropped. */
  cut: number;
  stillOffline: number;
  /** Sockets opened after the cut, per client that was cut: 1 when every first retry worked. */
  attemptsPerClient: number;
  failedToOpen: number;
  notWelcomed: number;
  /** Per client, from noticing the loss to online again. */
  outageP50Ms: number;
  outageP99Ms: number;
  serverCpuUsPerReconnect: number;
  /** The load processes' CPU (the library clients and the senders), and the bench process's (the proxy). */
  clientCpuUsPerReconnect: number;
  proxyCpuUsPerReconnect: number;
  resumed: number;
  notRecovered: number;
  registeredAgain: number;
  gaps: number;
  lostAfterGap: number;
  clients: Problems;
  senders: Problems;
  rejectedSends: number;
  errors: number;
  /** Ids in the checked span, as the senders showed them. */
  sequenceLength: number;
}

type Storm = 'cut' | 'kill';

const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);
const portOf = (url: string): number => Number(new URL(url).port);
const sorted = (values: number[]) => [...values].sort((a, b) => a - b);

async function runStorm(ctx: BenchContext, start: StartServers, storm: Storm): Promise<ReconnectResult> {
  const { clients: stormClients, senders, processes } = ctx.options;
  const total = stormClients + senders;
  const servers = await start(ctx, targetOptions(ctx.options, 2 * total + 100, { HISTORY_SIZE: String(HISTORY_SIZE) }));
  const kind = `${servers.name} (${storm})`;
  const ports = servers.urls.map(portOf);
  const proxy = ctx.track(await CutProxy.start(ports));
  // The senders' server: the one that is neither cut nor killed (node B of two).
  const senderUrl = servers.urls.at(-1)!;
  const load = ctx.track(await startReconnectLoad(processes));
  try {
    ctx.progress(`${kind}: registering ${stormClients} library clients and ${senders} senders`);
    const slots = senderIndices(total, senders);
    await within(
      STORM_CAP_MS,
      `${kind}: registering`,
      Promise.all(
        load.processes.map((p, i) => {
          const first = Math.floor((i * total) / processes);
          return p.call({
            cmd: 'connect',
            clientUrl: proxy.url(),
            senderUrl,
            first,
            count: Math.floor(((i + 1) * total) / processes) - first,
            total,
            senders: slots,
            concurrency: 50,
          });
        }),
      ),
    );
    const after = Math.max(...(await load.all<number[]>({ cmd: 'positions' })).flat());

    const perSender = RECONNECT_CHAT_PER_SEC / senders;
    ctx.progress(`${kind}: ${senders} senders, ${RECONNECT_CHAT_PER_SEC} messages/s in all`);
    await load.all({ cmd: 'pace', perSenderPerSec: perSender, startUs: nowUs() + 50_000 });
    await sleep(CHAT_BEFORE_MS);

    const killed = storm === 'kill' ? servers.pids[0]! : null;
    const surviving = servers.pids.filter((pid) => pid !== killed);
    const cpu0 = cpuOf(surviving);
    const client0 = cpuOf(load.pids);
    const proxy0 = process.cpuUsage();
    let cut: number;
    let cutUs: number;
    if (storm === 'cut') {
      cutUs = nowUs();
      cut = proxy.cut();
    } else {
      if (!(servers instanceof ClusterTarget)) throw new Error('the kill needs two nodes');
      proxy.only(ports[1]!);
      cut = proxy.connections(ports[0]);
      cutUs = nowUs();
      await servers.crash(0);
    }
    ctx.progress(`${kind}: ${cut} connections ${storm === 'cut' ? 'cut' : 'lost with node A'}`);

    // Polled, with its own deadline so that nothing keeps polling after it; the times are
    // read from each client's own state events, not from when this notices.
    const deadline = Date.now() + STORM_CAP_MS;
    let allBack = false;
    while (!allBack && Date.now() < deadline) {
      const parts = await load.all<StormStatus>({ cmd: 'status', cutUs });
      const left = parts.reduce((sum, s) => sum + s.left, 0);
      const back = parts.reduce((sum, s) => sum + s.back, 0);
      allBack = left >= cut && back === left;
      if (!allBack) await sleep(STATUS_EVERY_MS);
    }
    if (!allBack) ctx.progress(`${kind}: not every client was online again ${STORM_CAP_MS / 1000} s after the cut`);
    const cpu1 = cpuOf(surviving);
    const client1 = cpuOf(load.pids);
    const proxy1 = process.cpuUsage(proxy0);
    const reports = await load.all<ReconnectReport>({ cmd: 'report', cutUs });
    const times = stormTimes(
      cutUs,
      reports.flatMap((r) => r.onlineAgainUs),
    );
    ctx.progress(
      `${kind}: ${times.back} of ${cut} online again in ${times.allOnlineMs.toFixed(0)} ms${allBack ? '' : ' (NOT all)'}`,
    );
    await sleep(CHAT_AFTER_MS);

    const settled = await stopAndSettle(ctx, kind, load, senders, () => ({ cmd: 'settled', timeoutMs: 20_000 }));
    const rejected = settled.refused;
    const verdict = await checkAgainstSender0<ReconnectCheck>(ctx, kind, load, { after, ...settled }, (c) => c.clients);
    const { checks, clients: clientProblems, senders: senderProblems, sequence } = verdict;
    const errors = reports.flatMap((r) => r.errors);
    for (const error of errors.slice(0, 5)) ctx.progress(`${kind}: ${error}`);

    const outages = sorted(reports.flatMap((r) => r.outageUs));
    const sum = (pick: (r: ReconnectReport) => number) => reports.reduce((n, r) => n + pick(r), 0);
    return {
      ...times,
      cut,
      stillOffline: sum((r) => r.stillOffline),
      attemptsPerClient: sum((r) => r.attempts) / Math.max(1, cut),
      failedToOpen: sum((r) => r.failedToOpen),
      notWelcomed: sum((r) => r.notWelcomed),
      outageP50Ms: percentile(outages, 50) / 1000,
      outageP99Ms: percentile(outages, 99) / 1000,
      serverCpuUsPerReconnect: (cpu1.cpuUs - cpu0.cpuUs) / Math.max(1, times.back),
      clientCpuUsPerReconnect: (client1.cpuUs - client0.cpuUs) / Math.max(1, times.back),
      proxyCpuUsPerReconnect: (proxy1.user + proxy1.system) / Math.max(1, times.back),
      resumed: sum((r) => r.resumed),
      notRecovered: sum((r) => r.notRecovered),
      registeredAgain: sum((r) => r.registeredAgain),
      gaps: sum((r) => r.gaps),
      lostAfterGap: checks.reduce((n, c) => n + c.lostAfterGap, 0),
      clients: clientProblems,
      senders: senderProblems,
      rejectedSends: rejected.reduce((n, r) => n + r, 0),
      errors: errors.length,
      sequenceLength: sequence.ids.length,
    };
  } finally {
    await load.close();
    await proxy.close();
    await servers.stop();
  }
}

function stormFigures(
  ctx: BenchContext,
  columns: Columns,
  baseline: ReconnectResult | null,
  measured: ReconnectResult,
): Figure[] {
  const { clients, senders } = ctx.options;
  const both = comparing(columns, baseline ?? measured, measured, 'reconnect.');
  const figure: typeof both = (...args) => {
    const made = both(...args);
    return baseline === null ? { ...made, baseline: null } : made;
  };
  const wrong = (p: Problems) => p.outOfOrder + p.unexpected + p.wrongContent;
  return [
    figure(
      'allOnlineMs',
      `reconnect storm (${clients} library clients; ${senders} senders, ${RECONNECT_CHAT_PER_SEC}/s): cut or kill until all online`,
      'ms',
      0,
      (r) => r.allOnlineMs,
    ),
    figure('cut', 'connections cut (one node) or lost with the killed node', '', 0, (r) => r.cut),
    figure('back', 'clients online again', '', 0, (r) => r.back),
    figure('perSec', 'reconnects/s', '', 0, (r) => r.perSec),
    figure('p50Ms', 'one client, cut to online: p50', 'ms', 1, (r) => r.p50Ms),
    figure('p99Ms', 'one client, cut to online: p99', 'ms', 1, (r) => r.p99Ms),
    figure('outageP99Ms', 'one client, loss noticed to online: p99', 'ms', 1, (r) => r.outageP99Ms),
    figure('attemptsPerClient', 'sockets opened per client cut', '', 2, (r) => r.attemptsPerClient),
    figure('failedToOpen', '  attempts whose socket never opened', '', 0, (r) => r.failedToOpen),
    figure('notWelcomed', '  attempts opened, not welcomed (timeout or closed)', '', 0, (r) => r.notWelcomed),
    figure(
      'serverCpuUsPerReconnect',
      'server CPU per reconnect, chat included (surviving node and Redis)',
      'µs',
      0,
      (r) => r.serverCpuUsPerReconnect,
    ),
    figure(
      'clientCpuUsPerReconnect',
      'client CPU per reconnect (the load processes: library clients, senders)',
      'µs',
      0,
      (r) => r.clientCpuUsPerReconnect,
    ),
    figure(
      'proxyCpuUsPerReconnect',
      'proxy CPU per reconnect (the bench process)',
      'µs',
      0,
      (r) => r.proxyCpuUsPerReconnect,
    ),
    figure('resumed', 'resumed with recovered:true', '', 0, (r) => r.resumed),
    figure('notRecovered', 'resumed with recovered:false', '', 0, (r) => r.notRecovered),
    figure('registeredAgain', 'sessions lost, name registered again', '', 0, (r) => r.registeredAgain),
    figure('gaps', 'gap events', '', 0, (r) => r.gaps),
    figure('lostAfterGap', '  ids missing after a gap', '', 0, (r) => r.lostAfterGap),
    figure('lost', 'lost (ids never shown, no gap)', '', 0, (r) => r.clients.lost + r.senders.lost),
    figure('duplicated', 'duplicated (ids shown twice)', '', 0, (r) => r.clients.duplicated + r.senders.duplicated),
    figure('outOfOrder', 'out of order, unknown or altered ids', '', 0, (r) => wrong(r.clients) + wrong(r.senders)),
    figure('rejectedSends', "senders' sends rejected", '', 0, (r) => r.rejectedSends),
    figure('errors', 'error events and closed clients', '', 0, (r) => r.errors),
    figure('sequenceLength', 'ids checked per client', '', 0, (r) => r.sequenceLength),
  ];
}

export const reconnectStorm: Scenario = {
  name: 'reconnect',
  async run(ctx) {
    const single = await runStorm(ctx, oneProcess('chat'), 'cut');
    const unavailable = ctx.options.cluster ? clusterUnavailable() : 'left out (--no-cluster)';
    if (unavailable !== null) {
      ctx.progress(`SKIPPED the two-node reconnect storm: ${unavailable}`);
      return stormFigures(ctx, ['–', 'single'], null, single);
    }
    const killed = await runStorm(ctx, twoNodes, 'kill');
    return stormFigures(ctx, ['single, cut', 'cluster, kill'], single, killed);
  },
};

if (isMain(import.meta.url)) await runBench([reconnectStorm], process.argv.slice(2));
