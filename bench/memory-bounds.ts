/**
 * The memory sessions hold at their bounds, measured in the server's process (JS heap after
 * a full collection, RSS) before and after each step. Two servers, each alone:
 *
 * - History (HISTORY_SIZE=10000, HISTORY_BYTES at its default of 8 MiB): filled to its count
 *   with short messages, then to its byte bound with messages of TEXT_MAX_LENGTH code points
 *   outside the BMP (two UTF-16 units each: the most a message can weigh in the heap). The
 *   heap is compared with history's own estimate of what it holds (machines/history.ts),
 *   which is what HISTORY_BYTES bounds.
 * - Detached sessions (HISTORY_SIZE=0, so that history holds none of it): 1,000 registered
 *   clients, idle, then dropped; then more registered and dropped until MAX_CONNECTIONS
 *   sessions wait, the most there can be; then 1,000 more, each having sent 32 messages with
 *   64-character cids (the most a session remembers), each evicting the oldest plain one.
 *
 *   npm run bench -- --only memory [--sessions N]
 */
import { entryBytes } from '../machines/history.js';
import { sourceAddresses } from './load.js';
import { inBatches, ProbeClient } from './probe-client.js';
import { comparing, type Figure } from './report.js';
import { isMain, runBench, within, type BenchContext, type Scenario } from './runner.js';
import { idleMemory, Target, targetOptions } from './target.js';

const HISTORY_SIZE = 10_000;
/** HISTORY_BYTES's default (src/settings.ts). */
const HISTORY_BYTES = 8 * 1024 * 1024;
const TEXT_MAX_LENGTH = 4096;
const SHORT_TEXT = 16;
const CIDS = 32;
const CID_LENGTH = 64;
/** Connected clients measured beside the detached sessions, and sessions with cids. */
const CONNECTED = 1_000;
const WITH_CIDS = 1_000;
const PHASE_CAP_MS = 300_000;
/**
 * Done before the first reading, so that the code they run is compiled by then: V8's code
 * and type feedback live in the heap too, and would otherwise count as the first step's.
 */
const WARM_UP_MESSAGES = 500;
const WARM_UP_SESSIONS = 100;
/** A session id as src/session-keys.ts makes them: `s` and 12 base64url characters. */
const SESSION_ID = 's'.repeat(13);
/** U+1F600 as JSON escapes, so that the bench's ASCII-only client can send it. */
const ASTRAL = '\\ud83d\\ude00';

const KiB = 1024;
const MiB = 1024 * 1024;

interface HistoryResult {
  shortEntries: number;
  shortEstimateBytes: number;
  shortHeapBytes: number;
  longEntries: number;
  longEstimateBytes: number;
  longHeapBytes: number;
  /** From the stop request to the process's exit, with history full and nobody connected. */
  stopMs: number;
}

interface SessionsResult {
  sessions: number;
  /** From the stop request to the process's exit, with `sessions` waiting for a resume. */
  stopMs: number;
  connectedHeapKiB: number;
  connectedRssKiB: number;
  detachedHeapKiB: number;
  detachedRssKiB: number;
  withCidsHeapKiB: number;
}

/** What history estimates one message entry at, by the same function that enforces the bound. */
function estimate(name: string, textUnits: number, cid?: string): number {
  const frame = { type: 'message' as const, sender: name, text: 'x'.repeat(textUnits), id: '1', ts: 0 };
  return entryBytes({ seq: 1, frame, session: SESSION_ID, cid });
}

/** Sends `count` messages made by `text(i)`, at most `window` unanswered, and waits for the last. */
async function sendAll(client: ProbeClient, count: number, text: (i: number) => string, window = 50): Promise<void> {
  const start = client.echoes;
  for (let i = 0; i < count; i++) {
    if (i - (client.echoes - start) >= window)
      await client.until((c) => i - (c.echoes - start) < window, 60_000, 'an echo');
    client.send(text(i));
  }
  await client.until((c) => c.echoes - start >= count, 60_000, 'the last echo');
}

/**
 * How many of `count` equal messages history holds: as many as its count and byte bounds
 * allow, by the estimate that enforces them. (Not asked of the server with `history`: a
 * replay of thousands of messages is written at once, and past MAX_BUFFERED_BYTES the
 * newcomer is ended as a slow consumer.)
 */
function held(count: number, entryEstimate: number): number {
  return Math.min(count, HISTORY_SIZE, Math.floor(HISTORY_BYTES / entryEstimate));
}

async function measureHistory(ctx: BenchContext): Promise<HistoryResult> {
  const env = { HISTORY_SIZE: String(HISTORY_SIZE), HISTORY_BYTES: String(HISTORY_BYTES), RESUME_WINDOW_MS: '0' };
  const target = ctx.track(await Target.start('chat', targetOptions(ctx.options, 100, env)));
  try {
    const sender = await ProbeClient.register(target.url, 'filler');
    const shortText = (i: number) => `{"text":"${String(i).padStart(SHORT_TEXT, '-')}"}`;
    await sendAll(sender, WARM_UP_MESSAGES, shortText);
    const before = await idleMemory(target);

    ctx.progress(`history: ${HISTORY_SIZE} messages of ${SHORT_TEXT} characters`);
    await sendAll(sender, HISTORY_SIZE, shortText);
    const short = await idleMemory(target);
    const shortEstimate = estimate('filler', SHORT_TEXT);
    const shortEntries = held(HISTORY_SIZE, shortEstimate);
    // What the warm-up's entries held is in `before` already.
    const shortHeapBytes =
      ((short.heapUsedBytes - before.heapUsedBytes) * shortEntries) / (shortEntries - WARM_UP_MESSAGES);

    const longEstimate = estimate('filler', 2 * TEXT_MAX_LENGTH);
    const longCount = Math.ceil(HISTORY_BYTES / longEstimate) + 50;
    ctx.progress(`history: ${longCount} messages of ${TEXT_MAX_LENGTH} code points outside the BMP`);
    const long = `{"text":"${ASTRAL.repeat(TEXT_MAX_LENGTH)}"}`;
    await sendAll(sender, longCount, () => long, 10);
    const full = await idleMemory(target);
    const longEntries = held(longCount, longEstimate);
    sender.drop();
    const stopMs = await timedStop(target);
    return {
      stopMs,
      shortEntries,
      shortEstimateBytes: shortEntries * shortEstimate,
      shortHeapBytes,
      longEntries,
      longEstimateBytes: longEntries * longEstimate,
      // The long messages pushed out the warm-up's entries too, which `before` counted.
      longHeapBytes: full.heapUsedBytes - before.heapUsedBytes + (shortHeapBytes * WARM_UP_MESSAGES) / shortEntries,
    };
  } finally {
    await target.stop();
  }
}

/** A metric's value from the server's /metrics (the first line of that name and labels). */
async function metric(target: Target, series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${target.port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

async function waitForMetric(target: Target, series: string, value: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await metric(target, series)) !== value) {
    if (Date.now() > deadline) throw new Error(`${series} never reached ${value}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** How long the server takes to stop (SPEC §6 allows 5 s), from the request to its exit. */
async function timedStop(target: Target): Promise<number> {
  const started = performance.now();
  await target.stop();
  return performance.now() - started;
}

async function measureSessions(ctx: BenchContext, sessions: number): Promise<SessionsResult> {
  const env = { HISTORY_SIZE: '0', RESUME_WINDOW_MS: String(30 * 60_000) };
  const target = ctx.track(await Target.start('chat', targetOptions(ctx.options, sessions, env)));
  const addresses = sourceAddresses(sessions + WITH_CIDS);
  const address = (i: number) => (addresses.length === 0 ? {} : { localAddress: addresses[i % addresses.length]! });
  const detached = 'chat_sessions_detached';
  try {
    await inBatches(WARM_UP_SESSIONS, 50, async (i) => {
      (await ProbeClient.register(target.url, `w${i}`, address(i))).drop();
    });
    await waitForMetric(target, detached, WARM_UP_SESSIONS);
    const before = await idleMemory(target);

    ctx.progress(`sessions: ${CONNECTED} registered clients, idle`);
    const connected: ProbeClient[] = [];
    await inBatches(CONNECTED, 50, async (i) => {
      connected.push(await ProbeClient.register(target.url, `c${i}`, address(i)));
    });
    // Every join announced to everyone: quiet only once each has heard of all.
    for (const client of connected) await client.until((c) => c.known >= CONNECTED, 60_000, 'the joins');
    const idle = await idleMemory(target);

    ctx.progress(`sessions: dropped, then registered and dropped up to ${sessions} detached`);
    for (const client of connected) client.drop();
    await inBatches(sessions - CONNECTED - WARM_UP_SESSIONS, 50, async (i) => {
      (await ProbeClient.register(target.url, `d${i}`, address(CONNECTED + i))).drop();
    });
    await waitForMetric(target, detached, sessions);
    const bound = await idleMemory(target);

    ctx.progress(`sessions: ${WITH_CIDS} more, each with ${CIDS} cids, evicting as many`);
    await inBatches(WITH_CIDS, 50, async (i) => {
      const client = await ProbeClient.register(target.url, `e${i}`, address(sessions + i));
      const cid = (n: number) => `${i}-${n}-`.padEnd(CID_LENGTH, 'c');
      await sendAll(client, CIDS, (n) => `{"text":"x","cid":"${cid(n)}"}`, CIDS);
      client.drop();
    });
    await waitForMetric(target, 'chat_sessions_ended_total{cause="evicted"}', WITH_CIDS);
    await waitForMetric(target, detached, sessions);
    const withCids = await idleMemory(target);

    const stopMs = await timedStop(target);
    const perSession = (after: number, base: number, n: number) => (after - base) / n / KiB;
    // The warm-up's sessions were detached already at the first reading.
    const added = sessions - WARM_UP_SESSIONS;
    const detachedHeapKiB = perSession(bound.heapUsedBytes, before.heapUsedBytes, added);
    return {
      sessions,
      stopMs,
      connectedHeapKiB: perSession(idle.heapUsedBytes, before.heapUsedBytes, CONNECTED),
      connectedRssKiB: perSession(idle.rssBytes, before.rssBytes, CONNECTED),
      detachedHeapKiB,
      detachedRssKiB: perSession(bound.rssBytes, before.rssBytes, added),
      // Each replaced a plain detached session: the difference is what its cids and messages add.
      withCidsHeapKiB: detachedHeapKiB + perSession(withCids.heapUsedBytes, bound.heapUsedBytes, WITH_CIDS),
    };
  } finally {
    await target.stop();
  }
}

function memoryFigures(history: HistoryResult, sessions: SessionsResult): Figure[] {
  const h = comparing<{ estimate: boolean }>(['estimate', 'heap'], { estimate: true }, { estimate: false }, 'memory.');
  const pick = (estimated: number, measured: number) => (r: { estimate: boolean }) =>
    r.estimate ? estimated : measured;
  const s = comparing<'connected' | 'detached'>(['connected', 'detached'], 'connected', 'detached', 'memory.');
  const bySession = (connected: number, detached: number) => (r: 'connected' | 'detached') =>
    r === 'connected' ? connected : detached;
  return [
    h(
      'history.shortEntryBytes',
      `history at HISTORY_SIZE (${history.shortEntries} messages of ${SHORT_TEXT} characters): per entry`,
      'B',
      0,
      pick(history.shortEstimateBytes / history.shortEntries, history.shortHeapBytes / history.shortEntries),
    ),
    h(
      'history.shortTotalMiB',
      '  the whole history',
      'MiB',
      2,
      pick(history.shortEstimateBytes / MiB, history.shortHeapBytes / MiB),
    ),
    h(
      'history.longEntryKiB',
      `history at HISTORY_BYTES (${history.longEntries} messages of ${TEXT_MAX_LENGTH} astral code points): per entry`,
      'KiB',
      1,
      pick(history.longEstimateBytes / history.longEntries / KiB, history.longHeapBytes / history.longEntries / KiB),
    ),
    h(
      'history.longTotalMiB',
      `  the whole history (HISTORY_BYTES = ${HISTORY_BYTES / MiB} MiB)`,
      'MiB',
      2,
      pick(history.longEstimateBytes / MiB, history.longHeapBytes / MiB),
    ),
    s(
      'sessions.heapKiB',
      `JS heap per session (${CONNECTED} connected; ${sessions.sessions} detached)`,
      'KiB',
      2,
      bySession(sessions.connectedHeapKiB, sessions.detachedHeapKiB),
    ),
    s('sessions.rssKiB', 'RSS per session', 'KiB', 2, bySession(sessions.connectedRssKiB, sessions.detachedRssKiB)),
    {
      ...s(
        'sessions.withCidsHeapKiB',
        `  detached, having sent ${CIDS} messages with ${CID_LENGTH}-character cids`,
        'KiB',
        2,
        bySession(NaN, sessions.withCidsHeapKiB),
      ),
      baseline: null,
    },
    comparing<'idle' | 'waiting'>(['none waiting', `${sessions.sessions} waiting`], 'idle', 'waiting', 'memory.')(
      'sessions.stopMs',
      'stop, request to exit (SPEC §6: within 5 s)',
      'ms',
      0,
      (r) => (r === 'idle' ? history.stopMs : sessions.stopMs),
    ),
  ];
}

export const memoryBounds: Scenario = {
  name: 'memory',
  async run(ctx) {
    const history = await within(PHASE_CAP_MS, 'history memory', measureHistory(ctx));
    const sessions = await within(PHASE_CAP_MS, 'session memory', measureSessions(ctx, ctx.options.sessions));
    return memoryFigures(history, sessions);
  },
};

if (isMain(import.meta.url)) await runBench([memoryBounds], process.argv.slice(2));
