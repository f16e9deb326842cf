/**
 * Resume storm: N registered clients lose their connections at once (no close frame) while
 * S senders keep chatting; every one resumes at once with its session, epoch and `since` =
 * the last id it processed. On one node, then on two cluster nodes sharing a private Redis,
 * where every other client resumes on the node it did not register on.
 *
 * - Time from the drop until every client has its resumed welcome, and resumes/s.
 * - Exactly once: each client's processed ids (before the drop, the replay, live frames
 *   after it) against the senders' over the same span, by id and content. Lost,
 *   duplicated, out of order must be 0; so must resumes that failed or did not recover,
 *   which HISTORY_SIZE=10000 (100 s of the senders' chat) rules out as a cause.
 *
 *   npm run bench -- --only resume [--no-cluster] [--clients N] [--senders N]
 */
import { clusterUnavailable } from './cluster-target.js';
import { oneProcess, twoNodes, type StartServers } from './fanout-run.js';
import { sourceAddresses, senderIndices } from './load.js';
import { cpuOf } from './proc.js';
import { comparing, type Columns, type Figure } from './report.js';
import type { Problems } from './resume-check.js';
import { checkAgainstSender0, stopAndSettle } from './storm-verdict.js';
import { startResumeLoad, type CheckReport, type ResumeReport } from './resume-load.js';
import { isMain, runBench, sleep, within, type BenchContext, type Scenario } from './runner.js';
import { targetOptions } from './target.js';

/** Messages per second per sender: the default rate limit's sustained rate. */
export const RESUME_SENDER_RATE = Number(process.env.RATE ?? 10);
/** History every node keeps: far more than the storm needs, so a resume never misses for lack of it. */
export const RESUME_HISTORY_SIZE = 10_000;
/** Chat before the drop and after the last resume, so that each client has frames on both sides. */
const CHAT_BEFORE_MS = 2_000;
const CHAT_AFTER_MS = 2_000;
const STORM_CAP_MS = 120_000;

export interface StormResult {
  allResumedMs: number;
  resumesPerSec: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  serverCpuUsPerResume: number;
  replayedPerResume: number;
  movedNodes: number;
  failed: number;
  notRecovered: number;
  /** Answers of server_unavailable (cluster: Redis out of reach, or a node that thinks so). */
  refusedMessages: number;
  resumeRetries: number;
  /** Joins and leaves the senders saw during the storm: nobody left, so none. */
  joinsOrLeaves: number;
  /** Ids in the checked span, as the senders saw them. */
  sequenceLength: number;
  dropped: Problems;
  senders: Problems;
  unexpectedFrames: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function runStorm(ctx: BenchContext, start: StartServers): Promise<StormResult> {
  const { clients: dropped, senders, processes } = ctx.options;
  const total = dropped + senders;
  // Room for a dropped connection the server has not noticed yet beside its resume.
  const servers = await start(
    ctx,
    targetOptions(ctx.options, 2 * total + 100, { HISTORY_SIZE: String(RESUME_HISTORY_SIZE) }),
  );
  const kind = servers.name;
  const nodes = servers.urls.length;
  if (processes % nodes !== 0) throw new Error(`--processes must be a multiple of ${nodes} for the cluster`);
  const load = ctx.track(await startResumeLoad(processes));
  try {
    ctx.progress(`${kind}: registering ${dropped} clients and ${senders} senders`);
    const slots = senderIndices(total, senders);
    const localAddresses = sourceAddresses(2 * total);
    await within(
      STORM_CAP_MS,
      `${kind}: registering`,
      Promise.all(
        load.processes.map((p, i) => {
          const first = Math.floor((i * total) / processes);
          return p.call({
            cmd: 'connect',
            urls: [...servers.urls],
            node: Math.floor((i * nodes) / processes),
            switchNodes: nodes > 1,
            first,
            count: Math.floor(((i + 1) * total) / processes) - first,
            total,
            senders: slots,
            localAddresses,
            concurrency: 50,
          });
        }),
      ),
    );
    const positions = (await load.all<number[]>({ cmd: 'positions' })).flat();
    const after = Math.max(...positions);
    if (Math.min(...positions) !== after) ctx.progress(`${kind}: clients did not all start at one position`);

    ctx.progress(`${kind}: ${senders} senders at ${RESUME_SENDER_RATE}/s each, then ${dropped} clients dropped`);
    await load.all({ cmd: 'pace', perSenderPerSec: RESUME_SENDER_RATE, startUs: nowUs() + 50_000 });
    await sleep(CHAT_BEFORE_MS);

    const cpu0 = cpuOf(servers.pids);
    const droppedAt = nowUs();
    await load.all({ cmd: 'drop' });
    const reports = await load.all<ResumeReport>({ cmd: 'awaitResumed', timeoutMs: STORM_CAP_MS });
    const cpu1 = cpuOf(servers.pids);
    const resumed = reports.reduce((sum, r) => sum + r.resumed, 0);
    const lastResumedUs = Math.max(...reports.map((r) => r.lastResumedUs));
    const allResumedMs = (lastResumedUs - droppedAt) / 1000;
    ctx.progress(`${kind}: ${resumed} of ${dropped} resumed in ${allResumedMs.toFixed(0)} ms`);
    for (const failure of reports.flatMap((r) => r.failures).slice(0, 5)) ctx.progress(`${kind}: ${failure}`);
    await sleep(CHAT_AFTER_MS);

    const settled = await stopAndSettle(ctx, kind, load, senders, (finals) => ({
      cmd: 'echoes',
      finals,
      timeoutMs: 20_000,
    }));
    const verdict = await checkAgainstSender0<CheckReport>(ctx, kind, load, { after, ...settled }, (c) => c.dropped);
    const { checks, clients: droppedProblems, senders: senderProblems, sequence } = verdict;
    const { refused } = settled;

    const latencies = reports.flatMap((r) => r.latenciesUs).sort((a, b) => a - b);
    return {
      allResumedMs,
      resumesPerSec: resumed / (allResumedMs / 1000),
      latencyP50Ms: percentile(latencies, 50) / 1000,
      latencyP99Ms: percentile(latencies, 99) / 1000,
      serverCpuUsPerResume: (cpu1.cpuUs - cpu0.cpuUs) / dropped,
      replayedPerResume: reports.reduce((sum, r) => sum + r.replayed, 0) / Math.max(1, resumed),
      movedNodes: reports.reduce((sum, r) => sum + r.movedNodes, 0),
      failed: reports.reduce((sum, r) => sum + r.failed, 0),
      notRecovered: reports.reduce((sum, r) => sum + r.notRecovered, 0),
      refusedMessages: refused.reduce((sum, n) => sum + n, 0),
      resumeRetries: reports.reduce((sum, r) => sum + r.retries, 0),
      joinsOrLeaves: sequence.keys.filter((key) => key < 0).length,
      sequenceLength: sequence.ids.length,
      dropped: droppedProblems,
      senders: senderProblems,
      unexpectedFrames: checks.reduce((sum, c) => sum + c.unexpectedFrames, 0),
    };
  } finally {
    await load.close();
    await servers.stop();
  }
}

const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

function stormFigures(
  ctx: BenchContext,
  columns: Columns,
  baseline: StormResult | null,
  measured: StormResult,
): Figure[] {
  const { clients, senders } = ctx.options;
  const both = comparing(columns, baseline ?? measured, measured, 'resume.');
  const figure: typeof both = (...args) => {
    const made = both(...args);
    return baseline === null ? { ...made, baseline: null } : made;
  };
  return [
    figure(
      'allResumedMs',
      `resume storm (${clients} dropped, ${senders} senders at ${RESUME_SENDER_RATE}/s): time until all resumed`,
      'ms',
      0,
      (r) => r.allResumedMs,
    ),
    figure('resumesPerSec', 'resumes/s', '', 0, (r) => r.resumesPerSec),
    figure('latencyP50Ms', 'one resume, connect to welcome: p50', 'ms', 1, (r) => r.latencyP50Ms),
    figure('latencyP99Ms', 'one resume, connect to welcome: p99', 'ms', 1, (r) => r.latencyP99Ms),
    figure('serverCpuUsPerResume', 'server CPU per resume, chat included', 'µs', 0, (r) => r.serverCpuUsPerResume),
    figure('replayedPerResume', 'frames replayed per resume', '', 1, (r) => r.replayedPerResume),
    { ...figure('movedNodes', 'resumed on the other node', '', 0, (r) => r.movedNodes), baseline: null },
    figure('failed', 'resumes that failed', '', 0, (r) => r.failed),
    figure('notRecovered', 'resumes with recovered:false', '', 0, (r) => r.notRecovered),
    figure('resumeRetries', 'resumes answered server_unavailable, tried again', '', 0, (r) => r.resumeRetries),
    figure('refusedMessages', 'messages answered server_unavailable', '', 0, (r) => r.refusedMessages),
    figure(
      'deliveredDespiteRefusal',
      '  of which delivered all the same',
      '',
      0,
      (r) => r.senders.deliveredDespiteRefusal,
    ),
    figure('lost', 'lost (ids never processed)', '', 0, (r) => r.dropped.lost + r.senders.lost),
    figure('duplicated', 'duplicated (ids processed twice)', '', 0, (r) => r.dropped.duplicated + r.senders.duplicated),
    figure(
      'outOfOrder',
      'out of order, unknown or altered ids',
      '',
      0,
      (r) =>
        r.dropped.outOfOrder +
        r.dropped.unexpected +
        r.dropped.wrongContent +
        r.senders.outOfOrder +
        r.senders.unexpected +
        r.senders.wrongContent,
    ),
    figure('joinsOrLeaves', 'joins or leaves announced', '', 0, (r) => r.joinsOrLeaves),
    figure('unexpectedFrames', 'errors and closes seen', '', 0, (r) => r.unexpectedFrames),
    figure('sequenceLength', 'ids checked per client', '', 0, (r) => r.sequenceLength),
  ];
}

export const resumeStorm: Scenario = {
  name: 'resume',
  async run(ctx) {
    const single = await runStorm(ctx, oneProcess('chat'));
    const unavailable = ctx.options.cluster ? clusterUnavailable() : 'left out (--no-cluster)';
    if (unavailable !== null) {
      ctx.progress(`SKIPPED the cluster's resume storm: ${unavailable}`);
      return stormFigures(ctx, ['–', 'single'], null, single);
    }
    const clustered = await runStorm(ctx, twoNodes);
    return stormFigures(ctx, ['single', 'cluster'], single, clustered);
  },
};

if (isMain(import.meta.url)) await runBench([resumeStorm], process.argv.slice(2));
