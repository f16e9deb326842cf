/**
 * The resume storm's verdict on one client: what it processed (before its drop, then the
 * replay, then live frames) against the one sequence every client should see, read by
 * senders that never dropped. Compared by id over the same span, each id with a key naming
 * what the frame said, so a replayed frame that differs from its live copy is caught too.
 */

/** Ids in the order a client processed them, each with its frame's key (see keyOf). */
export interface Seen {
  ids: ArrayLike<number>;
  keys: ArrayLike<number>;
  length: number;
}

/** A growing `Seen`: ids and keys in typed arrays, so that a thousand clients' logs stay small. */
export class SeenLog implements Seen {
  ids = new Float64Array(1024);
  keys = new Float64Array(1024);
  length = 0;

  push(id: number, key: number): void {
    if (this.length === this.ids.length) {
      const ids = new Float64Array(this.length * 2);
      const keys = new Float64Array(this.length * 2);
      ids.set(this.ids);
      keys.set(this.keys);
      this.ids = ids;
      this.keys = keys;
    }
    this.ids[this.length] = id;
    this.keys[this.length++] = key;
  }
}

export interface Problems {
  /** Ids of the sequence the client never processed. */
  lost: number;
  /** Ids it processed more than once. */
  duplicated: number;
  /** Ids it processed after a larger one (and not before). */
  outOfOrder: number;
  /** Ids that are not in the sequence at all. */
  unexpected: number;
  /** Ids it has whose frame said something else than the senders' copy. */
  wrongContent: number;
  /**
   * The senders' sequence only: messages delivered although their sender was told
   * server_unavailable. PROTOCOL.md allows it when Redis stopped answering while taking the
   * message, so it is counted apart from what is lost or duplicated.
   */
  deliveredDespiteRefusal: number;
  /** The first thing found wrong, in words, for the report; null when nothing was. */
  first: string | null;
}

export const noProblems = (): Problems => ({
  lost: 0,
  duplicated: 0,
  outOfOrder: 0,
  unexpected: 0,
  wrongContent: 0,
  deliveredDespiteRefusal: 0,
  first: null,
});

/** Adds `b`'s counts to `a`; the first description found stays. */
export function addProblems(a: Problems, b: Problems): Problems {
  return {
    lost: a.lost + b.lost,
    duplicated: a.duplicated + b.duplicated,
    outOfOrder: a.outOfOrder + b.outOfOrder,
    unexpected: a.unexpected + b.unexpected,
    wrongContent: a.wrongContent + b.wrongContent,
    deliveredDespiteRefusal: a.deliveredDespiteRefusal + b.deliveredDespiteRefusal,
    first: a.first ?? b.first,
  };
}

export const problemCount = (p: Problems): number =>
  p.lost + p.duplicated + p.outOfOrder + p.unexpected + p.wrongContent;

/**
 * What a frame said, as a number: a sender's message is `slot * 10^7 + seq` (its text is
 * `<slot>:<seq>:<µs>`), a join or leave is negative. Messages of the storm are few enough
 * per sender that 10^7 never overflows into the next slot.
 */
export const SEQ_SPAN = 10_000_000;
export const JOIN_KEY = -1;
export const LEAVE_KEY = -2;

/** The sequence every client should see, by id, for lookups. */
export type Expected = ReadonlyMap<number, number>;

export function expectedFrom(sequence: Seen): Map<number, number> {
  const map = new Map<number, number>();
  for (let i = 0; i < sequence.length; i++) map.set(sequence.ids[i]!, sequence.keys[i]!);
  return map;
}

/**
 * Checks the ids of `seen` in (after, upTo] against `expected`, which holds every id of that
 * span (and may hold more). `who` names the client in the first problem's description.
 */
export function checkAgainst(expected: Expected, seen: Seen, after: number, upTo: number, who: string): Problems {
  const problems = noProblems();
  const note = (what: string) => (problems.first ??= `${who}: ${what}`);
  const processed = new Set<number>();
  let highest = after;
  for (let i = 0; i < seen.length; i++) {
    const id = seen.ids[i]!;
    if (id <= after || id > upTo) continue;
    if (processed.has(id)) {
      problems.duplicated++;
      note(`id ${id} processed again (frame ${i + 1} of what it processed)`);
      continue;
    }
    processed.add(id);
    if (id < highest) {
      problems.outOfOrder++;
      note(`id ${id} after id ${highest}`);
    }
    highest = Math.max(highest, id);
    const key = expected.get(id);
    if (key === undefined) {
      problems.unexpected++;
      note(`id ${id} is not in the senders' sequence`);
    } else if (key !== seen.keys[i]) {
      problems.wrongContent++;
      note(`id ${id} said ${describe(seen.keys[i]!)} where the senders saw ${describe(key)}`);
    }
  }
  const missing: number[] = [];
  for (const id of expected.keys()) {
    if (id > after && id <= upTo && !processed.has(id)) {
      problems.lost++;
      if (missing.length < 5) missing.push(id);
    }
  }
  if (missing.length > 0)
    note(
      `never processed id${problems.lost > 1 ? 's' : ''} ${missing.join(', ')}${problems.lost > 5 ? ', …' : ''} (${problems.lost} in all)`,
    );
  return problems;
}

function describe(key: number): string {
  if (key === JOIN_KEY) return 'a join';
  if (key === LEAVE_KEY) return 'a leave';
  return `message ${Math.floor(key / SEQ_SPAN)}:${key % SEQ_SPAN}`;
}

/**
 * The senders' sequence itself: every message each sender sent (seq 1 to its final one,
 * less those refused) once, and each sender's in the order it sent them. What the clients are compared with must
 * not be missing what every client missed alike.
 */
export function checkSequence(
  keys: ArrayLike<number>,
  finals: readonly number[],
  refused: readonly number[] = finals.map(() => 0),
): Problems {
  const problems = noProblems();
  const note = (what: string) => (problems.first ??= `the senders' sequence: ${what}`);
  const last = finals.map(() => 0);
  const seen = finals.map(() => new Set<number>());
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (key < 0) continue;
    const slot = Math.floor(key / SEQ_SPAN);
    const seq = key % SEQ_SPAN;
    if (slot >= finals.length || seq < 1 || seq > finals[slot]!) {
      problems.unexpected++;
      note(`a message ${slot}:${seq} that no sender sent`);
    } else if (seen[slot]!.has(seq)) {
      problems.duplicated++;
      note(`message ${slot}:${seq} twice`);
    } else {
      if (seq < last[slot]!) {
        problems.outOfOrder++;
        note(`message ${slot}:${seq} after ${slot}:${last[slot]}`);
      }
      seen[slot]!.add(seq);
      last[slot] = Math.max(last[slot]!, seq);
    }
  }
  finals.forEach((final, slot) => {
    // A refused message was never sent on: which of them it was, the sender cannot tell.
    const missing = final - refused[slot]! - seen[slot]!.size;
    if (missing > 0) {
      problems.lost += missing;
      note(`${missing} of sender ${slot}'s ${final} messages missing (${refused[slot]} refused besides)`);
    } else if (missing < 0) {
      problems.deliveredDespiteRefusal -= missing;
      note(`sender ${slot} sent ${final}, ${refused[slot]} refused, yet ${seen[slot]!.size} were delivered`);
    }
  });
  return problems;
}
