/**
 * The history a hub keeps for resumes and `history` on arrival (SPEC §8, Bounds): bounded
 * by count and by bytes, and honest about what it no longer holds.
 */
import { describe, expect, it } from 'vitest';
import { entryBytes, History, type HistoryEntry } from '../../machines/history.js';
import { chatFrame } from '../../src/protocol.js';

function message(seq: number, text = `m${seq}`, session = 's1', cid?: string): HistoryEntry {
  const frame = chatFrame({ type: 'message', name: 'Alice', from: 'c1', session, text, ts: seq * 10 }, seq, seq * 10);
  return { seq, frame, session, cid };
}

function join(seq: number, name = 'Bob'): HistoryEntry {
  return {
    seq,
    frame: chatFrame({ type: 'join', name, from: 'c2', session: 's2' }, seq, seq),
    session: 's2',
    cid: undefined,
  };
}

function leave(seq: number, name = 'Bob'): HistoryEntry {
  return {
    seq,
    frame: chatFrame({ type: 'leave', name, from: 'c2', session: 's2' }, seq, seq),
    session: 's2',
    cid: undefined,
  };
}

const seqs = (entries: HistoryEntry[] | null) => entries?.map((e) => e.seq) ?? null;
const roomy = { maxEntries: 1_000, maxBytes: 1_000_000 };

describe('history: what it holds', () => {
  it('gives every event after a position, in order', () => {
    const history = new History(roomy);
    [join(1), message(2), message(3), leave(4)].forEach((e) => history.add(e));
    expect(seqs(history.after(0))).toEqual([1, 2, 3, 4]);
    expect(seqs(history.after(2))).toEqual([3, 4]);
    expect(history.after(4)).toEqual([]);
    expect(history.lastSeq).toBe(4);
  });

  it('cannot speak of a position past anything delivered', () => {
    const history = new History(roomy);
    [message(1), message(2)].forEach((e) => history.add(e));
    expect(history.after(3)).toBeNull();
    expect(new History(roomy).after(1)).toBeNull();
    expect(new History(roomy).after(0)).toEqual([]);
  });

  it('holds nothing from before the position it starts at', () => {
    const history = new History(roomy, 40);
    expect(history.after(40)).toEqual([]);
    expect(history.after(39)).toBeNull();
    history.add(message(41));
    expect(seqs(history.after(40))).toEqual([41]);
    expect(history.after(39)).toBeNull();
  });

  it('keeps no event at or before the last one', () => {
    const history = new History(roomy);
    [message(1), message(2)].forEach((e) => history.add(e));
    history.add(join(2));
    history.add(message(1, 'again'));
    expect(seqs(history.after(0))).toEqual([1, 2]);
    expect(history.after(0)!.map((e) => e.frame.text)).toEqual(['m1', 'm2']);
    expect(history.lastSeq).toBe(2);
  });

  it('advanced past positions that were no chat events, holds everything up to there', () => {
    const history = new History(roomy);
    history.add(message(1));
    history.advanceTo(5);
    expect(history.lastSeq).toBe(5);
    expect(history.after(5)).toEqual([]);
    expect(seqs(history.after(0))).toEqual([1]);
    history.advanceTo(3);
    expect(history.lastSeq).toBe(5);
    history.add(message(6));
    expect(seqs(history.after(4))).toEqual([6]);
  });

  it('starts over after a hole: nothing before the new start is vouched for', () => {
    const history = new History(roomy);
    [message(1), message(2)].forEach((e) => history.add(e));
    history.restartAt(10);
    expect(history.size).toBe(0);
    expect(history.bytes).toBe(0);
    expect(history.after(2)).toBeNull();
    expect(history.after(10)).toEqual([]);
  });
});

describe('history: the count bound', () => {
  it('keeps the last maxEntries events and says null for a position it evicted past', () => {
    const history = new History({ maxEntries: 3, maxBytes: 1_000_000 });
    for (let seq = 1; seq <= 5; seq++) history.add(message(seq));
    expect(history.size).toBe(3);
    expect(seqs(history.after(2))).toEqual([3, 4, 5]);
    expect(history.after(1)).toBeNull();
    expect(history.after(0)).toBeNull();
  });

  it('with a bound of 0 holds nothing, yet still knows the last position', () => {
    const history = new History({ maxEntries: 0, maxBytes: 1_000_000 });
    for (let seq = 1; seq <= 3; seq++) history.add(message(seq));
    expect(history.size).toBe(0);
    expect(history.after(3)).toEqual([]);
    expect(history.after(2)).toBeNull();
  });

  it('stays bounded in memory however many events pass through it', () => {
    const history = new History({ maxEntries: 10, maxBytes: 1_000_000 });
    for (let seq = 1; seq <= 10_000; seq++) history.add(message(seq));
    expect(seqs(history.after(9_990))).toEqual(Array.from({ length: 10 }, (_, i) => 9_991 + i));
    expect(history.after(9_989)).toBeNull();
    // The ring compacts itself: the dead slots never outnumber the live ones by much.
    const slots = (history as unknown as { entries: unknown[] }).entries.length;
    expect(slots).toBeLessThanOrEqual(2 * 10 + 65);
  });
});

describe('history: the bytes bound', () => {
  it('counts each entry at two bytes a code unit plus a fixed overhead', () => {
    const small = entryBytes(message(1, 'a', 's1'));
    expect(entryBytes(message(1, 'a'.repeat(1_001), 's1'))).toBe(small + 2_000);
    expect(entryBytes(message(1, 'a', 's1', 'cid-1'))).toBe(small + 2 * 'cid-1'.length);
  });

  it('evicts the oldest until the estimate fits, and keeps an exact tally', () => {
    const one = entryBytes(message(1));
    const history = new History({ maxEntries: 1_000, maxBytes: Math.floor(2.5 * one) });
    for (let seq = 1; seq <= 4; seq++) history.add(message(seq));
    expect(history.size).toBe(2);
    expect(history.bytes).toBe(2 * one);
    expect(seqs(history.after(2))).toEqual([3, 4]);
    expect(history.after(1)).toBeNull();

    // A message twice the size pushes out as many small ones as it must.
    const big = message(5, 'x'.repeat(Math.floor(one / 2)));
    history.add(big);
    expect(history.bytes).toBeLessThanOrEqual(Math.floor(2.5 * one));
    expect(seqs(history.after(4))).toEqual([5]);
    expect(history.after(3)).toBeNull();
    expect(history.bytes).toBe(entryBytes(big));
  });

  it('holds not even one entry larger than the bound, and says so', () => {
    const history = new History({ maxEntries: 1_000, maxBytes: 1_000 });
    history.add(message(1, 'short'));
    history.add(message(2, 'y'.repeat(1_000)));
    expect(history.size).toBe(0);
    expect(history.bytes).toBe(0);
    expect(history.after(2)).toEqual([]);
    expect(history.after(1)).toBeNull();
  });

  it('never holds more than its bytes, whatever the mix', () => {
    const maxBytes = 5_000;
    const history = new History({ maxEntries: 1_000, maxBytes });
    for (let seq = 1; seq <= 500; seq++) {
      history.add(seq % 3 === 0 ? join(seq) : message(seq, 'z'.repeat((seq * 37) % 900)));
      expect(history.bytes).toBeLessThanOrEqual(maxBytes);
      const held = history.after(seq - history.size)!;
      expect(held.reduce((sum, e) => sum + entryBytes(e), 0)).toBe(history.bytes);
    }
  });
});

describe('history: the last messages', () => {
  it('gives the last N messages oldest first, skipping joins and leaves', () => {
    const history = new History(roomy);
    [message(1), join(2), message(3), leave(4), message(5), join(6)].forEach((e) => history.add(e));
    expect(seqs(history.lastMessages(2))).toEqual([3, 5]);
    expect(seqs(history.lastMessages(10))).toEqual([1, 3, 5]);
    expect(history.lastMessages(0)).toEqual([]);
  });

  it('gives only what it still holds', () => {
    const history = new History({ maxEntries: 3, maxBytes: 1_000_000 });
    for (let seq = 1; seq <= 6; seq++) history.add(message(seq));
    expect(seqs(history.lastMessages(100))).toEqual([4, 5, 6]);
  });
});
