#!/usr/bin/env node
/**
 * The command line: read the settings, start the server, stop on SIGTERM/SIGINT (after a
 * drain of DRAIN_MS; a second signal ends the drain at once).
 * Exit codes: 0 after a clean stop, 1 for a bad setting or a failed start, and 1 when the
 * server cannot go on (in cluster mode, Redis refusing the node before it could join).
 *
 * `chat-backend connect ws://… --name Alice` is the terminal client instead
 * (src/terminal-client.ts): 0 after a clean leave, 1 for bad arguments or a refused client.
 */
import { ConfigError } from './errors.js';
import { HelpRequested, loadConfig, usage, type Config } from './config.js';
import { createLogger } from './log.js';
import { startServer, type ChatServer } from './server.js';

/** A stop finishes within 5 s of the drain's end (docs/operations.md); past this, give up waiting and exit anyway. */
const STOP_DEADLINE_MS = 4_500;
/** The longest a Node timer waits; a longer one would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

function readConfig(): Config {
  try {
    return loadConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(usage());
      process.exit(0);
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`chat-backend: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  const log = createLogger(config.logLevel);
  let server: ChatServer | null = null;
  /** The exit code a stop under way ends with; null while running. */
  let stopping: 0 | 1 | null = null;

  // A stop for a failure (exit 1) does not drain: the node cannot serve its clients anyway.
  const closeAndExit = async (running: ChatServer, exitCode: 0 | 1) => {
    await running.close({ drainMs: exitCode === 0 ? config.drainMs : 0 });
    log.info('stopped');
    log.flush(() => process.exit(exitCode));
  };
  const stop = (exitCode: 0 | 1) => {
    if (stopping !== null) return;
    stopping = exitCode;
    const drainMs = exitCode === 0 ? config.drainMs : 0;
    setTimeout(
      () => {
        log.warn('stop deadline passed; exiting');
        log.flush();
        process.exit(exitCode);
      },
      Math.min(drainMs + STOP_DEADLINE_MS, MAX_TIMER_MS),
    ).unref();
    // A signal during start-up stops the server once it has started (it listens within moments).
    if (server !== null) void closeAndExit(server, exitCode);
  };
  /** Signals after the first; a signal during start-up (no server yet) cuts the drain once it is there. */
  let signalsWhileStopping = 0;
  let cutDrain = false;
  const onSignal = (signal: string) => {
    if (stopping === null) {
      log.info({ signal, drainMs: config.drainMs }, 'shutting down');
      return stop(0);
    }
    signalsWhileStopping++;
    if (signalsWhileStopping > 1) {
      // A third: whatever the close is waiting for, stop waiting.
      log.warn({ signal }, 'exiting at once');
      log.flush();
      process.exit(stopping);
    }
    // Again during a drain (an impatient operator, a second Ctrl-C): close now, within the usual 5 s.
    log.info({ signal }, 'shutting down now');
    cutDrain = true;
    setTimeout(() => {
      log.warn('stop deadline passed; exiting');
      log.flush();
      process.exit(stopping ?? 0);
    }, STOP_DEADLINE_MS).unref();
    void server?.close();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  try {
    server = await startServer(config, { log });
  } catch (err) {
    const why =
      err instanceof ConfigError
        ? err.message
        : `cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`;
    process.stderr.write(`chat-backend: ${why}\n`);
    process.exit(1);
  }
  if (stopping !== null) {
    const closing = closeAndExit(server, stopping);
    if (cutDrain) void server.close();
    return closing;
  }
  log.info({ host: config.host, port: server.port, path: '/ws' }, 'listening');

  void server.failed.then((err) => {
    if (stopping !== null) return;
    process.stderr.write(`chat-backend: ${err.message}\n`);
    log.error({ err }, 'cannot go on; shutting down');
    stop(1);
  });
}

/** The terminal client; loaded only when asked for. */
async function connectCommand(args: string[]): Promise<void> {
  const { CONNECT_USAGE, UsageError, parseConnectArgs, runTerminalClient } = await import('./terminal-client.js');
  let parsed;
  try {
    parsed = parseConnectArgs(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`chat-backend connect: ${err.message}\n\n${CONNECT_USAGE}`);
    process.exit(1);
  }
  if (parsed === 'help') return void process.stdout.write(CONNECT_USAGE);
  let outputGone = false;
  const run = runTerminalClient(parsed, {
    input: process.stdin,
    print: (line) => {
      if (!outputGone) process.stdout.write(`${line}\n`);
    },
  });
  process.once('SIGINT', () => run.stop());
  // Whoever reads our output went away (`… | head -3`): leave the chat as at the end of input.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    // EPIPE once; a line printed after it finds the stream destroyed.
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
    outputGone = true;
    run.endInput();
  });
  process.exitCode = await run.done;
  // The close handshake finishes by itself; stdin must not hold the process open.
  process.stdin.destroy();
  setTimeout(() => process.exit(), 2_000).unref();
}

if (process.argv[2] === 'connect') void connectCommand(process.argv.slice(3));
else void main();
