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
  /** Detached sessions the memory scenario fills up to (its server's MAX_CONNECTIONS). */
  sessions: number;
  /** Smaller counts and shorter phases, for trying the bench out; such a run is not recorded. */
  quick: boolean;
  large: boolean;
  /** Whether the fan-out also runs as a cluster (two nodes on a private Redis). */
  cluster: boolean;
  json: boolean;
  profileDir: string | null;
  logLevel: string;
  /** Where each server's log is written, one file per server; null: discarded. */
  logDir: string | null;
  /** Hard cap on the whole run. */
  maxMinutes: number;
  /** Recorded with the run in results.jsonl: what was special about it. */
  note: string | null;
  /** The commit the A/B scenario runs this server against; null: no A/B. */
  base: string | null;
  abRounds: number;
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

const USAGE = `usage: npm run bench -- [--json] [--large] [--quick] [--no-cluster] [--only NAME,...] [--clients N] [--senders N]
       [--window N] [--processes N] [--warmup-ms N] [--measure-ms N] [--storm-clients N] [--sessions N]
       [--profile DIR] [--log-level LEVEL] [--server-logs DIR] [--max-minutes N] [--note TEXT]
       [--base COMMIT [--ab-rounds N]]   (adds the A/B scenario, "ab": this server against COMMIT's)`;

export function readOptions(argv: string[]): BenchOptions & { only: string[] | null } {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      large: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      'no-cluster': { type: 'boolean', default: false },
      only: { type: 'string' },
      clients: { type: 'string' },
      senders: { type: 'string', default: '10' },
      window: { type: 'string', default: '2' },
      processes: { type: 'string', default: '4' },
      'warmup-ms': { type: 'string' },
      'measure-ms': { type: 'string' },
      'storm-clients': { type: 'string' },
      sessions: { type: 'string' },
      profile: { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      'server-logs': { type: 'string' },
      'max-minutes': { type: 'string' },
      note: { type: 'string' },
      base: { type: 'string' },
      'ab-rounds': { type: 'string', default: '3' },
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
  const { large, quick } = values;
  // --quick: a fifth of the clients, a third of the time; any of these given explicitly wins.
  const fallback = (normal: string, small: string) => (quick ? small : normal);
  return {
    clients: whole('clients', values.clients ?? fallback('1000', '200')),
    senders: whole('senders', values.senders),
    window: whole('window', values.window),
    processes: whole('processes', values.processes),
    warmupMs: whole('warmup-ms', values['warmup-ms'] ?? fallback('2000', '500'), 0),
    measureMs: whole('measure-ms', values['measure-ms'] ?? fallback('6000', '2000'), 500),
    stormClients: whole('storm-clients', values['storm-clients'] ?? fallback('3000', '500')),
    sessions: whole('sessions', values.sessions ?? fallback('10000', '2000'), 1000),
    quick,
    large,
    cluster: !values['no-cluster'],
    json: values.json,
    profileDir: values.profile ?? null,
    logLevel: values['log-level'],
    logDir: values['server-logs'] ?? null,
    maxMinutes: whole('max-minutes', values['max-minutes'] ?? (large ? '150' : '30')),
    note: values.note ?? null,
    base: values.base ?? null,
    abRounds: whole('ab-rounds', values['ab-rounds']),
    only: values.only === undefined ? null : values.only.split(','),
  };
}

export async function runBench(scenarios: readonly Scenario[], argv: string[]): Promise<void> {
  const { only, ...options } = readOptions(argv);
  const chosen = only === null ? scenarios : scenarios.filter((s) => only.includes(s.name));
  const unknown = (only ?? []).filter((name) => !scenarios.some((s) => s.name === name));
  if (unknown.length > 0) {
    const hint = unknown.includes('ab') && options.base === null ? ' (the A/B scenario needs --base COMMIT)' : '';
    console.error(
      `bench: no scenario ${unknown.join(', ')}${hint}; there are ${scenarios.map((s) => s.name).join(', ')}`,
    );
    process.exit(1);
  }
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

  const needed =
    Math.max(2 * (options.clients + options.senders), options.stormClients, options.large ? LARGE_CLIENTS : 0) + 200;
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
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  if (options.quick) ctx.progress(`done in ${seconds} s; a --quick run is not recorded`);
  else {
    appendResults(new URL('./results.jsonl', import.meta.url), options, figures, startedAt);
    ctx.progress(`done in ${seconds} s; appended to bench/results.jsonl`);
  }
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
