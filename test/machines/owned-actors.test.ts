/**
 * The hub's own actors (machines/owned-actors.ts): each a system of its own, so that
 * starting and stopping one does not depend on how many others run, with what XState
 * gives a spawned child kept: the owner's clock and inspection, crashes reported, and a
 * stop with the owner.
 */
import { describe, expect, it } from 'vitest';
import { createActor, setup, SimulatedClock, type AnyActor, type InspectionEvent } from 'xstate';
import { OwnedActors } from '../../machines/owned-actors.js';

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

function owned(options: { inspect?: (event: InspectionEvent) => void } = {}) {
  const clock = new SimulatedClock();
  const crashes: Array<{ id: string; error: unknown }> = [];
  const actors = new OwnedActors(ticker, { clock, ...options }, (id, error) => crashes.push({ id, error }));
  return { clock, crashes, actors };
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

  it('are each the root of a system of their own', () => {
    const { actors } = owned();
    const a = actors.start('a', { ms: 1 });
    const b = actors.start('b', { ms: 1 });
    expect(a.system).not.toBe(b.system);
    expect(a.id).toBe('a');
  });

  it('report a crash to the owner, and are no longer found', () => {
    const { crashes, actors } = owned();
    actors.start('a', { ms: 1_000 }).send({ type: 'boom' });
    expect(crashes).toEqual([{ id: 'a', error: expect.objectContaining({ message: 'boom' }) }]);
    expect(actors.get('a')).toBeUndefined();
  });

  it("are seen by the owner's inspection", () => {
    const seen: string[] = [];
    const { actors } = owned({
      inspect: (event) => event.type === '@xstate.actor' && seen.push((event.actorRef as AnyActor).id),
    });
    actors.start('a', { ms: 1 });
    expect(seen).toEqual(['a']);
  });

  it('stop when their owner stops', () => {
    const { actors } = owned();
    const owner = createActor(setup({}).createMachine({})).start();
    actors.stopWith(owner);
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
    // Cancelling its timer touched only its own system's scheduler.
    expect(Object.keys(probe.system.getSnapshot()._scheduledEvents)).toHaveLength(1);
    actors.stop('probe');
    expect(Object.keys(probe.system.getSnapshot()._scheduledEvents)).toHaveLength(0);
    clock.increment(60_000);
    expect([...actors.values()].every((actor) => actor.getSnapshot().value === 'ticked')).toBe(true);
  });
});
