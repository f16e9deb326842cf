/**
 * Lifecycle events -> metrics and the live /inspect feed.
 *
 * It listens to what the actors already emit and adds nothing to the per-delivery path:
 *
 *   hub 'member.joined' / 'member.left' / 'connection.crashed' ─▶ registrations, leaves, feed
 *   hub 'broadcast', as fanout delivered it (server.ts passes it) ─▶ one addition: its recipients
 *   connection 'frame' (always an error)                         ─▶ errors by code, refused names
 *   socket 'close'                                               ─▶ closes by code
 *   hub 'address.limited', connection 'limited'                  ─▶ options.limited (server.ts counts and logs)
 *
 * /metrics' connections per state (awaitingName, registered) are kept as connections open,
 * register or resume, and close: rare events, each O(1), so that a scrape costs the same
 * with 10,000 connections as with none. The /inspect feed's finer counts (every state path
 * of connections and sessions) are read from the actors' snapshots once per update, and
 * only while someone watches it. Membership is not mirrored here: fanout holds it, and
 * reports what each broadcast reached.
 */
import type { Actor, AnyActor, AnyStateMachine, StateValue } from 'xstate';
import type { hubMachine } from '../machines/hub.machine.js';
import { connectionMachine } from '../machines/connection.machine.js';
import { sessionMachine } from '../machines/session.machine.js';
import type { ErrorCode } from './errors.js';
import type { AddressLimit } from './address-limits.js';
import type { Broadcast } from './fanout.js';
import { LiveView } from './live-view.js';
import { Metrics, type RefusalReason, type StateCounts } from './metrics.js';
import type { ConnectionActor } from './transport.js';

type HubActor = Actor<typeof hubMachine>;

/** The one thing observe needs of a socket: to hear it close, with the code. */
export interface ClosingSocket {
  on(event: 'close', listener: (code: number) => void): unknown;
}

export interface ObserverOptions {
  /** Keep the lifecycle feed for the /inspect page. */
  livePage: boolean;
  /** Connection `id`'s client address went over a limit the hub or the connection keeps. */
  limited?: (id: string, limit: Extract<AddressLimit, 'names' | 'registrations' | 'messages'>) => void;
}

export class Observer {
  readonly metrics: Metrics;
  /** The /inspect feed; null unless the page is on. */
  readonly live: LiveView | null;
  /** Connections tracked and not closed yet, and those of them registered (by a welcome or a resume). */
  private readonly openIds = new Set<string>();
  private readonly registeredIds = new Set<string>();

  constructor(
    private readonly hub: HubActor,
    private readonly options: ObserverOptions,
  ) {
    this.metrics = new Metrics(
      () => ({ awaitingName: this.openIds.size - this.registeredIds.size, registered: this.registeredIds.size }),
      () => this.hub.getSnapshot().context.waiting.size,
    );
    this.live = options.livePage
      ? new LiveView({ connections: () => this.countStates(), sessions: () => this.countSessionStates() })
      : null;

    hub.on('member.joined', ({ id, name }) => {
      if (this.openIds.has(id)) this.registeredIds.add(id);
      this.metrics.registrationAccepted();
      this.live?.record({ kind: 'joined', conn: id, name });
    });
    hub.on('member.left', ({ id, name, cause }) => {
      this.metrics.memberLeft(cause);
      this.live?.record({ kind: 'left', conn: id, name, cause });
    });
    hub.on('member.resumed', ({ id, name, recovered, replayed }) => {
      if (this.openIds.has(id)) this.registeredIds.add(id);
      this.metrics.resumed(recovered ? 'recovered' : 'not_recovered', replayed);
      this.live?.record({ kind: 'resumed', conn: id, name, recovered, replayed });
    });
    hub.on('resume.refused', () => this.metrics.resumed('expired'));
    hub.on('session.ended', ({ name, cause }) => {
      this.metrics.sessionEnded(cause);
      this.live?.record({ kind: 'ended', name, cause });
    });
    hub.on('send', ({ frames }) => {
      let replayed = 0;
      for (const frame of frames) if (frame.type !== 'welcome' && frame.type !== 'error' && frame.replay) replayed++;
      if (replayed > 0) this.metrics.replayed(replayed);
    });
    hub.on('address.limited', ({ id, limit }) => options.limited?.(id, limit));
    hub.on('connection.crashed', ({ id }) => {
      this.metrics.connectionCrashed();
      this.live?.record({ kind: 'crashed', conn: id });
    });
  }

  /**
   * One broadcast as fanout delivered it (`Fanout.broadcast`'s answer, and `Fanout.has` of
   * its author): a message counts as received here when its author is a member here.
   */
  broadcast({ frame }: Broadcast, recipients: number, authorIsMember: boolean): void {
    this.metrics.broadcast(recipients, frame.type === 'message' && authorIsMember);
  }

  /**
   * Follows one connection from its upgrade to its close. Two listeners per connection, and
   * cheap ones: '*' shares the actor's one listener Set with transport.ts (each event type
   * of its own would cost a Set), and 'close' comes once, so `on` spares `once`'s wrapper.
   */
  track(id: string, socket: ClosingSocket, actor: ConnectionActor): void {
    this.openIds.add(id);
    this.metrics.connectionOpened();
    this.live?.record({ kind: 'opened', conn: id });
    // A connection actor emits 'frame' only for errors: broadcasts go through fanout.
    actor.on('*', (effect) => {
      if (effect.type === 'limited') this.options.limited?.(id, effect.limit);
      if (effect.type !== 'frame' || effect.frame.type !== 'error') return;
      const { code } = effect.frame;
      this.metrics.clientError(code);
      if (isRefusal(code, actor)) this.metrics.registrationRefused(code as RefusalReason);
      // Emitted events run after the snapshot is updated: the name is there once registered.
      this.live?.record({ kind: 'error', conn: id, name: actor.getSnapshot().context.name, code });
    });
    socket.on('close', (code: number) => {
      this.openIds.delete(id);
      this.registeredIds.delete(id);
      this.metrics.connectionClosed(code);
      this.live?.record({ kind: 'closed', conn: id, code });
    });
  }

  /** Connections per state path (`open`, `open.awaitingName.claiming`, `open.registered`…). */
  countStates(): StateCounts {
    return countActors(this.hub.getSnapshot().context.connections.values(), connectionMachine);
  }

  /** Sessions per state (`attached`, `detached`, and `ended` for the moment before the hub stops one). */
  countSessionStates(): StateCounts {
    return countActors(this.hub.getSnapshot().context.sessions.values(), sessionMachine);
  }

  close(): void {
    this.live?.close();
  }
}

/** Running actors of `machine`, per state path. */
function countActors(actors: Iterable<AnyActor>, machine: AnyStateMachine): StateCounts {
  const counts = emptyCounts(machine);
  for (const actor of actors) {
    const snapshot = actor.getSnapshot() as { status: string; value: StateValue };
    if (snapshot.status !== 'active') continue;
    for (const path of statePaths(snapshot.value)) counts[path] = (counts[path] ?? 0) + 1;
  }
  return counts;
}

/** Refused names: always for these two codes; `server_unavailable` only before registering. */
function isRefusal(code: ErrorCode, actor: ConnectionActor): boolean {
  if (code === 'invalid_name' || code === 'name_taken') return true;
  // Emitted events run after the snapshot is updated: a name in context means registered.
  return code === 'server_unavailable' && actor.getSnapshot().context.name === null;
}

/** Every state path a machine can be in, each at 0; final states are left out (nobody stays there). */
function emptyCounts(machine: AnyStateMachine): StateCounts {
  const counts: StateCounts = {};
  const visit = (node: AnyStateMachine['root'], prefix: string) => {
    for (const [key, child] of Object.entries(node.states)) {
      if (child.type === 'final') continue;
      const path = prefix === '' ? key : `${prefix}.${key}`;
      counts[path] = 0;
      visit(child, path);
    }
  };
  visit(machine.root, '');
  return counts;
}

/** `{ awaitingName: 'claiming' }` -> `['awaitingName', 'awaitingName.claiming']`. */
export function statePaths(value: StateValue, prefix = ''): string[] {
  const join = (key: string) => (prefix === '' ? key : `${prefix}.${key}`);
  if (typeof value === 'string') return [join(value)];
  return Object.entries(value).flatMap(([key, inner]) =>
    inner === undefined ? [join(key)] : [join(key), ...statePaths(inner, join(key))],
  );
}
