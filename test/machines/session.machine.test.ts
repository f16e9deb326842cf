/**
 * The session machine alone (SPEC §8), with a recording actor standing in for the hub:
 * which connection it is attached to, when its window runs out on the simulated clock,
 * what it tells the hub when it ends, and the `cid`s it remembers.
 */
import { describe, expect, it } from 'vitest';
import { createActor, setup, SimulatedClock, type AnyEventObject } from 'xstate';
import { REMEMBERED_CIDS, sessionMachine, type SessionEvent } from '../../machines/session.machine.js';
import type { SessionEndCause } from '../../src/errors.js';

const WINDOW_MS = 30_000;

function start(resumeWindowMs = WINDOW_MS) {
  const told: AnyEventObject[] = [];
  const clock = new SimulatedClock();
  const recorder = setup({}).createMachine({ on: { '*': { actions: ({ event }) => told.push(event) } } });
  const hub = createActor(recorder).start();
  const session = createActor(sessionMachine, {
    clock,
    input: { id: 's1', name: 'Alice', claimedBy: 'c1', resumeWindowMs, hub },
  }).start();
  const send = (event: SessionEvent) => session.send(event);
  const state = () => session.getSnapshot().value;
  const context = () => session.getSnapshot().context;
  /** What it told the hub: only ever `session.ended`. */
  const ended = () => told.filter((e) => e.type === 'session.ended');
  return { clock, send, state, context, ended, told };
}

describe('session machine: attached and detached', () => {
  it('starts attached to the connection that claimed the name', () => {
    const s = start();
    expect(s.state()).toBe('attached');
    expect(s.context()).toMatchObject({ id: 's1', name: 'Alice', conn: 'c1', endCause: null });
    expect(s.told).toEqual([]);
  });

  it('is taken over while attached: a newer connection replaces the old one', () => {
    const s = start();
    s.send({ type: 'session.attach', conn: 'c7' });
    expect(s.state()).toBe('attached');
    expect(s.context().conn).toBe('c7');
  });

  it('detaches when its connection is lost, and keeps its name', () => {
    const s = start();
    s.send({ type: 'session.detach' });
    expect(s.state()).toBe('detached');
    expect(s.context()).toMatchObject({ conn: null, name: 'Alice' });
    expect(s.told).toEqual([]);
  });

  it('is attached again by a resume within the window', () => {
    const s = start();
    s.send({ type: 'session.detach' });
    s.send({ type: 'session.attach', conn: 'c2' });
    expect(s.state()).toBe('attached');
    expect(s.context().conn).toBe('c2');
  });

  it('does not time out while attached, however long', () => {
    const s = start();
    s.clock.increment(WINDOW_MS * 10);
    expect(s.state()).toBe('attached');
    expect(s.told).toEqual([]);
  });
});

describe('session machine: the resume window', () => {
  it('ends exactly RESUME_WINDOW_MS after it detached, not a millisecond before, and says so once', () => {
    const s = start();
    s.clock.increment(1_000); // the window counts from the detach, not from the start
    s.send({ type: 'session.detach' });
    s.clock.increment(WINDOW_MS - 1);
    expect(s.state()).toBe('detached');
    expect(s.ended()).toEqual([]);
    s.clock.increment(1);
    expect(s.state()).toBe('ended');
    expect(s.context().endCause).toBe('expired');
    expect(s.ended()).toEqual([{ type: 'session.ended', session: 's1', cause: 'expired' }]);
    s.clock.increment(WINDOW_MS * 2);
    expect(s.ended()).toHaveLength(1);
  });

  it('follows the window it was given', () => {
    const s = start(250);
    s.send({ type: 'session.detach' });
    s.clock.increment(249);
    expect(s.ended()).toEqual([]);
    s.clock.increment(1);
    expect(s.ended()).toEqual([{ type: 'session.ended', session: 's1', cause: 'expired' }]);
  });

  it('forgets the running window when resumed in time; a later loss starts a whole new one', () => {
    const s = start();
    s.send({ type: 'session.detach' });
    s.clock.increment(WINDOW_MS - 1);
    s.send({ type: 'session.attach', conn: 'c2' });
    s.clock.increment(WINDOW_MS * 3);
    expect(s.state()).toBe('attached');
    expect(s.ended()).toEqual([]);

    s.send({ type: 'session.detach' });
    s.clock.increment(WINDOW_MS - 1);
    expect(s.state()).toBe('detached');
    s.clock.increment(1);
    expect(s.ended()).toEqual([{ type: 'session.ended', session: 's1', cause: 'expired' }]);
  });
});

describe('session machine: ending', () => {
  const detached = (s: ReturnType<typeof start>) => s.send({ type: 'session.detach' });
  const attached = () => {};

  it.each<[string, SessionEndCause, (s: ReturnType<typeof start>) => void]>([
    ['attached', 'close', attached],
    ['attached', 'policy', attached],
    ['attached', 'error', attached],
    ['detached', 'evicted', detached],
    ['detached', 'shutdown', detached],
  ])('ends at once from %s when told (%s), tells the hub once, and stays ended', (_, cause, before) => {
    const s = start();
    before(s);
    s.send({ type: 'session.end', cause });
    expect(s.state()).toBe('ended');
    expect(s.context()).toMatchObject({ conn: null, endCause: cause });
    expect(s.ended()).toEqual([{ type: 'session.ended', session: 's1', cause }]);

    // Nothing moves it any more: no second end, no resume, no expiry.
    s.send({ type: 'session.end', cause: 'close' });
    s.send({ type: 'session.attach', conn: 'c9' });
    s.send({ type: 'session.detach' });
    s.clock.increment(WINDOW_MS * 2);
    expect(s.state()).toBe('ended');
    expect(s.context()).toMatchObject({ conn: null, endCause: cause });
    expect(s.ended()).toHaveLength(1);
  });

  it('tells the hub nothing but session.ended, ever', () => {
    const s = start();
    s.send({ type: 'session.sending', cid: 'a' });
    s.send({ type: 'session.sent', cid: 'a', id: '3', ts: 5 });
    s.send({ type: 'session.detach' });
    s.send({ type: 'session.attach', conn: 'c2' });
    s.send({ type: 'session.detach' });
    s.clock.increment(WINDOW_MS);
    expect(s.told.map((e) => e.type)).toEqual(['session.ended']);
  });

  it('remembers nothing new once ended', () => {
    const s = start();
    s.send({ type: 'session.sent', cid: 'a', id: '3', ts: 5 });
    s.send({ type: 'session.end', cause: 'close' });
    s.send({ type: 'session.sending', cid: 'b' });
    s.send({ type: 'session.sent', cid: 'c', id: '9', ts: 9 });
    expect({ ...s.context().sent }).toEqual({ a: { id: '3', ts: 5 } });
  });
});

describe('session machine: the cids it remembers', () => {
  it('notes a cid as on its way, then where it landed', () => {
    const s = start();
    s.send({ type: 'session.sending', cid: 'm-1' });
    expect({ ...s.context().sent }).toEqual({ 'm-1': null });
    s.send({ type: 'session.sent', cid: 'm-1', id: '7', ts: 1234 });
    expect({ ...s.context().sent }).toEqual({ 'm-1': { id: '7', ts: 1234 } });
  });

  it('remembers cids whatever its state, so a resend after a resume is recognised', () => {
    const s = start();
    s.send({ type: 'session.sent', cid: 'before', id: '2', ts: 0 });
    s.send({ type: 'session.detach' });
    s.send({ type: 'session.sent', cid: 'landed-while-away', id: '3', ts: 1 });
    s.send({ type: 'session.attach', conn: 'c2' });
    expect(Object.keys(s.context().sent)).toEqual(['before', 'landed-while-away']);
  });

  it('treats any string as a plain key, __proto__ and constructor included', () => {
    const s = start();
    for (const cid of ['__proto__', 'constructor', 'toString', 'hasOwnProperty'])
      s.send({ type: 'session.sent', cid, id: '1', ts: 0 });
    expect(Object.keys(s.context().sent)).toEqual(['__proto__', 'constructor', 'toString', 'hasOwnProperty']);
    expect(Object.hasOwn(s.context().sent, 'valueOf')).toBe(false);
  });

  it(`remembers the last ${REMEMBERED_CIDS}, forgetting the oldest first`, () => {
    expect(REMEMBERED_CIDS).toBe(32);
    const s = start();
    for (let i = 1; i <= REMEMBERED_CIDS; i++) s.send({ type: 'session.sent', cid: `m${i}`, id: String(i), ts: i });
    expect(Object.keys(s.context().sent)).toHaveLength(REMEMBERED_CIDS);
    expect(Object.hasOwn(s.context().sent, 'm1')).toBe(true);

    s.send({ type: 'session.sending', cid: 'm33' });
    expect(Object.keys(s.context().sent)).toHaveLength(REMEMBERED_CIDS);
    expect(Object.hasOwn(s.context().sent, 'm1')).toBe(false);
    expect(Object.hasOwn(s.context().sent, 'm2')).toBe(true);
    expect(s.context().sent['m33']).toBeNull();

    // A cid noted again (on its way, then landed) is no new cid: nothing else is forgotten.
    s.send({ type: 'session.sent', cid: 'm33', id: '33', ts: 33 });
    expect(Object.hasOwn(s.context().sent, 'm2')).toBe(true);
    expect(Object.keys(s.context().sent)).toHaveLength(REMEMBERED_CIDS);
  });

  // A record lists integer-like keys first, in numeric order, whatever their age: a client
  // that numbers its messages must still have its newest cid remembered.
  it.each([
    ['counting down', (i: number) => String(100 - i)],
    ['numbers after words', (i: number) => (i <= REMEMBERED_CIDS ? `w${i}` : String(i))],
    ['numbers of any size', (i: number) => String((i * 7919) % 1000)],
  ])('forgets the oldest first when cids are numbers (%s)', (_, cidOf) => {
    const s = start();
    const total = REMEMBERED_CIDS + 5;
    for (let i = 1; i <= total; i++) s.send({ type: 'session.sent', cid: cidOf(i), id: String(i), ts: i });
    const expected = Array.from({ length: REMEMBERED_CIDS }, (_, k) => cidOf(total - REMEMBERED_CIDS + 1 + k));
    expect(new Set(Object.keys(s.context().sent))).toEqual(new Set(expected));
  });
});
