/**
 * A cluster node's availability: whether it may take claims and write to the shared log.
 * The machine only decides; node.ts does the talking to Redis. It provides the recovery
 * (recovery.ts) as the `recovery` actor and the `connected` guard (both connections up),
 * sends what its connections report, and acts on what the machine emits.
 *
 *   connecting ─redis.ready─▶ recovering ─done─▶ available ─redis.lost─▶ unavailable
 *                              │     ▲      (grace ─after─▶ serving)       │      ▲
 *                              │     └──── probeMs later, or redis.ready ───┘      │
 *                              └──────────────────── failed ──────────────────────┘
 *
 *   The first recovery failing ends in closed instead: start() throws its error.
 *   close, from any state ──▶ closed (final: a recovery still running is dropped)
 *
 * `available.grace`: Redis came back empty and other nodes may still re-assert their names,
 * so claims wait (`graceLeftMs`, which Redis times); the log is read and written meanwhile.
 */
import { assertEvent, assign, emit, fromPromise, setup, waitFor, type ActorRefFrom, type SnapshotFrom } from 'xstate';
import type { Recovered } from './recovery.js';

export interface AvailabilityInput {
  /** How often an unavailable node tries to recover (ClusterTimings.probeMs). */
  probeMs: number;
}

export interface AvailabilityContext {
  probeMs: number;
  /** The grace the last recovery found running (ms); claims wait it out. */
  graceLeftMs: number;
  /** Set at the first loss: from then on a failed recovery is retried; before, it ends start-up. */
  rejoining: boolean;
}

export type AvailabilityEvent =
  /** Both connections may be up: start() once connected, then every connection's 'ready'. */
  | { type: 'redis.ready' }
  /** A command failed or the lease is gone; `err` when a connection may be stuck (it is renewed). */
  | { type: 'redis.lost'; reason: string; err?: unknown }
  | { type: 'close' };

export type AvailabilityEmitted =
  | { type: 'unavailable'; reason: string; err: unknown }
  | ({ type: 'recovered'; rejoining: boolean } & Recovered)
  | { type: 'recoveryFailed'; rejoining: boolean; error: unknown }
  | { type: 'graceOver'; rejoining: boolean };

/** The top-level state, as ClusterNode.debugState reports it. */
export type AvailabilityState = 'connecting' | 'available' | 'unavailable' | 'recovering' | 'closed';

export const availabilityMachine = setup({
  types: {
    input: {} as AvailabilityInput,
    context: {} as AvailabilityContext,
    events: {} as AvailabilityEvent,
    emitted: {} as AvailabilityEmitted,
  },
  actors: {
    // node.ts provides the real one; a machine run without it never becomes available.
    recovery: fromPromise<Recovered>(() => Promise.reject(new Error('no recovery provided'))),
  },
  guards: {
    // node.ts provides it: both Redis connections are ready.
    connected: () => true,
    rejoining: ({ context }) => context.rejoining,
    noGraceLeft: ({ context }) => context.graceLeftMs <= 0,
  },
  delays: {
    probe: ({ context }) => context.probeMs,
    grace: ({ context }) => context.graceLeftMs,
  },
  actions: {
    announceLost: emit(({ event }) => {
      assertEvent(event, 'redis.lost');
      return { type: 'unavailable' as const, reason: event.reason, err: event.err };
    }),
    markRejoining: assign({ rejoining: true }),
    keepGrace: assign((_, recovered: Recovered) => ({ graceLeftMs: recovered.graceLeftMs })),
    announceRecovered: emit(({ context }, recovered: Recovered) => ({
      type: 'recovered' as const,
      rejoining: context.rejoining,
      ...recovered,
    })),
    announceRecoveryFailed: emit(({ context }, failure: { error: unknown }) => ({
      type: 'recoveryFailed' as const,
      rejoining: context.rejoining,
      error: failure.error,
    })),
    announceGraceOver: emit(({ context }) => ({ type: 'graceOver' as const, rejoining: context.rejoining })),
  },
}).createMachine({
  id: 'clusterNode',
  context: ({ input }) => ({ probeMs: input.probeMs, graceLeftMs: 0, rejoining: false }),
  initial: 'connecting',
  on: { close: '.closed' },
  states: {
    connecting: {
      on: { 'redis.ready': { guard: 'connected', target: 'recovering' } },
    },
    recovering: {
      invoke: {
        src: 'recovery',
        onDone: {
          target: 'available',
          actions: [
            { type: 'keepGrace', params: ({ event }) => event.output },
            { type: 'announceRecovered', params: ({ event }) => event.output },
          ],
        },
        onError: [
          {
            guard: 'rejoining',
            target: 'unavailable',
            actions: { type: 'announceRecoveryFailed', params: ({ event }) => ({ error: event.error }) },
          },
          // The first join failed: start() throws this error.
          {
            target: 'closed',
            actions: { type: 'announceRecoveryFailed', params: ({ event }) => ({ error: event.error }) },
          },
        ],
      },
    },
    available: {
      initial: 'grace',
      on: { 'redis.lost': { target: 'unavailable', actions: ['markRejoining', 'announceLost'] } },
      states: {
        grace: {
          always: { guard: 'noGraceLeft', target: 'serving' },
          after: { grace: { target: 'serving', actions: 'announceGraceOver' } },
        },
        serving: {},
      },
    },
    unavailable: {
      on: { 'redis.ready': { guard: 'connected', target: 'recovering' } },
      // Not connected yet: look again after another probeMs (ioredis keeps reconnecting).
      after: {
        probe: [
          { guard: 'connected', target: 'recovering' },
          { target: 'unavailable', reenter: true },
        ],
      },
    },
    closed: { type: 'final' },
  },
});

export type AvailabilityActor = ActorRefFrom<typeof availabilityMachine>;
type AvailabilitySnapshot = SnapshotFrom<typeof availabilityMachine>;

/** The top-level state of a snapshot (`available` whether or not a grace runs). */
export function availabilityState(snapshot: AvailabilitySnapshot): AvailabilityState {
  return typeof snapshot.value === 'string' ? snapshot.value : 'available';
}

/** Taking claims: available, and no grace running. */
export function isServing(snapshot: AvailabilitySnapshot): boolean {
  return snapshot.matches({ available: 'serving' });
}

/** Resolves once the node is available (a grace may still run), or once it has closed. */
export function whenAvailable(actor: AvailabilityActor): Promise<void> {
  const settled = (snapshot: AvailabilitySnapshot) => snapshot.status !== 'active' || snapshot.matches('available');
  if (settled(actor.getSnapshot())) return Promise.resolve();
  return waitFor(actor, settled).then(() => undefined);
}
