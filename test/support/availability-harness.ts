/**
 * A cluster node's availability machine run alone, for test/machines/availability.machine.test.ts:
 * a simulated clock, and a fake recovery whose every attempt the test settles by hand.
 */
import { expect } from 'vitest';
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import {
  availabilityMachine,
  availabilityState,
  type AvailabilityEmitted,
} from '../../src/cluster/availability.machine.js';
import type { Recovered } from '../../src/cluster/recovery.js';

export const PROBE_MS = 250;
export const kept: Recovered = { graceLeftMs: 0, hadLease: true };

/** One recovery attempt, settled by the test. */
interface Attempt {
  succeed(recovered?: Recovered): Promise<void>;
  fail(error: Error): Promise<void>;
}

/** Lets a settled promise reach the machine (fromPromise reports on a later tick). */
export const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

export function startNode() {
  const clock = new SimulatedClock();
  const attempts: Attempt[] = [];
  let connected = true;
  const machine = availabilityMachine.provide({
    actors: {
      recovery: fromPromise<Recovered>(
        () =>
          new Promise((resolve, reject) =>
            attempts.push({
              succeed: async (recovered = kept) => (resolve(recovered), await flush()),
              fail: async (error) => (reject(error), await flush()),
            }),
          ),
      ),
    },
    guards: { connected: () => connected },
  });
  const actor = createActor(machine, { clock, input: { probeMs: PROBE_MS } });
  const emitted: AvailabilityEmitted[] = [];
  actor.on('*', (event) => emitted.push(event));
  actor.start();
  const state = () => availabilityState(actor.getSnapshot());
  const lastAttempt = () => attempts.at(-1)!;
  return {
    actor,
    clock,
    attempts,
    emitted,
    state,
    lastAttempt,
    setConnected: (up: boolean) => (connected = up),
    join,
    /** Joins, then loses Redis: the node is unavailable. */
    async joinThenLose(): Promise<void> {
      await join();
      actor.send({ type: 'redis.lost', reason: 'claim failed', err: new Error('timeout') });
      expect(state()).toBe('unavailable');
    },
  };

  /** Joins: both connections up, the first recovery succeeds, the log reader delivers the roster. */
  async function join(recovered: Recovered = kept): Promise<void> {
    actor.send({ type: 'redis.ready' });
    await lastAttempt().succeed(recovered);
    actor.send({ type: 'roster.delivered' });
  }
}
