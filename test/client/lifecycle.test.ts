import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  begin,
  transition,
  type Lifecycle,
  type LifecycleEvent,
  type ConnectionState,
} from '../../client/lifecycle.js';

const ticket = { secret: 's3cret', epoch: 'e1' };

/** Runs `events` from the start; returns every step's lifecycle and effects. */
function run(...events: LifecycleEvent[]) {
  let step = begin();
  const steps = [step];
  for (const event of events) {
    step = transition(step.lifecycle, event);
    steps.push(step);
  }
  return { last: step, steps };
}

const online: LifecycleEvent[] = [{ type: 'socket.opened' }, { type: 'server.welcome', session: ticket }];

describe('client lifecycle', () => {
  it('connects, registers the name, and is online once welcomed', () => {
    const { steps } = run(...online);
    expect(steps.map((step) => step.lifecycle.state)).toEqual(['connecting', 'registering', 'online']);
    expect(steps.map((step) => step.effects)).toEqual([
      [{ type: 'openSocket' }, { type: 'startTimer', timer: 'deadline' }],
      [{ type: 'register' }],
      [{ type: 'startTimer', timer: 'stable' }, { type: 'online' }],
    ]);
    expect(steps[2]!.lifecycle.session).toEqual(ticket);
  });

  it('after a lost connection retries at once, resumes, and backs off more with each loss in a row', () => {
    const { steps, last } = run(
      ...online,
      { type: 'socket.closed', code: 1006 },
      { type: 'timer.retry' },
      { type: 'socket.closed', code: 1006 },
      { type: 'timer.retry' },
      { type: 'socket.opened' },
    );
    expect(steps[3]!.lifecycle.state).toBe('reconnecting');
    expect(steps[3]!.effects).toEqual([{ type: 'startTimer', timer: 'retry', failures: 0 }]);
    expect(steps[4]!.effects).toEqual([{ type: 'openSocket' }, { type: 'startTimer', timer: 'deadline' }]);
    expect(steps[5]!.effects).toEqual([{ type: 'startTimer', timer: 'retry', failures: 1 }]);
    expect(last.effects).toEqual([{ type: 'resume', session: ticket }]);
  });

  it('forgets the failures once a connection has stayed online for the stable period', () => {
    const lostTwice = run(...online, { type: 'socket.closed', code: 1006 }, { type: 'timer.retry' }, ...online, {
      type: 'socket.closed',
      code: 1001,
    });
    expect(lostTwice.last.effects).toEqual([{ type: 'startTimer', timer: 'retry', failures: 1 }]);
    const stable = run(
      ...online,
      { type: 'socket.closed', code: 1006 },
      { type: 'timer.retry' },
      ...online,
      { type: 'timer.stable' },
      { type: 'socket.closed', code: 1001 },
    );
    expect(stable.last.effects).toEqual([{ type: 'startTimer', timer: 'retry', failures: 0 }]);
  });

  it('registers the name again when the session expired, and says the session was lost', () => {
    const { last } = run(
      ...online,
      { type: 'socket.closed', code: 1006 },
      { type: 'timer.retry' },
      { type: 'socket.opened' },
      {
        type: 'server.sessionExpired',
      },
    );
    expect(last.lifecycle).toMatchObject({ state: 'registering', session: null });
    expect(last.effects).toEqual([{ type: 'sessionLost' }, { type: 'register' }]);
  });

  it('stops for good on a refused name, a take-over and a close for a broken rule', () => {
    expect(run({ type: 'socket.opened' }, { type: 'server.refused', code: 'name_taken' }).last).toEqual({
      lifecycle: expect.objectContaining({ state: 'closed', closedBy: { reason: 'name_taken' } }),
      effects: [{ type: 'stopTimer' }, { type: 'leave' }],
    });
    // Unless this client's own unanswered attempt may hold the name: dropped, then retried like a loss.
    const ownClaim = run(
      { type: 'socket.opened' },
      { type: 'server.refused', code: 'name_taken', ownClaimMayHold: true },
      { type: 'socket.closed', code: 1006 },
    );
    expect(ownClaim.steps[2]!.effects).toEqual([{ type: 'dropSocket' }]);
    expect(ownClaim.last.lifecycle.state).toBe('reconnecting');
    expect(run(...online, { type: 'socket.closed', code: 4002 }).last.lifecycle.closedBy).toEqual({
      reason: 'taken_over',
    });
    expect(run(...online, { type: 'socket.closed', code: 1008 }).last.lifecycle.closedBy).toEqual({
      reason: 'rejected',
      code: 1008,
    });
  });

  it('after a lost name (4001) registers again instead of resuming', () => {
    const { last, steps } = run(
      ...online,
      { type: 'socket.closed', code: 4001 },
      { type: 'timer.retry' },
      {
        type: 'socket.opened',
      },
    );
    expect(steps[3]!.effects[0]).toEqual({ type: 'sessionLost' });
    expect(last.effects).toEqual([{ type: 'register' }]);
  });

  it('drops a socket that missed its deadline or met an unavailable server, and waits for its close', () => {
    const late = run({ type: 'timer.deadline' });
    expect(late.last).toEqual({ lifecycle: late.steps[0]!.lifecycle, effects: [{ type: 'dropSocket' }] });
    const unavailable = run(
      { type: 'socket.opened' },
      { type: 'server.unavailable' },
      { type: 'socket.closed', code: 4000 },
    );
    expect(unavailable.steps[2]!.effects).toEqual([{ type: 'dropSocket' }]);
    expect(unavailable.last.lifecycle.state).toBe('reconnecting');
  });

  it('closes from every state on app.close, and ignores everything once closed', () => {
    const toState: Record<Exclude<ConnectionState, 'closed'>, LifecycleEvent[]> = {
      connecting: [],
      registering: [{ type: 'socket.opened' }],
      online,
      reconnecting: [...online, { type: 'socket.closed', code: 1006 }],
    };
    for (const [state, events] of Object.entries(toState)) {
      const { steps, last } = run(...events, { type: 'app.close' });
      expect(steps.at(-2)!.lifecycle.state).toBe(state);
      expect(last.lifecycle.closedBy).toEqual({ reason: 'closed' });
      expect(last.effects).toEqual([{ type: 'stopTimer' }, { type: 'leave' }]);
      expect(transition(last.lifecycle, { type: 'timer.retry' })).toEqual({ lifecycle: last.lifecycle, effects: [] });
    }
  });

  it('never asks for a second socket while one is open, whatever happens (property)', () => {
    const event = fc.oneof(
      fc.constant<LifecycleEvent>({ type: 'socket.opened' }),
      fc.constantFrom(1000, 1001, 1006, 1008, 1011, 4000, 4001, 4002).map((code): LifecycleEvent => ({
        type: 'socket.closed',
        code,
      })),
      fc.constant<LifecycleEvent>({ type: 'server.welcome', session: ticket }),
      fc.constant<LifecycleEvent>({ type: 'server.refused', code: 'name_taken' }),
      fc.constantFrom<LifecycleEvent>(
        { type: 'server.sessionExpired' },
        { type: 'server.unavailable' },
        { type: 'timer.retry' },
        { type: 'timer.deadline' },
        { type: 'timer.stable' },
        { type: 'app.close' },
      ),
    );
    fc.assert(
      fc.property(fc.array(event, { maxLength: 60 }), (events) => {
        let { lifecycle, effects } = begin();
        // The world the adapter lives in: one socket at most, which opens and closes only when it exists.
        let socket: 'none' | 'opening' | 'open' = 'opening';
        const check = (before: Lifecycle) => {
          for (const effect of effects) {
            if (effect.type === 'openSocket') {
              expect(socket).toBe('none');
              socket = 'opening';
            }
          }
          if (before.state === 'closed') expect(lifecycle).toBe(before);
        };
        for (const next of events) {
          if (next.type === 'socket.opened' && socket !== 'opening') continue;
          if (next.type === 'socket.closed' && socket === 'none') continue;
          if (next.type.startsWith('server.') && socket !== 'open') continue;
          if (next.type === 'socket.opened') socket = 'open';
          if (next.type === 'socket.closed') socket = 'none';
          const before = lifecycle;
          ({ lifecycle, effects } = transition(lifecycle, next));
          check(before);
          if (lifecycle.state === 'online') expect(lifecycle.session).not.toBeNull();
        }
      }),
    );
  });
});
