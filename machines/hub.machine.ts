/**
 * The root actor. It spawns one connection actor per accepted socket, asks the registry
 * for names, and hands joins, messages and leaves to the bus, which puts them in one total
 * order; whatever the bus delivers, the hub emits as a `broadcast` for src/fanout.ts.
 *
 *   connection ──conn.claim──▶ hub ──registry.claim──▶ registry ──granted/refused──▶ hub
 *   connection ──conn.say────▶ hub ──bus.publish─────▶ bus ──────bus.delivered─────▶ hub ──▶ broadcast
 *
 * Registry and bus are injected actors: in memory by default, swapped with `.provide()`.
 * The hub emits one event per broadcast, never one per recipient: the copying is fanout's.
 */
import { assertEvent, enqueueActions, sendTo, setup, spawnChild } from 'xstate';
import { connectionMachine } from './connection.machine.js';
import type { BusRequest, HubEmitted, HubEvent, RegistryRequest } from './events.js';
import type { ChatEvent } from '../src/frames.js';
import type { EchoMode } from '../src/limits.js';
import { chatFrame, echoFrame, welcomeFrame } from '../src/protocol.js';
import { memoryRegistry } from './registry.js';
import { memoryBus } from './bus.js';
import type { LeaveCause } from '../src/errors.js';

export interface HubInput {
  echo: EchoMode;
}

export interface HubContext {
  echo: EchoMode;
  /**
   * Registered connections on this server: connection id -> name. The one record the hub
   * changes in place (see `addMember`): a copy per join would make N joins cost O(N²).
   */
  members: Record<string, string>;
  /** Every online name, in the order the bus delivered their joins. */
  roster: string[];
}

/** What reaches the hub when a connection actor throws: a bug, never a client's mistake. */
type ChildErrorEvent = { type: `xstate.error.actor.${string}`; error: unknown };

const CHILD_ERROR_PREFIX = 'xstate.error.actor.';

function publish(event: ChatEvent): BusRequest {
  return { type: 'bus.publish', event };
}

/**
 * Members are added and removed in place. Copying the record on every join and leave, as
 * immutable updates do, costs O(N) each: 4.5 million entry copies to seat 3,000 clients.
 * It stays plain JSON, so snapshots still log and inspect as before; only past snapshots
 * share it, and nothing reads members from a past snapshot.
 */
function addMember(members: Record<string, string>, id: string, name: string): Record<string, string> {
  members[id] = name;
  return members;
}

function removeMember(members: Record<string, string>, id: string): Record<string, string> {
  delete members[id];
  return members;
}

/** A record without a prototype: any id is a plain key, and it never takes a per-key shape. */
function emptyRecord(): Record<string, string> {
  return Object.create(null) as Record<string, string>;
}

function isActive<Child extends { getSnapshot(): { status: string } }>(child: Child | undefined): child is Child {
  return child !== undefined && child.getSnapshot().status === 'active';
}

function isChildError(event: HubEvent | ChildErrorEvent): event is ChildErrorEvent {
  return event.type.startsWith(CHILD_ERROR_PREFIX);
}

export const hubMachine = setup({
  types: {
    input: {} as HubInput,
    context: {} as HubContext,
    events: {} as HubEvent | ChildErrorEvent,
    emitted: {} as HubEmitted,
  },
  actors: {
    connection: connectionMachine,
    registry: memoryRegistry,
    bus: memoryBus,
  },
  guards: {
    isMember: ({ context, event }) => {
      assertEvent(event, 'conn.say');
      return Object.hasOwn(context.members, event.id);
    },
  },
  actions: {
    spawnConnection: spawnChild('connection', {
      id: ({ event }) => {
        assertEvent(event, 'conn.open');
        return event.id;
      },
      input: ({ event }) => {
        assertEvent(event, 'conn.open');
        return { id: event.id, limits: event.limits };
      },
    }),
    askRegistry: sendTo('registry', ({ event }): RegistryRequest => {
      assertEvent(event, 'conn.claim');
      return { type: 'registry.claim', id: event.id, name: event.name };
    }),

    /**
     * A granted name: the connection may chat from now on. It starts receiving broadcasts
     * only when its join comes back from the bus, so it hears exactly what follows its join.
     */
    admit: enqueueActions(({ context, event, self, enqueue }) => {
      assertEvent(event, 'registry.granted');
      const { id, name } = event;
      const child = self.getSnapshot().children[id];
      if (!isActive(child)) {
        enqueue.sendTo('registry', { type: 'registry.release', id, name } satisfies RegistryRequest);
        return;
      }
      enqueue.assign({ members: addMember(context.members, id, name) });
      enqueue.sendTo(child, { type: 'hub.accepted', name });
      enqueue.sendTo('bus', publish({ type: 'join', name, from: id }));
    }),
    refuse: enqueueActions(({ event, self, enqueue }) => {
      assertEvent(event, 'registry.refused');
      const child = self.getSnapshot().children[event.id];
      if (isActive(child)) enqueue.sendTo(child, { type: 'hub.refused', code: event.code });
    }),
    /** Cluster mode: the name was given up during an outage; its owner is told and closed. */
    revoke: enqueueActions(({ event, self, enqueue }) => {
      assertEvent(event, 'registry.revoked');
      const child = self.getSnapshot().children[event.id];
      if (isActive(child)) enqueue.sendTo(child, { type: 'hub.revoked', code: event.code });
    }),
    /** A name granted while the server is stopping is handed straight back. */
    releaseGranted: sendTo('registry', ({ event }): RegistryRequest => {
      assertEvent(event, 'registry.granted');
      return { type: 'registry.release', id: event.id, name: event.name };
    }),

    publishMessage: sendTo('bus', ({ context, event }) => {
      assertEvent(event, 'conn.say');
      return publish({
        type: 'message',
        name: context.members[event.id] ?? '',
        from: event.id,
        text: event.text,
        ts: event.at,
      });
    }),
    /** The bus could not take an event: the member who caused it hears why. */
    tellFailed: enqueueActions(({ event, self, enqueue }) => {
      assertEvent(event, 'bus.failed');
      if (event.event.type !== 'message') return;
      const child = self.getSnapshot().children[event.event.from];
      if (isActive(child)) enqueue.sendTo(child, { type: 'hub.failed', code: event.code });
    }),
    /**
     * One event in the bus's order. The roster follows joins and leaves in that same order,
     * so a welcome lists exactly who is online at the moment of the join.
     */
    deliver: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'bus.delivered');
      const { event: chat, seq } = event;
      const frame = chatFrame(chat, seq);
      switch (chat.type) {
        case 'join': {
          const roster = [...context.roster, chat.name];
          enqueue.assign({ roster });
          // A local member that left before its join came back is not added.
          const isLocal = context.members[chat.from] === chat.name;
          if (isLocal) enqueue.emit({ type: 'member.joined', id: chat.from, name: chat.name });
          const authorFrame = isLocal ? welcomeFrame(chat.name, roster) : null;
          enqueue.emit({ type: 'broadcast', frame, author: chat.from, authorFrame });
          return;
        }
        case 'leave':
          enqueue.assign({ roster: context.roster.filter((name) => name !== chat.name) });
          enqueue.emit({ type: 'broadcast', frame, author: chat.from, authorFrame: null });
          return;
        case 'message':
          enqueue.emit({ type: 'broadcast', frame, author: chat.from, authorFrame: echoFrame(frame, context.echo) });
          return;
      }
    }),

    /** A connection ended: stop its actor, free its name and, if `announce`, tell everyone. */
    forget: enqueueActions(({ context, event, enqueue }, params: { announce: boolean }) => {
      assertEvent(event, 'conn.gone');
      const { id, cause } = event;
      enqueue.stopChild(id);
      const name = context.members[id];
      if (name === undefined) return;
      enqueue.assign({ members: removeMember(context.members, id) });
      enqueue.emit({ type: 'member.left', id, name, cause });
      enqueue.sendTo('registry', { type: 'registry.release', id, name } satisfies RegistryRequest);
      if (params.announce) enqueue.sendTo('bus', publish({ type: 'leave', name, from: id }));
    }),
    /** A connection actor threw. Report it, then treat it as gone: one broken client, not all. */
    dropCrashed: enqueueActions(({ event, enqueue }) => {
      if (!isChildError(event)) return;
      const id = event.type.slice(CHILD_ERROR_PREFIX.length);
      enqueue.emit({ type: 'connection.crashed', id, error: event.error });
      enqueue.raise({ type: 'conn.gone', id, cause: 'error' satisfies LeaveCause });
    }),
  },
}).createMachine({
  id: 'hub',
  context: ({ input }) => ({ echo: input.echo, members: emptyRecord(), roster: [] }),
  invoke: [
    { id: 'registry', src: 'registry' },
    { id: 'bus', src: 'bus' },
  ],
  initial: 'running',
  on: {
    'xstate.error.actor.*': { actions: 'dropCrashed' },
  },
  states: {
    running: {
      on: {
        'conn.open': { actions: 'spawnConnection' },
        'conn.claim': { actions: 'askRegistry' },
        'registry.granted': { actions: 'admit' },
        'registry.refused': { actions: 'refuse' },
        'registry.revoked': { actions: 'revoke' },
        'conn.say': { guard: 'isMember', actions: 'publishMessage' },
        'bus.delivered': { actions: 'deliver' },
        'bus.failed': { actions: 'tellFailed' },
        'conn.gone': { actions: { type: 'forget', params: { announce: true } } },
        'server.shutdown': { target: 'stopping' },
      },
    },
    // Every client is being closed with 1001; announcing each leave to the others would
    // be a storm of N² frames nobody reads.
    stopping: {
      on: {
        'registry.granted': { actions: 'releaseGranted' },
        'conn.gone': { actions: { type: 'forget', params: { announce: false } } },
      },
    },
  },
});
