/**
 * A cluster node's availability: whether it may take claims and write to the shared log.
 * The machine only decides; node.ts does the talking to Redis. It provides the recovery
 * (recovery.ts) as the `recovery` actor and the `connected` guard (both connections up),
 * sends what its connections report, and acts on what the machine emits.
 *
 *   connecting ─redis.ready─▶ recovering ─done─▶ available ─redis.lost─▶ unavailable
 *       │                      │     ▲   (grace ▶ roster ▶ serving)         │      ▲
 *       │                      │     └───── probeMs later, or redis.ready ───┘      │
 *       │                      └───────────────────── failed ────────────────────────┤
 *       └──────────── redis.error, redis.lost: the first attempt failed ─────────────┘
 *
 *   A node that has never joined says once that it waits for Redis (`waiting`), when its
 *   first attempt fails or Redis cannot be joined, and then waits it out like an outage,
 *   however long it takes. Only Redis refusing it (refusal.ts: a wrong password, a key of
 *   the wrong type) ends in closed instead, from connecting, recovering or unavailable:
 *   nothing will change that until someone fixes a setting, so the process exits 1.
 *   Once joined, a refusal is an outage like any other.
 *   close, from any state ──▶ closed (final: a recovery still running is dropped)
 *
 * `available.grace`: Redis came back empty and other nodes may still re-assert their names,
 * so claims wait (`graceLeftMs`, which Redis times); once joined, the log is read meanwhile.
 * `available.roster`: the first time only, claims wait until the hub holds the cluster's
 * roster (`roster.delivered`), so that no welcome lists less than the whole cluster. The
 * log reader reads it there (mayReadLog): not during the first grace, when names that
 * other nodes re-assert later would be missing from it. From then on the node has joined.
 */
import {
  and,
  assertEvent,
  assign,
  emit,
  fromPromise,
  not,
  setup,
  waitFor,
  type ActorRefFrom,
  type SnapshotFrom,
} from 'xstate';
import type { Recovered } from './recovery.js';
import { isRefusal } from './refusal.js';

export interface AvailabilityInput {
  /** How often an unavailable node tries to recover (ClusterTimings.probeMs). */
  probeMs: number;
}

export interface AvailabilityContext {
  probeMs: number;
  /** The grace the last recovery found running (ms); claims wait it out. */
  graceLeftMs: number;
  /** The hub holds the cluster's roster: from now on a refusal is an outage like any other. */
  joined: boolean;
  /** Before joining: it has said that Redis cannot be reached and that it keeps trying. */
  saidWaiting: boolean;
}

export type AvailabilityEvent =
  /** Both connections may be up: every connection's 'ready'. */
  | { type: 'redis.ready' }
  /** A command failed, a connection closed, or the lease is gone; `err` when a connection may be stuck (it is renewed). */
  | { type: 'redis.lost'; reason: string; err?: unknown }
  /** A connection reported an error (it reconnects by itself): before joining, why an attempt failed. */
  | { type: 'redis.error'; err: unknown }
  /** The log reader handed the hub the cluster's roster (once per node). */
  | { type: 'roster.delivered' }
  | { type: 'close' };

export type AvailabilityEmitted =
  /** Before joining, Redis cannot be reached (or could not be joined): the node keeps trying. Once. */
  | { type: 'waiting'; reason: string; err: unknown }
  /** Before joining, Redis refused this node: closed. */
  | { type: 'refused'; error: unknown }
  /** The roster is in: the node has joined the cluster (it serves once available and past any grace). */
  | { type: 'joined' }
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
    joined: ({ context }) => context.joined,
    saidWaiting: ({ context }) => context.saidWaiting,
    noGraceLeft: ({ context }) => context.graceLeftMs <= 0,
    refusedBeforeJoining: ({ context }, failure: { error: unknown }) => !context.joined && isRefusal(failure.error),
  },
  delays: {
    probe: ({ context }) => context.probeMs,
    grace: ({ context }) => context.graceLeftMs,
  },
  actions: {
    announceWaiting: emit((_, failure: { reason: string; err: unknown }) => ({ type: 'waiting' as const, ...failure })),
    markWaiting: assign({ saidWaiting: true }),
    announceRefused: emit((_, failure: { error: unknown }) => ({ type: 'refused' as const, error: failure.error })),
    markJoined: assign({ joined: true }),
    announceJoined: emit({ type: 'joined' as const }),
    announceLost: emit(({ event }) => {
      assertEvent(event, 'redis.lost');
      return { type: 'unavailable' as const, reason: event.reason, err: event.err };
    }),
    keepGrace: assign((_, recovered: Recovered) => ({ graceLeftMs: recovered.graceLeftMs })),
    announceRecovered: emit(({ context }, recovered: Recovered) => ({
      type: 'recovered' as const,
      rejoining: context.joined,
      ...recovered,
    })),
    announceRecoveryFailed: emit(({ context }, failure: { error: unknown }) => ({
      type: 'recoveryFailed' as const,
      rejoining: context.joined,
      error: failure.error,
    })),
    announceGraceOver: emit(({ context }) => ({ type: 'graceOver' as const, rejoining: context.joined })),
  },
}).createMachine({
  id: 'clusterNode',
  context: ({ input }) => ({ probeMs: input.probeMs, graceLeftMs: 0, joined: false, saidWaiting: false }),
  initial: 'connecting',
  on: {
    close: '.closed',
    // Delivered while available; an outage may have begun since, and it counts all the same.
    'roster.delivered': { guard: not('joined'), actions: ['markJoined', 'announceJoined'] },
  },
  states: {
    // The first attempt: both connections opening (ioredis reconnects by itself when one fails).
    connecting: {
      on: {
        'redis.ready': { guard: 'connected', target: 'recovering' },
        'redis.error': [
          {
            guard: { type: 'refusedBeforeJoining', params: ({ event }) => ({ error: event.err }) },
            target: 'closed',
            actions: { type: 'announceRefused', params: ({ event }) => ({ error: event.err }) },
          },
          {
            target: 'unavailable',
            actions: [
              'markWaiting',
              { type: 'announceWaiting', params: ({ event }) => ({ reason: 'redis unreachable', err: event.err }) },
            ],
          },
        ],
        'redis.lost': {
          target: 'unavailable',
          actions: [
            'markWaiting',
            { type: 'announceWaiting', params: ({ event }) => ({ reason: event.reason, err: event.err }) },
          ],
        },
      },
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
            guard: { type: 'refusedBeforeJoining', params: ({ event }) => ({ error: event.error }) },
            target: 'closed',
            actions: { type: 'announceRefused', params: ({ event }) => ({ error: event.error }) },
          },
          // Redis answered the first attempt but could not be joined (a timeout, a Redis still loading).
          {
            guard: and([not('joined'), not('saidWaiting')]),
            target: 'unavailable',
            actions: [
              'markWaiting',
              { type: 'announceWaiting', params: ({ event }) => ({ reason: 'joining failed', err: event.error }) },
            ],
          },
          {
            target: 'unavailable',
            actions: { type: 'announceRecoveryFailed', params: ({ event }) => ({ error: event.error }) },
          },
        ],
      },
    },
    available: {
      initial: 'grace',
      on: { 'redis.lost': { target: 'unavailable', actions: 'announceLost' } },
      states: {
        grace: {
          always: { guard: 'noGraceLeft', target: 'roster' },
          after: { grace: { target: 'roster', actions: 'announceGraceOver' } },
        },
        roster: {
          always: { guard: 'joined', target: 'serving' },
        },
        serving: {},
      },
    },
    unavailable: {
      on: {
        'redis.ready': { guard: 'connected', target: 'recovering' },
        'redis.error': {
          guard: { type: 'refusedBeforeJoining', params: ({ event }) => ({ error: event.err }) },
          target: 'closed',
          actions: { type: 'announceRefused', params: ({ event }) => ({ error: event.err }) },
        },
      },
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

/** The top-level state of a snapshot (`available` whether or not a grace runs or the roster is awaited). */
export function availabilityState(snapshot: AvailabilitySnapshot): AvailabilityState {
  return typeof snapshot.value === 'string' ? snapshot.value : 'available';
}

/** Taking claims: available, joined, and no grace running. */
export function isServing(snapshot: AvailabilitySnapshot): boolean {
  return snapshot.matches({ available: 'serving' });
}

/**
 * Where the node stands, as /readyz and `chat_cluster_state` say it: `serving`; `starting`
 * before it has ever joined (its first attempt, a grace on an empty Redis, the roster);
 * `grace` when it is back on an emptied Redis and claims wait; `unavailable` otherwise
 * (Redis out of reach, at start or later, or closed).
 */
export type Readiness = 'serving' | 'starting' | 'grace' | 'unavailable';

export function readiness(snapshot: AvailabilitySnapshot): Readiness {
  if (isServing(snapshot)) return 'serving';
  const { joined, saidWaiting } = snapshot.context;
  if (snapshot.matches('available')) return joined ? 'grace' : 'starting';
  // The first attempt, not failed yet.
  if (!joined && !saidWaiting && snapshot.status === 'active') return 'starting';
  return 'unavailable';
}

/** Has joined once: the hub has held the cluster's roster (an outage since does not undo it). */
export function hasJoined(snapshot: AvailabilitySnapshot): boolean {
  return snapshot.context.joined;
}

/** The log reader may read: available, except during a grace before the node has joined (see the top). */
export function mayReadLog(snapshot: AvailabilitySnapshot): boolean {
  return snapshot.matches('available') && (snapshot.context.joined || !snapshot.matches({ available: 'grace' }));
}

/** Resolves once the node is available (a grace may still run), or once it has closed. */
export function whenAvailable(actor: AvailabilityActor): Promise<void> {
  return settled(actor, (snapshot) => snapshot.matches('available'));
}

/** Resolves once the log reader may read (mayReadLog), or once the node has closed. */
export function whenLogReadable(actor: AvailabilityActor): Promise<void> {
  return settled(actor, mayReadLog);
}

/**
 * How a start ends: `serving`, or `waiting` as soon as Redis turns out to be out of reach
 * before the node serves (it keeps trying), or `closed` (refused, or closed meanwhile).
 */
export async function startOutcome(actor: AvailabilityActor): Promise<'serving' | 'waiting' | 'closed'> {
  await settled(actor, (snapshot) => isServing(snapshot) || snapshot.matches('unavailable'));
  const snapshot = actor.getSnapshot();
  if (snapshot.status !== 'active') return 'closed';
  return isServing(snapshot) ? 'serving' : 'waiting';
}

function settled(actor: AvailabilityActor, done: (snapshot: AvailabilitySnapshot) => boolean): Promise<void> {
  const over = (snapshot: AvailabilitySnapshot) => snapshot.status !== 'active' || done(snapshot);
  if (over(actor.getSnapshot())) return Promise.resolve();
  return waitFor(actor, over).then(() => undefined);
}
