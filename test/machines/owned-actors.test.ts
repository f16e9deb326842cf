/**
 * The hub's own actors (machines/owned-actors.ts): in groups of GROUP_SIZE, each group a
 * system of its own, so that starting and stopping one does not depend on how many others
 * run, with what XState gives a spawned child kept: the owner's clock and inspection,
 * crashes reported, and a stop with the owner.
 */
import { describe, expect, it } from 'vitest';
import { createActor, setup, SimulatedClock, type AnyActor, type InspectionEvent } from 'xstate';
import { GROUP_SIZE, OwnedActors } from '../../machines/owned-actors.js';

/** Ticks once after `ms`, throws on `boom`. */
const ticker = setup({
  types: {
    input: {} as { ms: number },
    context: {} as { ms: number; ticked: boolean },
    events: {} as { type: 'boom' },
  },
  delays: { wait: ({ context }) => context.ms },
  actions: {
    explode: () => {
      throw new Error('boom');
    },
  },
}).createMachine({
  context: ({ input }) => ({ ms: input.ms, ticked: false }),
  initial: 'waiting',
  states: {
    waiting: { after: { wait: 'ticked' }, on: { boom: { actions: 'explode' } } },
    ticked: {},
  },
});

/** An owner that records the crash reports it is sent. */
const recorder = setup({
  types: { context: {} as { crashes: Array<{ id: string; error: unknown }> }, events: {} as CrashReport },
}).createMachine({
  context: { crashes: [] },
  on: { crashed: { actions: ({ context, event }) => context.crashes.push({ id: event.id, error: event.error }) } },
});
type CrashReport = { type: 'crashed'; id: string; error: unknown };

function owned(options: { inspect?: (event: InspectionEvent) => void } = {}) {
  const clock = new SimulatedClock();
  const owner = createActor(recorder).start();
  const actors = new OwnedActors(
    ticker,
    { clock, ...options },
    owner,
    (id, error): CrashReport => ({ type: 'crashed', id, error }),
    'tickers',
    't:',
  );
  return { clock, crashes: owner.getSnapshot().context.crashes, actors, owner };
}

describe('owned actors', () => {
  it("run on the owner's clock, each with its own timers: stopping one leaves the others' alone", () => {
    const { clock, actors } = owned();
    const a = actors.start('a', { ms: 1_000 });
    const b = actors.start('b', { ms: 1_000 });
    actors.stop('a');
    clock.increment(1_000);
    expect(a.getSnapshot().status).toBe('stopped');
    expect(b.getSnapshot().value).toBe('ticked');
    expect(actors.get('a')).toBeUndefined();
    expect(actors.get('b')).toBe(b);
    expect(actors.size).toBe(1);
  });

  it(`share a system with at most ${GROUP_SIZE - 1} others, under a group that lists none of them as children`, () => {
    const { actors } = owned();
    const first = actors.start('0', { ms: 1 });
    for (let i = 1; i < GROUP_SIZE; i++) expect(actors.start(String(i), { ms: 1 }).system).toBe(first.system);
    const next = actors.start('next', { ms: 1 });
    expect(next.system).not.toBe(first.system);
    expect(first.id).toBe('t:0');
    const group = first._parent!;
    expect(group.id).toBe('tickers#1');
    expect(Object.keys((group.getSnapshot() as { children: object }).children)).toEqual([]);
    // A stop makes room in its group for the next start.
    actors.stop('5');
    expect(actors.start('again', { ms: 1 }).system).toBe(first.system);
  });

  it('report a crash to the owner, and are no longer found', () => {
    const { crashes, actors } = owned();
    actors.start('a', { ms: 1_000 }).send({ type: 'boom' });
    expect(crashes).toEqual([{ id: 'a', error: expect.objectContaining({ message: 'boom' }) }]);
    expect(actors.get('a')).toBeUndefined();
    expect(actors.find('a')?.getSnapshot().status).toBe('error');
  });

  it("are seen by the owner's inspection", () => {
    const seen: string[] = [];
    const { actors } = owned({
      inspect: (event) => event.type === '@xstate.actor' && seen.push((event.actorRef as AnyActor).id),
    });
    actors.start('a', { ms: 1 });
    expect(seen).toEqual(['tickers#1', 't:a']);
  });

  it('stop when their owner stops', () => {
    const { actors, owner } = owned();
    const a = actors.start('a', { ms: 1_000 });
    owner.stop();
    expect(a.getSnapshot().status).toBe('stopped');
    expect(actors.size).toBe(0);
  });

  it('show in a snapshot as how many run', () => {
    const { actors } = owned();
    actors.start('a', { ms: 1 });
    expect(JSON.parse(JSON.stringify({ actors }))).toEqual({ actors: { running: 1 } });
  });

  // The reason they exist: a start and a stop do not grow with the number running.
  it('start and stop without copying or scanning the others (XState children would, each time)', () => {
    const { clock, actors } = owned();
    for (let i = 0; i < 2_000; i++) actors.start(`w${i}`, { ms: 60_000 });
    const probe = actors.start('probe', { ms: 60_000 });
    // Its stop scans its group's timers only: at most GROUP_SIZE, whatever the number running.
    const timers = () => Object.keys(probe.system.getSnapshot()._scheduledEvents).length;
    expect(timers()).toBeLessThanOrEqual(GROUP_SIZE);
    const before = timers();
    actors.stop('probe');
    expect(timers()).toBe(before - 1);
    expect(probe.getSnapshot().status).toBe('stopped');
    clock.increment(60_000);
    expect([...actors.values()].every((actor) => actor.getSnapshot().value === 'ticked')).toBe(true);
  });
});
