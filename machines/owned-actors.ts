/**
 * The hub's connection actors (one per socket) and session actors (one per granted name).
 *
 * They are not XState children (`spawnChild`), on purpose. XState keeps a parent's children
 * in a record that each spawn and each stop copies whole, and each actor's stop scans every
 * timer of its actor system for its own: the N-th join, leave or resume cost O(N), and
 * stopping a server with 6,000 sessions waiting took 17 s. Here each actor is the root of
 * a system of its own, so it owns its timers alone, and the hub finds it in a Map: starting
 * or stopping one costs the same however many there are.
 *
 * What a child got from XState is kept, explicitly: it talks to the hub through the `hub`
 * ref in its input (where it used `sendParent`); a crash reaches the hub through `onCrash`
 * (where it sent `xstate.error.actor.<id>`); it runs on the hub's clock (a simulated one in
 * tests) and reports to the hub's inspector; and it stops when the hub stops.
 */
import {
  createActor,
  type Actor,
  type ActorOptions,
  type AnyActorLogic,
  type AnyStateMachine,
  type AnyActorRef,
  type InputFrom,
} from 'xstate';

/** What the hub's own actor was created with, and so its connections and sessions are too. */
export interface OwnedActorOptions {
  clock?: ActorOptions<AnyActorLogic>['clock'];
  inspect?: ActorOptions<AnyActorLogic>['inspect'];
}

export class OwnedActors<Logic extends AnyStateMachine> {
  private readonly actors = new Map<string, Actor<Logic>>();
  /**
   * One observer for every actor here: one of its own per actor costs half a KiB each, and
   * a crash is rare enough (a bug) to be looked for among all of them.
   */
  private readonly crashWatch = { error: () => this.reportCrashes() };
  private readonly reported = new WeakSet<Actor<Logic>>();

  constructor(
    private readonly logic: Logic,
    private readonly options: OwnedActorOptions,
    /** Told when an actor throws; the owner decides what that ends. */
    private readonly onCrash: (id: string, error: unknown) => void,
    /** Put before each id in the actor's own id, as inspectors show it (`session:` + a session id). */
    private readonly idPrefix = '',
  ) {}

  /** Starts an actor under `id`; one already there is stopped first (ids are never reused, so that is a bug's trail). */
  start(id: string, input: InputFrom<Logic>): Actor<Logic> {
    this.stop(id);
    const actor = createActor(this.logic, { id: this.idPrefix + id, input, ...this.options });
    // Before start: a throw while starting is a crash like any other.
    actor.subscribe(this.crashWatch);
    this.actors.set(id, actor);
    actor.start();
    return actor;
  }

  private reportCrashes(): void {
    for (const [id, actor] of this.actors) {
      const snapshot = actor.getSnapshot() as { status: string; error?: unknown };
      if (snapshot.status !== 'error' || this.reported.has(actor)) continue;
      this.reported.add(actor);
      this.onCrash(id, snapshot.error);
    }
  }

  /** The actor under `id` until it is stopped, running or not: a crashed one keeps its last snapshot. */
  find(id: string): Actor<Logic> | undefined {
    return this.actors.get(id);
  }

  /** The running actor under `id`, if any. */
  get(id: string): Actor<Logic> | undefined {
    const actor = this.actors.get(id);
    return actor !== undefined && (actor.getSnapshot() as { status: string }).status === 'active' ? actor : undefined;
  }

  stop(id: string): void {
    const actor = this.actors.get(id);
    if (actor === undefined) return;
    this.actors.delete(id);
    actor.stop();
  }

  stopAll(): void {
    for (const id of [...this.actors.keys()]) this.stop(id);
  }

  /** Stops every actor here when `owner` stops or fails, as XState stops a parent's children. */
  stopWith(owner: AnyActorRef): this {
    owner.subscribe({ complete: () => this.stopAll(), error: () => this.stopAll() });
    return this;
  }

  get size(): number {
    return this.actors.size;
  }

  values(): IterableIterator<Actor<Logic>> {
    return this.actors.values();
  }

  /** In a snapshot (logs, the inspector) the hub's context shows how many, not each actor. */
  toJSON(): { running: number } {
    return { running: this.actors.size };
  }
}
