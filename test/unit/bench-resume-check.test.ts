/**
 * The resume storm's verdict (bench/resume-check.ts): a client's processed ids against the
 * senders' sequence, and that sequence against what the senders sent. The bench reports
 * "0 lost, 0 duplicated" from here, so each kind of fault must show.
 */
import { describe, expect, it } from 'vitest';
import {
  checkAgainst,
  checkSequence,
  expectedFrom,
  JOIN_KEY,
  problemCount,
  SEQ_SPAN,
  type Seen,
} from '../../bench/resume-check.js';

const message = (slot: number, seq: number) => slot * SEQ_SPAN + seq;
const seen = (pairs: [id: number, key: number][]): Seen => ({
  ids: pairs.map(([id]) => id),
  keys: pairs.map(([, key]) => key),
  length: pairs.length,
});

// The senders saw ids 11..15 after position 10; 12 is a join.
const sequence = seen([
  [11, message(0, 1)],
  [12, JOIN_KEY],
  [13, message(1, 1)],
  [14, message(0, 2)],
  [15, message(1, 2)],
]);
const expected = expectedFrom(sequence);

describe('resume check', () => {
  it('finds nothing wrong in the same sequence, whatever came before the span', () => {
    const before: [number, number][] = [
      [9, message(0, 0)],
      [10, JOIN_KEY],
    ];
    const client = seen([...before, ...Array.from(sequence.ids, (id, i): [number, number] => [id, sequence.keys[i]!])]);
    const problems = checkAgainst(expected, client, 10, 15, 'r1');
    expect(problemCount(problems)).toBe(0);
    expect(problems.first).toBeNull();
  });

  it('counts an id replayed after it was processed live as duplicated', () => {
    const client = seen([
      [11, message(0, 1)],
      [12, JOIN_KEY],
      [13, message(1, 1)],
      [13, message(1, 1)],
      [14, message(0, 2)],
      [15, message(1, 2)],
    ]);
    const problems = checkAgainst(expected, client, 10, 15, 'r1');
    expect(problems).toMatchObject({ duplicated: 1, lost: 0, outOfOrder: 0 });
    expect(problems.first).toContain('id 13 processed again');
  });

  it('counts ids never processed as lost, and names them', () => {
    const client = seen([
      [11, message(0, 1)],
      [14, message(0, 2)],
      [15, message(1, 2)],
    ]);
    const problems = checkAgainst(expected, client, 10, 15, 'r7');
    expect(problems).toMatchObject({ lost: 2, duplicated: 0 });
    expect(problems.first).toBe('r7: never processed ids 12, 13 (2 in all)');
  });

  it('counts an id after a larger one as out of order, an unknown one as unexpected, another text as altered', () => {
    const client = seen([
      [11, message(0, 1)],
      [13, message(1, 1)],
      [12, JOIN_KEY],
      [14, message(0, 3)],
      [15, message(1, 2)],
      [16, message(0, 9)],
    ]);
    const problems = checkAgainst(expected, client, 10, 16, 'r1');
    expect(problems).toMatchObject({ outOfOrder: 1, wrongContent: 1, unexpected: 1, lost: 0 });
  });

  it('leaves ids outside the span alone', () => {
    const client = seen([
      [11, message(0, 1)],
      [12, JOIN_KEY],
      [13, message(1, 1)],
    ]);
    expect(problemCount(checkAgainst(expected, client, 10, 13, 'r1'))).toBe(0);
  });

  it("checks the senders' sequence against what each sent, refusals aside", () => {
    expect(problemCount(checkSequence(sequence.keys, [2, 2]))).toBe(0);
    expect(checkSequence(sequence.keys, [3, 2])).toMatchObject({ lost: 1 });
    expect(problemCount(checkSequence(sequence.keys, [3, 2], [1, 0]))).toBe(0);
    const refusedYetSent = checkSequence(sequence.keys, [2, 2], [0, 1]);
    expect(refusedYetSent).toMatchObject({ deliveredDespiteRefusal: 1, lost: 0 });
    expect(problemCount(refusedYetSent)).toBe(0);
    const twice = [...Array.from(sequence.keys), message(1, 2)];
    expect(checkSequence(twice, [2, 2])).toMatchObject({ duplicated: 1 });
    const swapped = [message(0, 2), message(0, 1), message(1, 1), message(1, 2)];
    expect(checkSequence(swapped, [2, 2])).toMatchObject({ outOfOrder: 1 });
  });
});
