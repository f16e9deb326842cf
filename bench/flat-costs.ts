/**
 * What a connect, a registration and a /metrics scrape cost the server as the connections it
 * holds grow (SPEC §5: O(1) in the connections held), as the server's own CPU time per
 * operation with 5,000 and 10,000 connections held, against the same with none.
 *
 * The connections held are unnamed, as an attacker's would be (REGISTER_TIMEOUT_MS is raised
 * so that they stay): they are what connect, registration and /metrics would have to walk
 * were any of them O(N). Held registered clients would add the protocol's own O(N), each
 * join announced to every one of them, which is not what this measures. Per step:
 *
 * - connect: a WebSocket opened and dropped, CONNECTS times, 20 at a time;
 * - registration: a name registered and its connection dropped (RESUME_WINDOW_MS=0, so its
 *   session ends at once), REGISTRATIONS times, 20 at a time;
 * - scrape: GET /metrics, SCRAPES times, one after another;
 * - and the time and server CPU to open the held connections, 200 at a time.
 *
 *   npm run bench -- --only flat
 */
import { sourceAddresses } from './load.js';
import { inBatches, ProbeClient } from './probe-client.js';
import { comparing, type Figure } from './report.js';
import { isMain, runBench, sleep, within, type BenchContext, type Scenario } from './runner.js';
import { Target, targetOptions } from './target.js';
import { WireClient } from './wire-client.js';

const HELD = [5_000, 10_000] as const;
const CONNECTS = 2_000;
const REGISTRATIONS = 1_000;
const SCRAPES = 1_000;
const STEP_CAP_MS = 300_000;
/** How long the server's idle upkeep is measured before each step. */
const IDLE_MS = 3_000;

/** Per-operation server CPU (µs) at one number of connections held. */
interface Costs {
  connectUs: number;
  registrationUs: number;
  /** Of registrationUs, the time in V8's garbage collections (nodejs_gc_duration_seconds). */
  registrationGcUs: number;
  scrapeUs: number;
  /** Server CPU per second with nothing happening but the connections held. */
  idleUsPerSec: number;
}

/** Seconds the server has spent in garbage collection so far, from its /metrics. */
async function gcSeconds(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  let sum = 0;
  for (const line of text.split('\n'))
    if (line.startsWith('nodejs_gc_duration_seconds_sum')) sum += Number(line.split(' ').at(-1));
  return sum;
}

interface FlatResult {
  none: Costs;
  held: Map<number, Costs>;
  /** Opening the largest number held, from none: wall time and server CPU. */
  openMs: number;
  openCpuMs: number;
}

/** Opens a WebSocket from `localAddress` and resolves once it is open, with the client. */
function open(url: string, localAddress: string | undefined): Promise<WireClient> {
  return new Promise((resolve, reject) => {
    const client: WireClient = new WireClient(
      url,
      {
        open: () => resolve(client),
        frame: () => {},
        close: (error) => reject(error ?? new Error('closed before it opened')),
      },
      localAddress,
    );
  });
}

/** Server CPU (µs) that `work` cost, per one of its `count` operations. */
/**
 * Server CPU (µs) that `work` cost, per one of its `count` operations, above `idleUsPerMs`:
 * what the connections held cost meanwhile anyway (heartbeat pings, Node's checks of its
 * HTTP connections), which would otherwise be charged to whichever step ran longer.
 */
async function cpuPer(
  target: Target,
  count: number,
  idleUsPerMs: number,
  what: string,
  work: () => Promise<void>,
): Promise<number> {
  const before = target.sample().cpuUs;
  const started = performance.now();
  await within(STEP_CAP_MS, what, work());
  const upkeep = idleUsPerMs * (performance.now() - started);
  return Math.max(0, target.sample().cpuUs - before - upkeep) / count;
}

/** Server CPU (µs) per ms of wall time while nothing happens but the connections held. */
async function idleRate(target: Target): Promise<number> {
  const before = target.sample().cpuUs;
  await sleep(IDLE_MS);
  return (target.sample().cpuUs - before) / IDLE_MS;
}

async function costs(target: Target, url: string, addresses: string[], step: string): Promise<Costs> {
  const idleUsPerMs = await idleRate(target);
  const from = (i: number) => (addresses.length === 0 ? undefined : addresses[i % addresses.length]);
  const connectUs = await cpuPer(target, CONNECTS, idleUsPerMs, `${step}: connects`, () =>
    inBatches(CONNECTS, 20, async (i) => (await open(url, from(i))).destroy()),
  );
  const metricsUrl = url.replace(/^ws/, 'http').replace(/\/ws$/, '/metrics');
  const gcBefore = await gcSeconds(metricsUrl);
  const registrationUs = await cpuPer(target, REGISTRATIONS, idleUsPerMs, `${step}: registrations`, () =>
    inBatches(REGISTRATIONS, 20, async (i) =>
      (await ProbeClient.register(url, `r${step}-${i}`, { localAddress: from(i) })).drop(),
    ),
  );
  const registrationGcUs = (((await gcSeconds(metricsUrl)) - gcBefore) * 1e6) / REGISTRATIONS;
  const scrapeUs = await cpuPer(target, SCRAPES, idleUsPerMs, `${step}: scrapes`, async () => {
    for (let i = 0; i < SCRAPES; i++) {
      const response = await fetch(metricsUrl);
      if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
      await response.text();
    }
  });
  return { connectUs, registrationUs, registrationGcUs, scrapeUs, idleUsPerSec: idleUsPerMs * 1000 };
}

async function measure(ctx: BenchContext): Promise<FlatResult> {
  const most = HELD.at(-1)!;
  const target = ctx.track(
    await Target.start(
      'chat',
      targetOptions(ctx.options, most + 1_000, {
        REGISTER_TIMEOUT_MS: String(STEP_CAP_MS * 4),
        RESUME_WINDOW_MS: '0',
      }),
    ),
  );
  const url = target.urls[0]!;
  const addresses = sourceAddresses(most + CONNECTS + REGISTRATIONS);
  const held: WireClient[] = [];
  try {
    ctx.progress('flat costs: nothing held');
    // Once before measuring, so that the code is compiled by the first step's readings.
    await costs(target, url, addresses, 'warm-up');
    const none = await costs(target, url, addresses, '0');
    const byHeld = new Map<number, Costs>();
    let openMs = 0;
    let openCpuUs = 0;
    for (const count of HELD) {
      ctx.progress(`flat costs: opening up to ${count} held connections`);
      const started = performance.now();
      const cpu0 = target.sample().cpuUs;
      const first = held.length;
      await within(
        STEP_CAP_MS,
        `opening ${count} connections`,
        inBatches(count - first, 200, async (i) => {
          held.push(await open(url, addresses[(first + i) % Math.max(1, addresses.length)]));
        }),
      );
      openMs += performance.now() - started;
      openCpuUs += target.sample().cpuUs - cpu0;
      ctx.progress(`flat costs: ${count} held`);
      byHeld.set(count, await costs(target, url, addresses, String(count)));
    }
    return { none, held: byHeld, openMs, openCpuMs: openCpuUs / 1000 };
  } finally {
    for (const client of held) client.destroy();
    await target.stop();
  }
}

function figures(result: FlatResult): Figure[] {
  const out: Figure[] = [];
  for (const [count, at] of result.held) {
    const both = comparing(['none held', `${count} held`], result.none, at, `flat.${count}.`);
    const within12 = { op: '<=', ratio: 1.2 } as const;
    out.push(
      both(
        'connectUs',
        `server CPU per connect (open, drop), ${count} connections held`,
        'µs',
        0,
        (c) => c.connectUs,
        within12,
      ),
      both(
        'registrationUs',
        `server CPU per registration (register, drop), ${count} held`,
        'µs',
        0,
        (c) => c.registrationUs,
        within12,
      ),
      both('registrationGcUs', `  of which in garbage collection, ${count} held`, 'µs', 0, (c) => c.registrationGcUs),
      both(
        'idleUsPerSec',
        `server CPU per second, idle but for the ${count} held (not in the above)`,
        'µs',
        0,
        (c) => c.idleUsPerSec,
      ),
      both('scrapeUs', `server CPU per /metrics scrape, ${count} held`, 'µs', 0, (c) => c.scrapeUs, within12),
    );
  }
  const most = HELD.at(-1)!;
  out.push(
    {
      key: 'flat.openMs',
      label: `time to open ${most} connections, 200 at a time`,
      unit: 'ms',
      decimals: 0,
      columns: ['', 'chat'],
      baseline: null,
      measured: result.openMs,
    },
    {
      key: 'flat.openCpuMs',
      label: `server CPU to open ${most} connections`,
      unit: 'ms',
      decimals: 0,
      columns: ['', 'chat'],
      baseline: null,
      measured: result.openCpuMs,
    },
  );
  return out;
}

export const flatCosts: Scenario = {
  name: 'flat',
  async run(ctx) {
    return figures(await measure(ctx));
  },
};

if (isMain(import.meta.url)) await runBench([flatCosts], process.argv.slice(2));
