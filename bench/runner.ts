/**
 * Runs bench scenarios: reads the options, keeps the whole run under a time cap, kills
 * every process it started whatever happens, then prints the table (or JSON lines) and
 * appends the run to bench/results.jsonl.
 */
import { parseArgs } from 'node:util';
import { appendResults, jsonLines, table, type Figure } from './report.js';
import { openFilesLimit } from './proc.js';

export interface BenchOptions {
  /** Registered clients during the fan-out scenarios. */
  clients: number;
  senders: number;
  /** Messages a sender may have sent and not yet seen echoed, at saturation. */
  window: number;
  /** Load processes on the client side. */
  processes: number;
  warmupMs: number;
  measureMs: number;
  /** Clients in the join storm and the idle-memory count. */
  stormClients: number;
  large: boolean;
  /** Whether the fan-out also runs as a cluster (two nodes on a private Redis). */
  cluster: boolean;
  json: boolean;
  profileDir: string | null;
  logLevel: string;
  /** Hard cap on the whole run. */
  maxMinutes: number;
  /** Recorded with the run in results.jsonl: what was special about it. */
  note: string | null;
}

/** Clients of the extra idle-memory run that --large adds. */
export const LARGE_CLIENTS = 10_000;

/** Something a scenario started that must not outlive the run. */
export interface Killable {
  kill(): void;
}

export interface BenchContext {
  options: BenchOptions;
  /** Registers a process (or group) to kill if the run fails or runs out of time. */
  track<T extends Killable>(thing: T): T;
  progress(message: string): void;
}

export interface Scenario {
  name: string;
  run(ctx: BenchContext): Promise<Figure[]>;
}

const USAGE = `usage: npm run bench -- [--json] [--large] [--no-cluster] [--only NAME,...] [--clients N] [--senders N]
       [--window N] [--processes N] [--warmup-ms N] [--measure-ms N] [--storm-clients N]
       [--profile DIR] [--log-level LEVEL] [--max-minutes N] [--note TEXT]`;

export function readOptions(argv: string[]): BenchOptions & { only: string[] | null } {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      large: { type: 'boolean', default: false },
      'no-cluster': { type: 'boolean', default: false },
      only: { type: 'string' },
      clients: { type: 'string', default: '1000' },
      senders: { type: 'string', default: '10' },
      window: { type: 'string', default: '2' },
      processes: { type: 'string', default: '4' },
      'warmup-ms': { type: 'string', default: '2000' },
      'measure-ms': { type: 'string', default: '6000' },
      'storm-clients': { type: 'string' },
      profile: { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      'max-minutes': { type: 'string' },
      note: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const whole = (name: string, raw: string | undefined, min = 1): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) {
      console.error(`bench: --${name} must be a whole number ≥ ${min}\n${USAGE}`);
      process.exit(1);
    }
    return n;
  };
  const large = values.large;
  return {
    clients: whole('clients', values.clients),
    senders: whole('senders', values.senders),
    window: whole('window', values.window),
    processes: whole('processes', values.processes),
    warmupMs: whole('warmup-ms', values['warmup-ms'], 0),
    measureMs: whole('measure-ms', values['measure-ms'], 500),
    stormClients: whole('storm-clients', values['storm-clients'] ?? '3000'),
    large,
    cluster: !values['no-cluster'],
    json: values.json,
    profileDir: values.profile ?? null,
    logLevel: values['log-level'],
    maxMinutes: whole('max-minutes', values['max-minutes'] ?? (large ? '150' : '15')),
    note: values.note ?? null,
    only: values.only === undefined ? null : values.only.split(','),
  };
}

export async function runBench(scenarios: readonly Scenario[], argv: string[]): Promise<void> {
  const { only, ...options } = readOptions(argv);
  const chosen = only === null ? scenarios : scenarios.filter((s) => only.includes(s.name));
  const startedAt = new Date();
  const started = Date.now();
  const live = new Set<Killable>();
  const killAll = () => {
    for (const thing of live) thing.kill();
  };
  const ctx: BenchContext = {
    options,
    track: (thing) => (live.add(thing), thing),
    progress: (message) =>
      process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${message}\n`),
  };

  const needed = Math.max(options.clients, options.stormClients, options.large ? LARGE_CLIENTS : 0) + 200;
  if (openFilesLimit() < needed) {
    console.error(
      `bench: the open-files limit (ulimit -n) is ${openFilesLimit()}; this run needs about ${needed}. Raise it (ulimit -n ${needed}) and run again.`,
    );
    process.exit(1);
  }

  const watchdog = setTimeout(() => {
    ctx.progress(`time cap of ${options.maxMinutes} min reached: stopping every process`);
    killAll();
    process.exit(2);
  }, options.maxMinutes * 60_000);
  process.on('exit', killAll);
  // Stopped from outside (Ctrl-C, `timeout`, a CI cancel): 'exit' does not run on a signal,
  // and redis-server, unlike the forked servers, has no IPC channel to notice the loss.
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      ctx.progress(`${signal}: stopping every process`);
      process.exit(code);
    });
  }

  const figures: Figure[] = [];
  try {
    for (const scenario of chosen) {
      ctx.progress(`scenario ${scenario.name}`);
      figures.push(...(await scenario.run(ctx)));
    }
  } catch (err) {
    ctx.progress(`failed: ${(err as Error).stack ?? String(err)}`);
    killAll();
    process.exit(1);
  }
  clearTimeout(watchdog);

  if (options.json) console.log(jsonLines(figures));
  else {
    console.log(`\n${chosen.map((s) => s.name).join(' + ')} · node ${process.version} · ${startedAt.toISOString()}\n`);
    console.log(table(figures));
  }
  appendResults(new URL('./results.jsonl', import.meta.url), options, figures, startedAt);
  ctx.progress(`done in ${((Date.now() - started) / 1000).toFixed(0)} s; appended to bench/results.jsonl`);
}

/** Rejects with `what` named if `promise` takes longer than `ms`. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether this module file is the one node was asked to run. */
export function isMain(url: string): boolean {
  return process.argv[1] !== undefined && new URL(url).pathname === process.argv[1];
}
