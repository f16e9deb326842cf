/**
 * The reconnect storm's verdicts, pure: how long the clients took to be online again after
 * the cut, and whether each one showed the senders' sequence exactly once and in order.
 * A client that was told of a gap may lack ids (that is what the gap says), so its lost
 * ids are counted apart; it must still show nothing twice, out of order or altered.
 */
import { checkAgainst, noProblems, type Expected, type Problems, type Seen } from './resume-check.js';

export interface ClientVerdict {
  problems: Problems;
  /** Ids a client that had a gap never showed: allowed, reported apart from `problems.lost`. */
  lostAfterGap: number;
}

/** Checks one client's shown ids in (after, upTo] against `expected`; `gaps`: the gap events it emitted. */
export function checkShown(
  expected: Expected,
  shown: Seen,
  after: number,
  upTo: number,
  gaps: number,
  who: string,
): ClientVerdict {
  const problems = checkAgainst(expected, shown, after, upTo, who);
  if (gaps === 0) return { problems, lostAfterGap: 0 };
  // The description of the first problem may be the lost ids: keep it only when something else is wrong.
  const rest = { ...problems, lost: 0 };
  const wrong = rest.duplicated + rest.outOfOrder + rest.unexpected + rest.wrongContent > 0;
  return { problems: wrong ? rest : { ...noProblems() }, lostAfterGap: problems.lost };
}

export interface StormTimes {
  /** Clients that were cut and came back online. */
  back: number;
  /** From the cut until the last of them was online again (ms); NaN when none came back. */
  allOnlineMs: number;
  /** Clients back online per second over that time. */
  perSec: number;
  /** Per client, from the cut until it was online again (ms). */
  p50Ms: number;
  p99Ms: number;
}

/** The nearest-rank percentile of values sorted ascending; NaN for none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** The storm's times from the cut (µs) and the moments each cut client was online again (µs). */
export function stormTimes(cutUs: number, onlineAgainUs: readonly number[]): StormTimes {
  const delays = onlineAgainUs.map((us) => (us - cutUs) / 1000).sort((a, b) => a - b);
  const allOnlineMs = delays.length === 0 ? NaN : delays[delays.length - 1]!;
  return {
    back: delays.length,
    allOnlineMs,
    perSec: delays.length === 0 ? 0 : delays.length / (allOnlineMs / 1000),
    p50Ms: percentile(delays, 50),
    p99Ms: percentile(delays, 99),
  };
}
