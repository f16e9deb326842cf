/**
 * The hub's connection actors (one per socket) and session actors (one per granted name).
 *
 * They are not XState children of the hub (`spawnChild`), on purpose. XState keeps a
 * parent's children in a record that each spawn and each stop copies whole, and each
 * actor's stop scans every timer of its actor system for its own: the N-th join, leave or
 * resume cost O(N), and stopping a server with 6,000 sessions waiting took 17 s.
 *
 * Here the actors live in groups of at most GROUP_SIZE. Each group is an actor system of
 * its own, whose root (a `group` actor) is every member's parent without ever listing
 * them as children: an actor is created with `parent` set to it, which shares the system
 * and makes the group hear of a crash, and it is stopped through the group's `stopChild`
 * with the actor's ref, which copies only the group's children record, always empty. A
 * stop scans only its group's timers. So starting or stopping one costs the same however
 * many run, and a system's own cost (some 1.7 KiB of heap) is shared by up to GROUP_SIZE
 * actors instead of paid by each.
 *
 * What a child got from the hub being its parent is kept, explicitly: it talks to the hub
 * through the `hub` ref in its input (where it used `sendParent`); a crash reaches the
 * owner through `onCrash`; it runs on the hub's clock (a simulated one in tests) and
 * reports to the hub's inspector, under its group; and it stops when the hub stops.
 */
import {
  assertEvent,
  createActor,
  setup,
  stopChild,
  type Actor,
  type ActorOptions,
  type AnyActorLogic,
  type AnyActorRef,
  type AnyStateMachine,
  type InputFrom,
} from 'xstate';

/** Actors per group: what one stop scans at most (their timers), and what shares one system's cost. */
export const GROUP_SIZE = 64;

/** What the hub's own actor was created with, and so its connections and sessions are too. */
export interface OwnedActorOptions {
  clock?: ActorOptions<AnyActorLogic>['clock'];
  inspect?: ActorOptions<AnyActorLogic>['inspect'];
}

const CRASH_PREFIX = 'xstate.error.actor.';

type GroupEvent = { type: 'group.stop'; actor: AnyActorRef } | { type: `xstate.error.actor.${string}`; error: unknown };

/** The root of one group: stops its members when told, and passes their crashes on. */
const groupMachine = setup({
  types: {
    input: {} as { onCrash: (actorId: string, error: unknown) => void },
    context: {} as { onCrash: (actorId: string, error: unknown) => void },
    events: {} as GroupEvent,
  },
}).createMachine({
  id: 'group',
  context: ({ input }) => ({ onCrash: input.onCrash }),
  on: {
    'group.stop': {
      actions: stopChild(({ event }) => {
        assertEvent(event, 'group.stop');
        return event.actor;
      }),
    },
    'xstate.error.actor.*': {
      actions: ({ context, event }) => context.onCrash(event.type.slice(CRASH_PREFIX.length), event.error),
    },
  },
});

interface Group {
  readonly root: Actor<typeof groupMachine>;
  members: number;
  /** Listed in `open`, having room. */
  listed: boolean;
}

interface Owned<Logic extends AnyStateMachine> {
  readonly actor: Actor<Logic>;
  readonly group: Group;
}

export class OwnedActors<Logic extends AnyStateMachine> {
  private readonly owned = new Map<string, Owned<Logic>>();
  /** Groups with room for one more, the last one first to be filled. */
  private readonly open: Group[] = [];
  private readonly groups: Group[] = [];

  constructor(
    private readonly logic: Logic,
    private readonly options: OwnedActorOptions,
    /** Told when an actor throws (with the id it was started under); the owner decides what that ends. */
    private readonly onCrash: (id: string, error: unknown) => void,
    /** What the actors are, as inspectors show their groups (`connections#3`). */
    private readonly kind: string,
    /** Put before each id in the actor's own id, as inspectors show it (`session:` + a session id). */
    private readonly idPrefix = '',
  ) {}

  /** Starts an actor under `id`; one already there is stopped first (ids are never reused, so that is a bug's trail). */
  start(id: string, input: InputFrom<Logic>): Actor<Logic> {
    this.stop(id);
    const group = this.groupWithRoom();
    const actor = createActor(this.logic, { id: this.idPrefix + id, input, parent: group.root });
    group.members++;
    if (group.members === GROUP_SIZE) this.unlist(group);
    this.owned.set(id, { actor, group });
    actor.start();
    return actor;
  }

  /** The actor under `id` until it is stopped, running or not: a crashed one keeps its last snapshot. */
  find(id: string): Actor<Logic> | undefined {
    return this.owned.get(id)?.actor;
  }

  /** The running actor under `id`, if any. */
  get(id: string): Actor<Logic> | undefined {
    const actor = this.owned.get(id)?.actor;
    return actor !== undefined && (actor.getSnapshot() as { status: string }).status === 'active' ? actor : undefined;
  }

  stop(id: string): void {
    const owned = this.owned.get(id);
    if (owned === undefined) return;
    this.owned.delete(id);
    const { actor, group } = owned;
    group.root.send({ type: 'group.stop', actor });
    group.members--;
    if (!group.listed) {
      group.listed = true;
      this.open.push(group);
    }
  }

  stopAll(): void {
    for (const id of [...this.owned.keys()]) this.stop(id);
    for (const group of this.groups) group.root.stop();
  }

  /** Stops every actor here when `owner` stops or fails, as XState stops a parent's children. */
  stopWith(owner: AnyActorRef): this {
    owner.subscribe({ complete: () => this.stopAll(), error: () => this.stopAll() });
    return this;
  }

  get size(): number {
    return this.owned.size;
  }

  *values(): IterableIterator<Actor<Logic>> {
    for (const { actor } of this.owned.values()) yield actor;
  }

  /** In a snapshot (logs, the inspector) the hub's context shows how many, not each actor. */
  toJSON(): { running: number } {
    return { running: this.owned.size };
  }

  private groupWithRoom(): Group {
    const last = this.open.at(-1);
    if (last !== undefined) return last;
    const onCrash = (actorId: string, error: unknown) => this.onCrash(actorId.slice(this.idPrefix.length), error);
    const id = `${this.kind}#${this.groups.length + 1}`;
    const root = createActor(groupMachine, { id, input: { onCrash }, ...this.options });
    const group: Group = { root: root.start(), members: 0, listed: true };
    this.groups.push(group);
    this.open.push(group);
    return group;
  }

  private unlist(group: Group): void {
    group.listed = false;
    this.open.splice(this.open.lastIndexOf(group), 1);
  }
}
