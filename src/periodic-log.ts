/**
 * One log line per period for something that may happen thousands of times a second: the
 * first time at once, then at most once per period, with how many times it happened since
 * the last line. A flood stays visible without the log becoming the flood.
 */
export class PeriodicLog {
  private lastAt = -Infinity;
  private count = 0;

  constructor(private readonly periodMs: number) {}

  /**
   * It happened once more: calls `write` with the count since the last line (this one
   * included) when a period has passed since that line; otherwise only counts.
   */
  hit(write: (count: number) => void, now: number = Date.now()): void {
    this.count++;
    if (now - this.lastAt < this.periodMs) return;
    this.lastAt = now;
    const count = this.count;
    this.count = 0;
    write(count);
  }
}
