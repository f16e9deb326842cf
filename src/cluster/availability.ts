/**
 * One node's availability actor (availability.machine.ts) wired to the node: its recovery
 * and connections go in, and what the machine emits comes out as log lines, fresh
 * connections after a command that timed out, and the moment from which the node may reap.
 * At start-up, node.ts logs the join and its grace itself.
 * ClusterNode (node.ts) asks it whether to serve and tells it what Redis did.
 */
import { createActor, fromPromise, type ActorOptions, type AnyActorLogic } from 'xstate';
import type { Logger } from '../log.js';
import {
  availabilityMachine,
  availabilityState,
  isServing,
  whenAvailable,
  type AvailabilityActor,
  type AvailabilityEvent,
  type AvailabilityState,
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
  /** Why the first join failed, as the machine reported it: join() throws it. */
  private joinError: Error | null = null;

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
    this.actor.on('unavailable', ({ reason, err }) => this.becameUnavailable(reason, err));
    this.actor.on('recovered', (recovered) => this.recovered(recovered.rejoining, recovered));
    this.actor.on('graceOver', ({ rejoining }) => {
      if (rejoining) this.log.info('grace over; serving');
    });
    this.actor.on('recoveryFailed', ({ rejoining, error }) => {
      if (rejoining) this.log.debug({ err: error }, 'recovery failed; will retry');
      else this.joinError = error instanceof Error ? error : new Error(String(error));
    });
    this.actor.start();
  }

  get state(): AvailabilityState {
    return availabilityState(this.actor.getSnapshot());
  }

  /** Connected and recovered: the log is read and written (a grace may still hold claims back). */
  get isAvailable(): boolean {
    return this.actor.getSnapshot().matches('available');
  }

  /** Available and taking claims. */
  get isServing(): boolean {
    return isServing(this.actor.getSnapshot());
  }

  /** Available long enough that other nodes' leases tell the truth (recovery.ts, reapDelayMs). */
  get mayReap(): boolean {
    return this.isAvailable && Date.now() >= this.reapFrom;
  }

  /** The grace a start-up must wait out (ms), or null when none runs. */
  get graceLeftMs(): number | null {
    const snapshot = this.actor.getSnapshot();
    return snapshot.matches({ available: 'grace' }) ? snapshot.context.graceLeftMs : null;
  }

  /** The first join, once both connections are open: resolves when available; else throws why not. */
  async join(): Promise<void> {
    this.tell({ type: 'redis.ready' });
    if (this.state !== 'connecting') await whenAvailable(this.actor);
    if (!this.isAvailable) throw this.joinError ?? new Error('the connection to redis did not stay up');
  }

  /** Both connections may be up again (a connection's 'ready'). */
  ready(): void {
    this.tell({ type: 'redis.ready' });
  }

  /** A command failed, or the lease is gone; news only while available. */
  lost(reason: string, err?: unknown): void {
    this.tell({ type: 'redis.lost', reason, err });
  }

  /** Resolves once available, or closed. */
  whenAvailable(): Promise<void> {
    return whenAvailable(this.actor);
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
    if (!rejoining) return; // start() says what a first join does
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
