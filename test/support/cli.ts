/**
 * The real command line as a child process, `node --import tsx src/main.ts`, for the
 * suites that need its exit codes, signals and log lines. With PORT=0 the chosen port is
 * read from the 'listening' JSON log line. Every wait is bounded, and the children a
 * failed test left running are killed after each test.
 *
 *   const runCli = cliPerTest();
 *   const cli = runCli([], { PORT: '0', HOST: '127.0.0.1' });
 *   const port = await listeningPort(cli);
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { withTimeout } from './ws-client.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** tsx compiles on start; generous, but bounded. */
export const START_MS = 10_000;

/** The settings SPEC §6 names (and INSPECT_TOKEN), as flag and environment variable. */
export const SPEC_FLAGS = [
  'port',
  'host',
  'log-level',
  'echo',
  'name-max-length',
  'text-max-length',
  'register-timeout-ms',
  'heartbeat-ms',
  'rate-burst',
  'rate-per-sec',
  'max-payload-bytes',
  'max-buffered-bytes',
  'max-connections',
  'allowed-origins',
  'redis-url',
  'lease-ms',
  'inspect',
  'inspect-port',
  'inspect-host',
  'inspect-page',
  'inspect-token',
];
export const envNameOf = (flag: string) => flag.toUpperCase().replaceAll('-', '_');

export type LogLine = Record<string, unknown>;

export interface Cli {
  child: ChildProcess;
  /** Parsed JSON lines from stdout so far. */
  logLines: LogLine[];
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface CliOptions {
  /** Give the child a stdin to write to (`child.stdin`); otherwise it has none. */
  stdin?: boolean;
}

/** Returns a runner whose children are killed after each test, if still running. */
export function cliPerTest(): (args: string[], settings?: Record<string, string>, options?: CliOptions) => Cli {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0))
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return (args, settings = {}, options = {}) => {
    const cli = runCli(args, settings, options);
    children.push(cli.child);
    return cli;
  };
}

/** Runs the CLI with only the given settings in its environment (none inherited); the caller stops it. */
export function runCli(args: string[], settings: Record<string, string> = {}, options: CliOptions = {}): Cli {
  const env = { ...process.env };
  for (const flag of SPEC_FLAGS) delete env[envNameOf(flag)];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    cwd: ROOT,
    env: { ...env, ...settings },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  // No stdin asked for: it is at its end at once, as /dev/null would be.
  if (options.stdin !== true) child.stdin.end();
  let stdout = '';
  let stderr = '';
  const logLines: LogLine[] = [];
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      logLines.push(JSON.parse(line) as LogLine);
    } catch {
      // not a log line (e.g. --help text)
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, logLines, stdout: () => stdout, stderr: () => stderr, exited };
}

/** The first log line with message `msg`, once written; rejects if the CLI exits first. */
export function logged(cli: Cli, msg: string, timeoutMs = START_MS): Promise<LogLine> {
  const found = new Promise<LogLine>((resolve, reject) => {
    const check = () => {
      const line = cli.logLines.find((l) => l.msg === msg);
      if (line !== undefined) return resolve(line);
      if (cli.child.exitCode !== null) return reject(new Error(`the CLI exited early: ${cli.stderr()}`));
      cli.child.stdout!.once('data', () => setImmediate(check));
    };
    check();
    cli.child.once('exit', () => setImmediate(check));
  });
  return withTimeout(found, timeoutMs, `the CLI's '${msg}' log line`);
}

/** The port from the 'listening' log line. */
export async function listeningPort(cli: Cli): Promise<number> {
  return Number((await logged(cli, 'listening')).port);
}
