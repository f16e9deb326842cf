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

/** The most characters of one client-chosen value (a header, a name) that a log line copies. */
export const LOGGED_CHARS = 256;

/**
 * A client-chosen string as a log line may hold it: at most LOGGED_CHARS characters, then
 * a marker saying how many were left out. A client must not be able to make each line it
 * causes 15 KB long (an `Origin` header, say) and fill the disk or the log pipeline.
 */
export function clipped(value: string | undefined): string | undefined {
  if (value === undefined || value.length <= LOGGED_CHARS) return value;
  // Never half of a surrogate pair.
  const end = /[\uD800-\uDBFF]/.test(value[LOGGED_CHARS - 1]!) ? LOGGED_CHARS - 1 : LOGGED_CHARS;
  return `${value.slice(0, end)}…[${value.length - end} more characters]`;
}
