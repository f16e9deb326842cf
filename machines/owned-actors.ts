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
 * owner as the event `crashEvent` makes of it, sent by the group after its step (where
 * XState sent `xstate.error.actor.<id>`); it runs on the hub's clock (a simulated one in
 * tests) and reports to the hub's inspector, under its group; and it stops when the hub
 * stops.
 */
import {
  assertEvent,
  createActor,
  sendTo,
  setup,
  stopChild,
  type Actor,
  type ActorOptions,
  type AnyActorLogic,
  type AnyActorRef,
  type AnyEventObject,
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

/** Who hears of a member's crash, and as what event (given the id it was started under). */
interface CrashReport {
  owner: AnyActorRef;
  crashEvent: (id: string, error: unknown) => AnyEventObject;
  idPrefix: string;
}

/**
 * The root of one group: stops its members when told, and tells the owner of their
 * crashes. With a built-in `sendTo`, which delivers after the group's step: the owner
 * never runs nested inside an action of the group's.
 */
const groupMachine = setup({
  types: { input: {} as CrashReport, context: {} as CrashReport, events: {} as GroupEvent },
}).createMachine({
  id: 'group',
  context: ({ input }) => input,
  on: {
    'group.stop': {
      actions: stopChild(({ event }) => {
        assertEvent(event, 'group.stop');
        return event.actor;
      }),
    },
    'xstate.error.actor.*': {
      actions: sendTo(
        ({ context }) => context.owner,
        ({ context, event }) => {
          const id = event.type.slice(CRASH_PREFIX.length + context.idPrefix.length);
          return context.crashEvent(id, (event as { error: unknown }).error);
        },
      ),
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

  /**
   * @param owner whose actors these are: told of a crash, and they stop when it stops
   * @param crashEvent what `owner` is sent when the actor started under `id` throws; it decides what that ends
   * @param kind what the actors are, as inspectors show their groups (`connections#3`)
   * @param idPrefix put before each id in the actor's own id, as inspectors show it (`session:` + a session id)
   */
  constructor(
    private readonly logic: Logic,
    private readonly options: OwnedActorOptions,
    private readonly owner: AnyActorRef,
    private readonly crashEvent: (id: string, error: unknown) => AnyEventObject,
    private readonly kind: string,
    private readonly idPrefix = '',
  ) {
    // As XState stops a parent's children. An error listener here means the owner's own
    // failure is not reported as unhandled by XState: whoever runs the owner must listen.
    owner.subscribe({ complete: () => this.stopAll(), error: () => this.stopAll() });
  }

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

  /** Stops every actor here; the groups' roots stay, holding nothing, so that no queued stop is lost. */
  stopAll(): void {
    for (const id of [...this.owned.keys()]) this.stop(id);
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
    const id = `${this.kind}#${this.groups.length + 1}`;
    const report: CrashReport = { owner: this.owner, crashEvent: this.crashEvent, idPrefix: this.idPrefix };
    const root = createActor(groupMachine, { id, input: report, ...this.options });
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
