/**
 * The root actor. It spawns one connection actor per accepted socket and one session actor
 * per granted name, asks the registry for names, and hands joins, messages and leaves to
 * the bus, which puts them in one total order; whatever the bus delivers, the hub emits as
 * a `broadcast` for src/fanout.ts and keeps in its history for resumes.
 *
 *   connection ──conn.claim──▶ hub ──registry.claim──▶ registry ──granted/refused──▶ hub
 *   connection ──conn.resume─▶ hub (finds the session, takes it over, replays history)
 *   connection ──conn.say────▶ hub ──bus.publish─────▶ bus ──────bus.delivered─────▶ hub ──▶ broadcast
 *   session ───session.ended─▶ hub ──bus.publish(leave)
 *
 * Registry and bus are injected actors: in memory by default, swapped with `.provide()`.
 * The hub emits one event per broadcast, never one per recipient: the copying is fanout's.
 */
import { assertEvent, enqueueActions, setup } from 'xstate';
import { connectionMachine } from './connection.machine.js';
import type { BusRequest, HubEmitted, HubEvent, HubRef, RegistryRequest } from './events.js';
import type { ActorRefFrom } from 'xstate';
import type { ChatEvent, ChatFrame } from '../src/frames.js';
import type { EchoMode } from '../src/limits.js';
import { chatFrame, echoFrame, parsePosition, replayed, welcomeFrame } from '../src/protocol.js';
import { keepsSession, type LeaveCause, type SessionEndCause } from '../src/errors.js';
import { memoryRegistry } from './registry.js';
import { memoryBus } from './bus.js';
import { History, type HistoryEntry } from './history.js';
import { sessionMachine, type SessionContext } from './session.machine.js';
import { Secret } from './secret.js';
import { OwnedActors, type OwnedActorOptions } from './owned-actors.js';
import { AddressNames, noAddressNameLimits, type AddressNameSettings } from '../src/address-names.js';

/** Where sessions' secrets and ids come from: randomness and hashing are the adapters' (src/session-keys.ts). */
export interface SessionKeys {
  /** A new session id: unique across a cluster, and no secret. */
  newId(): string;
  /** A new secret (at least 128 random bits) and the hash of it, the only form the server keeps. */
  newSecret(): { secret: string; hash: string };
  hash(secret: string): string;
}

export interface SessionSettings {
  /** How long a session whose connection was lost stays resumable (0: its leave is announced at once). */
  resumeWindowMs: number;
  /** Sessions waiting for a resume at most; past it the oldest ends. */
  maxWaiting: number;
  historySize: number;
  historyBytes: number;
}

export interface HubInput {
  echo: EchoMode;
  /** The lineage of ids this hub hands out (PROTOCOL.md, Sessions). */
  epoch: string;
  sessions: SessionSettings;
  keys: SessionKeys;
  /** The clock the in-memory bus stamps joins and leaves with. */
  now?: () => number;
  /** The clock and inspection the hub's actor was created with, for its connection and session actors. */
  actors?: OwnedActorOptions;
  /** Names and registrations per client address (SPEC §5); none given: no such limits. */
  perAddress?: AddressNameSettings;
}

export interface HubContext {
  echo: EchoMode;
  epoch: string;
  settings: SessionSettings;
  keys: SessionKeys;
  now: () => number;
  /**
   * Registered connections on this server: connection id -> name. Changed in place (see
   * `addMember`): a copy per join would make N joins cost O(N²).
   */
  members: Record<string, string>;
  /** Every online name, in the order the bus delivered their joins. */
  roster: string[];
  /** Connection id -> the session it is attached to. In place, like `members`. */
  sessionOf: Record<string, string>;
  /** Connection id -> the secret its welcome will carry, from its claim or resume until then. In place. */
  secrets: Record<string, Secret>;
  /** Connection id -> what its resume asked for, and its client address, until the registry answers. In place. */
  resuming: Record<string, { epoch?: string; since?: string; address: string }>;
  /** Connection id -> the client address of its claim, until the registry answers. In place. */
  claiming: Record<string, string>;
  /**
   * Names held per client address: each claim from its asking until its session ends
   * (waiting in its window included); and registrations per minute. Mutable, like `history`.
   */
  names: AddressNames;
  /** Sessions waiting for a resume, oldest first. In place. */
  waiting: Set<string>;
  /** Connection id -> the messages of history it asked for, until its welcome is sent. In place. */
  historyWanted: Record<string, number>;
  /** What was delivered lately; a mutable object that inspects as its size (see History.toJSON). */
  history: History;
  /** One actor per open connection, by connection id (see machines/owned-actors.ts for why not `spawnChild`). */
  connections: OwnedActors<typeof connectionMachine>;
  /** One actor per session, by session id: attached, waiting for a resume, or ended and about to stop. */
  sessions: OwnedActors<typeof sessionMachine>;
}

/** What reaches the hub when a child actor throws: a bug, never a client's mistake. */
type ChildErrorEvent = { type: `xstate.error.actor.${string}`; error: unknown };

const CHILD_ERROR_PREFIX = 'xstate.error.actor.';

type SessionActor = ActorRefFrom<typeof sessionMachine>;

function publish(event: ChatEvent): BusRequest {
  return { type: 'bus.publish', event };
}

/**
 * Records the hub changes in place. Copying one on every join and leave, as immutable
 * updates do, costs O(N) each: 4.5 million entry copies to seat 3,000 clients. They stay
 * plain JSON, so snapshots still log and inspect as before; only past snapshots share them,
 * and nothing reads them from a past snapshot.
 */
function put<V>(record: Record<string, V>, key: string, value: V): Record<string, V> {
  record[key] = value;
  return record;
}

function drop<V>(record: Record<string, V>, key: string): Record<string, V> {
  delete record[key];
  return record;
}

/** A record without a prototype: any id is a plain key, and it never takes a per-key shape. */
function emptyRecord<V>(): Record<string, V> {
  return Object.create(null) as Record<string, V>;
}

function isChildError(event: HubEvent | ChildErrorEvent): event is ChildErrorEvent {
  return event.type.startsWith(CHILD_ERROR_PREFIX);
}

/** The session actor `session`, if it is running and has not ended. */
function liveSession(context: HubContext, session: string | undefined): SessionActor | undefined {
  if (session === undefined) return undefined;
  const actor = context.sessions.get(session);
  if (actor === undefined || actor.getSnapshot().matches('ended')) return undefined;
  return actor;
}

function sessionContext(actor: SessionActor): SessionContext {
  return actor.getSnapshot().context;
}

/**
 * A granted or resumed name's session actor, attached to connection `conn`, holding its
 * name for client `address` (which the caller has counted).
 */
function startSession(
  context: HubContext,
  hub: HubRef,
  { session, name, conn, address }: { session: string; name: string; conn: string; address: string },
): void {
  const { resumeWindowMs } = context.settings;
  context.sessions.start(session, { id: session, name, claimedBy: conn, resumeWindowMs, hub, address });
}

/** The client address connection `id` was opened with ('' once it is gone, or where none was given). */
function addressOf(context: HubContext, id: string): string {
  return context.connections.get(id)?.getSnapshot().context.address ?? '';
}

/** A session stops: the name it held no longer counts against its address. */
function stopSession(context: HubContext, session: string): void {
  const actor = context.sessions.find(session);
  if (actor === undefined) return;
  context.names.release(sessionContext(actor).address, context.now());
  context.sessions.stop(session);
}

/**
 * One history entry as `session` would have received it live, marked as a replay: its
 * own messages in the echo form (none when echo is off), everything else as everyone got it.
 */
function replayFor(entry: HistoryEntry, session: string, echo: EchoMode): ChatFrame | null {
  if (entry.session !== session || entry.frame.type === 'leave') return replayed(entry.frame);
  // Its own join it got as its welcome, which a replay does not repeat.
  if (entry.frame.type === 'join') return null;
  const own = echoFrame(entry.frame, echo, entry.cid);
  return own === null ? null : replayed(own);
}

function replayAll(entries: HistoryEntry[], session: string, echo: EchoMode): ChatFrame[] {
  const frames: ChatFrame[] = [];
  for (const entry of entries) {
    const frame = replayFor(entry, session, echo);
    if (frame !== null) frames.push(frame);
  }
  return frames;
}

export const hubMachine = setup({
  types: {
    input: {} as HubInput,
    context: {} as HubContext,
    events: {} as HubEvent | ChildErrorEvent,
    emitted: {} as HubEmitted,
  },
  actors: {
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
    // The hub's own actors start and stop right where it decides so, like the records it
    // changes in place; not in a custom action, whose callee must not run built-in actions
    // (a connection's entry does).
    startConnection: enqueueActions(({ context, event, self }) => {
      assertEvent(event, 'conn.open');
      const { id, limits, address, addressBucket } = event;
      context.connections.start(id, { id, limits, hub: self, address, addressBucket });
    }),
    /** A claim names its session up front: the registry keeps the name and the secret's hash together. */
    askRegistry: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'conn.claim');
      const { id, name, history } = event;
      const address = addressOf(context, id);
      // Counted from here: a claim on its way to the registry holds its place (SPEC §5).
      const limit = context.names.claim(address, context.now());
      if (limit !== null) {
        const child = context.connections.get(id);
        const code = limit === 'names' ? 'too_many_names' : 'too_many_registrations';
        if (child !== undefined) enqueue.sendTo(child, { type: 'hub.refused', code });
        enqueue.emit({ type: 'address.limited', id, limit });
        return;
      }
      enqueue.assign({ claiming: put(context.claiming, id, address) });
      if (history > 0) enqueue.assign({ historyWanted: put(context.historyWanted, id, history) });
      const { secret, hash } = context.keys.newSecret();
      enqueue.assign({ secrets: put(context.secrets, id, new Secret(secret)) });
      const session = context.keys.newId();
      enqueue.sendTo('registry', { type: 'registry.claim', id, name, session, hash } satisfies RegistryRequest);
    }),

    /**
     * A granted name starts a session, and the connection may chat from now on. It starts
     * receiving broadcasts only when its join comes back from the bus, so it hears exactly
     * what follows its join.
     */
    admit: enqueueActions(({ context, event, self, enqueue }) => {
      assertEvent(event, 'registry.granted');
      const { id, name, session } = event;
      const address = context.claiming[id] ?? '';
      enqueue.assign({ claiming: drop(context.claiming, id) });
      const child = context.connections.get(id);
      if (child === undefined) {
        context.names.release(address, context.now());
        enqueue.sendTo('registry', { type: 'registry.release', id, name, session } satisfies RegistryRequest);
        return;
      }
      startSession(context, self, { session, name, conn: id, address });
      enqueue.assign({
        members: put(context.members, id, name),
        sessionOf: put(context.sessionOf, id, session),
      });
      enqueue.sendTo(child, { type: 'hub.accepted', name });
      enqueue.sendTo('bus', publish({ type: 'join', name, from: id, session }));
    }),
    refuse: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'registry.refused');
      const unmade = event.code === 'server_unavailable';
      context.names.release(context.claiming[event.id] ?? '', context.now(), unmade);
      enqueue.assign({
        claiming: drop(context.claiming, event.id),
        historyWanted: drop(context.historyWanted, event.id),
        secrets: drop(context.secrets, event.id),
      });
      const child = context.connections.get(event.id);
      if (child !== undefined) enqueue.sendTo(child, { type: 'hub.refused', code: event.code });
    }),
    /** Cluster mode: the name was given up during an outage; its owner is told and closed. */
    revoke: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'registry.revoked');
      const child = context.connections.get(event.id);
      if (child !== undefined) enqueue.sendTo(child, { type: 'hub.revoked', code: event.code });
    }),
    /** A name granted while the server is stopping is handed straight back. */
    releaseGranted: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'registry.granted');
      const { id, name, session } = event;
      context.names.release(context.claiming[id] ?? '', context.now());
      enqueue.assign({ claiming: drop(context.claiming, id) });
      enqueue.sendTo('registry', { type: 'registry.release', id, name, session } satisfies RegistryRequest);
    }),

    /** A first frame that names a session: the registry finds it by its secret's hash. */
    askResume: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'conn.resume');
      const { id, secret, epoch, since } = event;
      enqueue.assign({
        secrets: put(context.secrets, id, new Secret(secret)),
        resuming: put(context.resuming, id, { epoch, since, address: addressOf(context, id) }),
      });
      const position = epoch === context.epoch ? parsePosition(since) : null;
      const hash = context.keys.hash(secret);
      enqueue.sendTo('registry', { type: 'registry.resume', id, hash, since: position } satisfies RegistryRequest);
    }),
    refuseResume: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'registry.unknown');
      const { id } = event;
      enqueue.assign({ secrets: drop(context.secrets, id), resuming: drop(context.resuming, id) });
      const conn = context.connections.get(id);
      if (conn !== undefined) enqueue.sendTo(conn, { type: 'hub.resumeRefused', code: event.code });
      if (event.code === 'session_expired') enqueue.emit({ type: 'resume.refused', id });
    }),

    /**
     * The registry moved a live session (attached elsewhere, or waiting in its window) to
     * this connection: an open connection of it here is closed with 4002 and announced to
     * nobody, and this one gets a welcome and, when history still reaches back to `since`
     * in this epoch, every event after it. Both are emitted in one go, before anything else
     * can be delivered: replay and live frames meet at an exact position.
     */
    completeResume: enqueueActions(({ context, event, self, enqueue }) => {
      assertEvent(event, 'registry.resumed');
      const { id, session, name, previous } = event;
      const secret = context.secrets[id];
      const asked = context.resuming[id] ?? { address: '' };
      enqueue.assign({ secrets: drop(context.secrets, id), resuming: drop(context.resuming, id) });
      const actor = liveSession(context, session);
      context.waiting.delete(session);
      const takesOver = previous !== null && previous !== id && Object.hasOwn(context.members, previous);
      if (takesOver) {
        enqueue.assign({ members: drop(context.members, previous), sessionOf: drop(context.sessionOf, previous) });
        enqueue.emit({ type: 'member.left', id: previous, name, cause: 'takenOver' satisfies LeaveCause });
        const old = context.connections.get(previous);
        if (old !== undefined) enqueue.sendTo(old, { type: 'hub.takenOver' });
      }
      // Resumed from another server (or its actor was gone): it starts here. Its name now
      // counts for the address that resumed it; a resume is never refused for that.
      const { address } = asked;
      if (actor === undefined) {
        context.names.hold(address, context.now());
        startSession(context, self, { session, name, conn: id, address });
      } else {
        const before = sessionContext(actor).address;
        if (before !== address) {
          context.names.release(before, context.now());
          context.names.hold(address, context.now());
        }
        enqueue.sendTo(actor, { type: 'session.attach', conn: id, address });
      }

      const conn = context.connections.get(id);
      if (conn === undefined || secret === undefined) {
        // Gone while the registry looked: the session is this server's now, and waits as if just lost.
        enqueue.raise({ type: 'conn.gone', id, cause: 'dropped' });
        enqueue.assign({ members: put(context.members, id, name), sessionOf: put(context.sessionOf, id, session) });
        return;
      }
      enqueue.assign({ members: put(context.members, id, name), sessionOf: put(context.sessionOf, id, session) });
      enqueue.sendTo(conn, { type: 'hub.accepted', name });

      const since = asked.epoch === context.epoch ? parsePosition(asked.since) : null;
      const missed = since === null ? null : context.history.after(since);
      const welcome = welcomeFrame(name, context.roster, {
        session: secret.value,
        epoch: context.epoch,
        resumed: true,
        recovered: missed !== null,
      });
      const replay = missed === null ? [] : replayAll(missed, session, context.echo);
      enqueue.emit({
        type: 'member.resumed',
        id,
        name,
        frames: [welcome, ...replay],
        recovered: missed !== null,
        replayed: replay.length,
        tookOver: takesOver ? previous : null,
      });
    }),

    /**
     * Cluster mode: a connection on another server resumed a session of this one. Its open
     * connection here, if any, is closed with 4002; nobody hears of it, and the name stays
     * the session's.
     */
    letGo: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'registry.moved');
      const { session } = event;
      const actor = context.sessions.get(session);
      if (actor === undefined) return;
      const { conn, name } = sessionContext(actor);
      if (conn !== null && context.sessionOf[conn] === session) {
        enqueue.assign({ members: drop(context.members, conn), sessionOf: drop(context.sessionOf, conn) });
        enqueue.emit({ type: 'member.left', id: conn, name, cause: 'takenOver' satisfies LeaveCause });
        const old = context.connections.get(conn);
        if (old !== undefined) enqueue.sendTo(old, { type: 'hub.takenOver' });
      }
      context.waiting.delete(session);
      stopSession(context, session);
    }),

    /**
     * A message from a member. A `cid` its session sent before is not published again:
     * the sender gets its copy again (when it gets copies at all), or, while the first is
     * still on its way, will get it when it arrives.
     */
    publishMessage: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'conn.say');
      const { id, text, at, cid } = event;
      const session = context.sessionOf[id] ?? '';
      const name = context.members[id] ?? '';
      const actor = liveSession(context, session);
      if (cid !== undefined && actor !== undefined) {
        const sent = sessionContext(actor).sent;
        if (Object.hasOwn(sent, cid)) {
          const landed = sent[cid];
          if (landed === null || landed === undefined || context.echo === 'off') return;
          const copy = echoFrame(
            { type: 'message', sender: name, text, id: landed.id, ts: landed.ts },
            context.echo,
            cid,
          );
          if (copy !== null) enqueue.emit({ type: 'send', id, frames: [copy], kind: 'copy' });
          return;
        }
        enqueue.sendTo(actor, { type: 'session.sending', cid });
      }
      const message: ChatEvent = { type: 'message', name, from: id, session, text, ts: at };
      if (cid !== undefined) message.cid = cid;
      enqueue.sendTo('bus', publish(message));
    }),
    /**
     * Cluster mode: the message's `cid` had been sent by its session before (on any node),
     * so nothing was published; its author gets its copy again, as it landed then.
     */
    resendCopy: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'bus.duplicate');
      const { event: chat, seq, ts } = event;
      if (chat.type !== 'message' || chat.cid === undefined) return;
      const actor = liveSession(context, chat.session);
      const author = actor === undefined ? chat.from : (sessionContext(actor).conn ?? chat.from);
      if (actor !== undefined) enqueue.sendTo(actor, { type: 'session.sent', cid: chat.cid, id: String(seq), ts });
      const copy = echoFrame(
        { type: 'message', sender: chat.name, text: chat.text, id: String(seq), ts },
        context.echo,
        chat.cid,
      );
      if (copy !== null && Object.hasOwn(context.members, author))
        enqueue.emit({ type: 'send', id: author, frames: [copy], kind: 'copy' });
    }),
    /**
     * Cluster mode: the view of the log starts again. History holds what the log still has
     * up to `seq`, so that a client resuming on a node that just started recovers all the
     * same; the epoch is Redis's, new when Redis lost its data.
     */
    restartHistory: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'bus.reset');
      const { seq, epoch, past } = event;
      const history = context.history;
      history.restartAt(past.length > 0 ? Math.min(past[0]!.seq - 1, seq) : seq);
      for (const { event: chat, seq: at, ts } of past) {
        const cid = chat.type === 'message' ? chat.cid : undefined;
        history.add({ seq: at, frame: chatFrame(chat, at, ts), session: chat.session, cid });
      }
      history.advanceTo(seq);
      enqueue.assign({ epoch });
    }),
    /** The bus could not take an event: the member who caused it hears why. */
    tellFailed: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'bus.failed');
      const failed = event.event;
      if (failed.type !== 'message') return;
      const actor = liveSession(context, failed.session);
      // Not sent: a resend of the same cid must be published, not ignored.
      if (actor !== undefined && failed.cid !== undefined) {
        const sent = sessionContext(actor).sent;
        if (sent[failed.cid] === null) delete sent[failed.cid];
      }
      const author = actor === undefined ? failed.from : (sessionContext(actor).conn ?? failed.from);
      const child = context.connections.get(author);
      if (child !== undefined) enqueue.sendTo(child, { type: 'hub.failed', code: event.code });
    }),
    /**
     * One event in the bus's order. The roster follows joins and leaves in that same order,
     * so a welcome lists exactly who is online at the moment of the join. A message's
     * author is whatever connection its session has now: it may have resumed elsewhere
     * since it sent it.
     */
    deliver: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'bus.delivered');
      const { event: chat, seq, ts } = event;
      const frame = chatFrame(chat, seq, ts);
      const cid = chat.type === 'message' ? chat.cid : undefined;
      const entry: HistoryEntry = { seq, frame, session: chat.session, cid };
      switch (chat.type) {
        case 'join': {
          const roster = [...context.roster, chat.name];
          enqueue.assign({ roster });
          // A local member that left before its join came back is not added.
          const isLocal = context.members[chat.from] === chat.name;
          if (!isLocal) {
            context.history.add(entry);
            enqueue.emit({ type: 'broadcast', frame, author: chat.from, authorFrame: null });
            return;
          }
          const secret = context.secrets[chat.from];
          enqueue.assign({ secrets: drop(context.secrets, chat.from) });
          const wanted = context.historyWanted[chat.from] ?? 0;
          const past = wanted > 0 ? context.history.lastMessages(Math.min(wanted, context.settings.historySize)) : [];
          context.history.add(entry);
          enqueue.emit({ type: 'member.joined', id: chat.from, name: chat.name });
          const authorFrame = welcomeFrame(chat.name, roster, {
            session: secret?.value ?? '',
            epoch: context.epoch,
            id: frame.id,
            ts: frame.ts,
          });
          enqueue.emit({ type: 'broadcast', frame, author: chat.from, authorFrame });
          if (wanted > 0) {
            enqueue.assign({ historyWanted: drop(context.historyWanted, chat.from) });
            const frames = replayAll(past, chat.session, context.echo);
            if (frames.length > 0) enqueue.emit({ type: 'send', id: chat.from, frames, kind: 'history' });
          }
          return;
        }
        case 'leave':
          context.history.add(entry);
          enqueue.assign({ roster: context.roster.filter((name) => name !== chat.name) });
          enqueue.emit({ type: 'broadcast', frame, author: chat.from, authorFrame: null });
          return;
        case 'message': {
          context.history.add(entry);
          const actor = liveSession(context, chat.session);
          const author = actor === undefined ? chat.from : (sessionContext(actor).conn ?? chat.from);
          if (actor !== undefined && cid !== undefined)
            enqueue.sendTo(actor, { type: 'session.sent', cid, id: frame.id, ts: frame.ts });
          enqueue.emit({ type: 'broadcast', frame, author, authorFrame: echoFrame(frame, context.echo, cid) });
          return;
        }
      }
    }),

    /**
     * A connection ended. Its actor stops; if it was a member, it no longer receives
     * broadcasts, and its session either waits for a resume (its connection was lost) or
     * ends now (the client closed cleanly, broke a rule, or there is no window).
     */
    forget: enqueueActions(({ context, event, enqueue }, params: { keep: boolean }) => {
      assertEvent(event, 'conn.gone');
      const { id, cause } = event;
      context.connections.stop(id);
      // `resuming` stays until the registry answers, like `claiming`: a resume that lands after
      // its connection went must still charge the name to the address that asked.
      enqueue.assign({
        historyWanted: drop(context.historyWanted, id),
        secrets: drop(context.secrets, id),
      });
      const name = context.members[id];
      if (name === undefined) return;
      const session = context.sessionOf[id];
      enqueue.assign({ members: drop(context.members, id), sessionOf: drop(context.sessionOf, id) });
      enqueue.emit({ type: 'member.left', id, name, cause });
      const actor = liveSession(context, session);
      if (actor === undefined || session === undefined) return;
      const keep = params.keep && keepsSession(cause) && context.settings.resumeWindowMs > 0;
      if (!keep) {
        enqueue.sendTo(actor, { type: 'session.end', cause: cause satisfies SessionEndCause });
        return;
      }
      enqueue.sendTo(actor, { type: 'session.detach' });
      enqueue.sendTo('registry', {
        type: 'registry.detach',
        id,
        name,
        session,
        windowMs: context.settings.resumeWindowMs,
      } satisfies RegistryRequest);
      enqueue.emit({ type: 'session.detached', id, name, session });
      const { waiting } = context;
      waiting.add(session);
      // Past the bound, the session that has waited longest ends now instead of at its window's end.
      for (const oldest of waiting) {
        if (waiting.size <= context.settings.maxWaiting) break;
        waiting.delete(oldest);
        const evicted = liveSession(context, oldest);
        if (evicted !== undefined) enqueue.sendTo(evicted, { type: 'session.end', cause: 'evicted' });
      }
    }),

    /**
     * A session ended: its actor stops, its name is freed and, if `announce`, everyone
     * hears it left, once. While the server stops, nobody is told.
     */
    closeSession: enqueueActions(({ context, event, enqueue }, params: { announce: boolean }) => {
      assertEvent(event, 'session.ended');
      // Found even if it crashed: what it knew (its name, its holder) is what the leave needs.
      const actor = context.sessions.find(event.session);
      if (actor === undefined) return;
      const { name, holder } = sessionContext(actor);
      stopSession(context, event.session);
      context.waiting.delete(event.session);
      enqueue.emit({ type: 'session.ended', session: event.session, name, cause: event.cause });
      enqueue.sendTo('registry', {
        type: 'registry.release',
        id: holder,
        name,
        session: event.session,
      } satisfies RegistryRequest);
      if (params.announce)
        enqueue.sendTo('bus', publish({ type: 'leave', name, from: holder, session: event.session }));
    }),
    /** A connection or session actor threw. Report it, then treat it as gone: one broken client, not all. */
    dropCrashed: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, 'actor.crashed');
      const { kind, id, error } = event;
      enqueue.emit({ type: 'connection.crashed', id, error });
      if (kind === 'session') enqueue.raise({ type: 'session.ended', session: id, cause: 'error' });
      else enqueue.raise({ type: 'conn.gone', id, cause: 'error' satisfies LeaveCause });
    }),
    /** The registry or the bus threw: a bug in the server itself, reported; its clients stay. */
    reportCrashed: enqueueActions(({ event, enqueue }) => {
      if (!isChildError(event)) return;
      const id = event.type.slice(CHILD_ERROR_PREFIX.length);
      enqueue.emit({ type: 'connection.crashed', id, error: event.error });
    }),
  },
}).createMachine({
  id: 'hub',
  context: ({ input, self }) => ({
    echo: input.echo,
    epoch: input.epoch,
    settings: input.sessions,
    keys: input.keys,
    now: input.now ?? Date.now,
    members: emptyRecord(),
    roster: [],
    sessionOf: emptyRecord(),
    secrets: emptyRecord(),
    resuming: emptyRecord(),
    claiming: emptyRecord(),
    names: new AddressNames(input.perAddress ?? noAddressNameLimits),
    waiting: new Set(),
    historyWanted: emptyRecord(),
    history: new History({ maxEntries: input.sessions.historySize, maxBytes: input.sessions.historyBytes }),
    connections: new OwnedActors(
      connectionMachine,
      input.actors ?? {},
      self,
      (id, error): HubEvent => ({ type: 'actor.crashed', kind: 'connection', id, error }),
      'connections',
    ),
    sessions: new OwnedActors(
      sessionMachine,
      input.actors ?? {},
      self,
      (id, error): HubEvent => ({ type: 'actor.crashed', kind: 'session', id, error }),
      'sessions',
      'session:',
    ),
  }),
  invoke: [
    { id: 'registry', src: 'registry' },
    { id: 'bus', src: 'bus', input: ({ context }) => ({ now: context.now }) },
  ],
  initial: 'running',
  on: {
    'actor.crashed': { actions: 'dropCrashed' },
    'xstate.error.actor.*': { actions: 'reportCrashed' },
  },
  states: {
    running: {
      on: {
        'conn.open': { actions: 'startConnection' },
        'conn.claim': { actions: 'askRegistry' },
        'conn.resume': { actions: 'askResume' },
        'registry.resumed': { actions: 'completeResume' },
        'registry.unknown': { actions: 'refuseResume' },
        'registry.moved': { actions: 'letGo' },
        'registry.granted': { actions: 'admit' },
        'registry.refused': { actions: 'refuse' },
        'registry.revoked': { actions: 'revoke' },
        'conn.say': { guard: 'isMember', actions: 'publishMessage' },
        'bus.delivered': { actions: 'deliver' },
        'bus.failed': { actions: 'tellFailed' },
        'bus.duplicate': { actions: 'resendCopy' },
        'bus.reset': { actions: 'restartHistory' },
        'conn.gone': { actions: { type: 'forget', params: { keep: true } } },
        'session.ended': { actions: { type: 'closeSession', params: { announce: true } } },
        'server.shutdown': { target: 'stopping' },
      },
    },
    // Every client is being closed with 1001; announcing each leave to the others would
    // be a storm of N² frames nobody reads. A single process keeps no session past its stop.
    stopping: {
      on: {
        'registry.granted': { actions: 'releaseGranted' },
        'conn.gone': { actions: { type: 'forget', params: { keep: false } } },
        'session.ended': { actions: { type: 'closeSession', params: { announce: false } } },
      },
    },
  },
});
