/**
 * Join storm, then idle memory: N clients connect and register as fast as the server takes
 * them (each join announced to everyone online: N(N−1)/2 deliveries), then sit idle while
 * the server's resident memory is read after a full collection.
 *
 * - joins/s: N / time from the first connect until every client has seen every join;
 * - RSS per registered idle connection: (RSS idle with N − RSS before any client) / N,
 *   both once settled (see idleMemory) and after a full GC, without V8's young generation
 *   (its size follows the recent allocation rate, not the connections held).
 *
 *   npm run bench -- --only storm            (N = 3,000; --large adds N = 10,000)
 */
import { Load, sourceAddresses } from './load.js';
import { comparing } from './report.js';
import { isMain, runBench, within, type BenchContext, type Scenario } from './runner.js';
import { idleMemory, Target, targetOptions, TARGETS, type TargetKind } from './target.js';

interface StormResult {
  joinsPerSec: number;
  serverCpuUsPerJoin: number;
  clientCpuUsPerJoin: number;
  rssPerConnectionKiB: number;
  heapPerConnectionKiB: number;
}

/**
 * The storm's time cap: N(N−1)/2 deliveries at 10,000/s, a third of what the reference
 * manages on a busy 2-core machine, and never under 5 minutes (10 min at N = 3,000, 83 at
 * 10,000: the reference alone needs about half an hour there).
 */
function stormCapMs(clients: number): number {
  return Math.max(5 * 60_000, ((clients * (clients - 1)) / 2 / 10_000) * 1000);
}

async function runOne(ctx: BenchContext, kind: TargetKind, clients: number): Promise<StormResult> {
  const target = ctx.track(await Target.start(kind, targetOptions(ctx.options, clients + 100)));
  const load = ctx.track(
    await Load.start({
      clients,
      senders: 0,
      processes: ctx.options.processes,
      localAddresses: sourceAddresses(clients),
      concurrency: 50,
    }),
  );
  try {
    const before = await idleMemory(target);
    ctx.progress(`${kind}: join storm of ${clients} clients`);
    const started = performance.now();
    const server0 = target.sample().cpuUs;
    const client0 = load.cpu().cpuUs;
    await within(stormCapMs(clients), `${kind}: join storm`, load.connect(target.urls));
    const seconds = (performance.now() - started) / 1000;
    const serverCpuUs = target.sample().cpuUs - server0;
    const clientCpuUs = load.cpu().cpuUs - client0;
    ctx.progress(`${kind}: ${(clients / seconds).toFixed(0)} joins/s`);

    const idle = await idleMemory(target);
    return {
      joinsPerSec: clients / seconds,
      serverCpuUsPerJoin: serverCpuUs / clients,
      clientCpuUsPerJoin: clientCpuUs / clients,
      rssPerConnectionKiB: (idle.rssBytes - before.rssBytes) / clients / 1024,
      heapPerConnectionKiB: (idle.heapUsedBytes - before.heapUsedBytes) / clients / 1024,
    };
  } finally {
    await load.close();
    await target.stop();
  }
}

/** The storm at `clients` (default: --storm-clients); a fixed count gets its own figure names. */
export function joinStorm(clients?: number): Scenario {
  const prefix = clients === undefined ? '' : `n${clients}.`;
  return {
    name: clients === undefined ? 'storm' : `storm-${clients}`,
    async run(ctx) {
      const n = clients ?? ctx.options.stormClients;
      const results = {} as Record<TargetKind, StormResult>;
      for (const kind of TARGETS) results[kind] = await runOne(ctx, kind, n);
      const { reference: ref, chat } = results;
      const both = comparing(undefined, ref, chat, prefix);
      return [
        both('storm.joinsPerSec', `join storm (N=${n}): joins/s`, '', 0, (r) => r.joinsPerSec, {
          op: '>=',
          ratio: 0.8,
        }),
        both('storm.serverCpuUsPerJoin', 'join storm: server CPU per join', 'µs', 0, (r) => r.serverCpuUsPerJoin),
        both('storm.clientCpuUsPerJoin', 'join storm: client CPU per join', 'µs', 0, (r) => r.clientCpuUsPerJoin),
        both(
          'idle.rssKiBPerConnection',
          `idle RSS per registered connection (N=${n})`,
          'KiB',
          1,
          (r) => r.rssPerConnectionKiB,
          { op: '<=', ratio: 1.3 },
        ),
        both(
          'idle.heapKiBPerConnection',
          `idle JS heap per registered connection (N=${n})`,
          'KiB',
          1,
          (r) => r.heapPerConnectionKiB,
        ),
      ];
    },
  };
}

if (isMain(import.meta.url)) await runBench([joinStorm()], process.argv.slice(2));
