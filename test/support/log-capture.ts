/**
 * A logger whose lines a test can read, for the tests where what is (or is not) logged is
 * the behaviour. Synchronous: a line is in `lines` as soon as the server has logged it.
 *
 *   const logs = new LogCapture();
 *   const server = await start({}, { log: logs.logger('trace') });
 *   expect(logs.text()).not.toContain(secret);
 */
import { createLogger, type Logger } from '../../src/log.js';

export class LogCapture {
  /** Every line logged so far, as written (JSON). */
  readonly lines: string[] = [];

  /** A root logger writing here, at `level` and above. */
  logger(level: string): Logger {
    return createLogger(level, { write: (line: string) => void this.lines.push(line) });
  }

  /** Messages (`msg`) logged so far, in order. */
  messages(): string[] {
    return this.lines.map((line) => (JSON.parse(line) as { msg?: string }).msg ?? '');
  }

  text(): string {
    return this.lines.join('');
  }
}
