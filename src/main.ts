#!/usr/bin/env node
/**
 * The command line: read the settings, start the server, stop on SIGTERM/SIGINT.
 * Exit codes: 0 after a clean stop, 1 for a bad setting or a failed start.
 */
import { ConfigError } from './errors.js';
import { HelpRequested, loadConfig, usage, type Config } from './config.js';
import { createLogger } from './log.js';
import { startServer } from './server.js';

/** A stop finishes within 5 s (docs/operations.md); past this, give up waiting and exit anyway. */
const STOP_DEADLINE_MS = 4_500;

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
  let server;
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
  log.info({ host: config.host, port: server.port, path: '/ws' }, 'listening');

  const stop = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    setTimeout(() => {
      log.warn('stop deadline passed; exiting');
      log.flush();
      process.exit(0);
    }, STOP_DEADLINE_MS).unref();
    await server.close();
    log.info('stopped');
    log.flush(() => process.exit(0));
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

void main();
