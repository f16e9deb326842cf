/**
 * One node's availability actor (availability.machine.ts) wired to the node: its recovery
 * and connections go in, and what the machine emits comes out as log lines, fresh
 * connections after a command that timed out, Redis's refusal, and the moment from which
 * the node may reap.
 * ClusterNode (node.ts) asks it whether to serve and tells it what Redis did.
 */
import { createActor, fromPromise, type ActorOptions, type AnyActorLogic } from 'xstate';
import type { Logger } from '../log.js';
import {
  availabilityMachine,
  availabilityState,
  hasJoined,
  isServing,
  readiness,
  startOutcome,
  whenAvailable,
  whenLogReadable,
  type AvailabilityActor,
  type AvailabilityEvent,
  type AvailabilityState,
  type Readiness,
} from './availability.machine.js';
import type { ClusterTimings } from './lease.js';
import { reapDelayMs, type Recovered } from './recovery.js';
import type { ClusterStore } from './store.js';

/** `--inspect`: the observer that reports the actor to the Stately inspector. */
export type InspectOption = ActorOptions<AnyActorLogic>['inspect'];

/** The machine's timers (probe, grace) keep no process alive on their own, as the node's other timers. */
const unrefClock = {
  setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms).unref(),
  clearTimeout: (timer: NodeJS.Timeout) => clearTimeout(timer),
};

export class Availability {
  private readonly actor: AvailabilityActor;
  /** Local ms from which this node may reap other nodes (recovery.ts, reapDelayMs). */
  private reapFrom = Infinity;
  private unavailableSince = 0;
  /** Redis's refusal, once one has ended the node before it joined (refusal.ts). */
  private refusal: Error | null = null;
  private markRefused: (error: Error) => void = () => {};
  /** Resolves with the refusal. */
  readonly refused = new Promise<Error>((resolve) => (this.markRefused = resolve));

  constructor(
    private readonly store: ClusterStore,
    recover: () => Promise<Recovered>,
    private readonly timings: ClusterTimings,
    private readonly log: Logger,
    inspect?: InspectOption,
  ) {
    const machine = availabilityMachine.provide({
      actors: { recovery: fromPromise<Recovered>(recover) },
      guards: { connected: () => store.isReady },
    });
    this.actor = createActor(machine, { input: { probeMs: timings.probeMs }, clock: unrefClock, inspect });
    this.actor.on('waiting', ({ reason, err }) =>
      this.log.warn(
        { redis: store.redactedUrl, reason, err, retryMs: timings.probeMs },
        'redis unreachable at start; not ready, trying again until it answers',
      ),
    );
    this.actor.on('refused', ({ error }) => {
      this.refusal = error instanceof Error ? error : new Error(String(error));
      this.markRefused(this.refusal);
    });
    this.actor.on('joined', () => this.log.info({ leaseMs: timings.leaseMs }, 'joined the cluster'));
    this.actor.on('unavailable', ({ reason, err }) => this.becameUnavailable(reason, err));
    this.actor.on('recovered', (recovered) => this.recovered(recovered.rejoining, recovered));
    this.actor.on('graceOver', ({ rejoining }) => {
      if (rejoining) this.log.info('grace over; serving');
    });
    this.actor.on('recoveryFailed', ({ error }) => this.log.debug({ err: error }, 'recovery failed; will retry'));
    this.actor.start();
  }

  get state(): AvailabilityState {
    return availabilityState(this.actor.getSnapshot());
  }

  /** Connected and recovered: the log is written (a grace may still hold claims back). */
  get isAvailable(): boolean {
    return this.actor.getSnapshot().matches('available');
  }

  /** Available, joined, and taking claims. */
  get isServing(): boolean {
    return isServing(this.actor.getSnapshot());
  }

  /** Where the node stands, for /readyz and the metrics (availability.machine.ts, readiness). */
  get readiness(): Readiness {
    return readiness(this.actor.getSnapshot());
  }

  /** Has held the cluster's roster once: past its start. */
  get hasJoined(): boolean {
    return hasJoined(this.actor.getSnapshot());
  }

  /** Available long enough that other nodes' leases tell the truth (recovery.ts, reapDelayMs). */
  get mayReap(): boolean {
    return this.isAvailable && Date.now() >= this.reapFrom;
  }

  /**
   * Resolves `serving` once the node serves, or `waiting` once Redis turned out to be out of
   * reach first (the node keeps trying); throws the refusal, if Redis refused the node.
   */
  async started(): Promise<'serving' | 'waiting'> {
    const outcome = await startOutcome(this.actor);
    if (outcome === 'closed') throw this.refusal ?? new Error('closed before it could join');
    return outcome;
  }

  /** Both connections may be up (a connection's 'ready'). */
  ready(): void {
    this.tell({ type: 'redis.ready' });
  }

  /** A connection reported an error; before the node has joined, it may be a refusal. */
  failed(err: unknown): void {
    this.tell({ type: 'redis.error', err });
  }

  /** A command failed, a connection closed, or the lease is gone. */
  lost(reason: string, err?: unknown): void {
    this.tell({ type: 'redis.lost', reason, err });
  }

  /** The hub holds the cluster's roster. */
  rosterDelivered(): void {
    this.tell({ type: 'roster.delivered' });
  }

  /** Resolves once available, or closed. */
  whenAvailable(): Promise<void> {
    return whenAvailable(this.actor);
  }

  /** Resolves once the log may be read, or closed. */
  whenLogReadable(): Promise<void> {
    return whenLogReadable(this.actor);
  }

  close(): void {
    this.tell({ type: 'close' });
  }

  /** Connections keep reporting after close(); a closed machine takes no events. */
  private tell(event: AvailabilityEvent): void {
    if (this.actor.getSnapshot().status === 'active') this.actor.send(event);
  }

  private becameUnavailable(reason: string, err: unknown): void {
    this.unavailableSince = Date.now();
    this.log.warn({ reason, err }, 'redis unavailable; refusing claims and messages');
    // A command that timed out may sit on a dead socket: start both connections afresh.
    if (err !== undefined) {
      this.store.commands.disconnect(true);
      this.store.reader.disconnect(true);
    }
  }

  private recovered(rejoining: boolean, { hadLease, graceLeftMs }: Recovered): void {
    const outageMs = rejoining ? Date.now() - this.unavailableSince : null;
    this.reapFrom = Date.now() + reapDelayMs(outageMs, hadLease, this.timings);
    if (!rejoining) {
      // Not joined yet: 'joined the cluster' follows once the grace is over and the roster in.
      if (graceLeftMs > 0)
        this.log.info(
          { graceMs: graceLeftMs },
          'a grace is running (redis was found empty): waiting it out before serving',
        );
      return;
    }
    // Back on an emptied Redis, claims wait for the grace: "serving" only once it is over.
    if (graceLeftMs > 0) {
      this.log.info(
        { outageMs, graceMs: graceLeftMs },
        'redis reachable again; a grace is running (redis was found empty): refusing claims until it ends',
      );
    } else {
      this.log.info({ outageMs }, 'redis reachable again; serving');
    }
  }
}
