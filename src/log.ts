/**
 * The root pino logger; nothing else calls pino(). JSON lines on stdout by default.
 * Tests pass their own destination (or level `silent`) to read or mute it.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, base: { pid: process.pid } };
  return destination === undefined ? pino(options) : pino(options, destination);
}
