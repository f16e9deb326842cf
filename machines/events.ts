/**
 * Events and emitted events the connection and hub machines exchange (the wire's own types
 * are in src/frames.ts).
 * Plain data only: nothing here touches a socket, a timer or the process.
 */
import type { ErrorCode, LeaveCause, SessionEndCause } from '../src/errors.js';
import type { ChatEvent, ClientBadFrameEvent, ClientFrameEvent, ServerFrame } from '../src/frames.js';
import type { ConnectionLimits } from '../src/limits.js';
import type { TokenBucket } from '../src/rate-limit.js';
import type { ActorRef, Snapshot } from 'xstate';

// ---------------------------------------------------------------- connection events

export type ConnectionEvent =
  | ClientFrameEvent
  | ClientBadFrameEvent
  | { type: 'client.pong' }
  /** The socket is gone: the peer closed it (with `code`), or it broke (1006). */
  | { type: 'client.closed'; code: number }
  /** The client broke a rule ws enforces (a limit: 1009, 1008; RFC 6455: 1002); ws is closing the socket. */
  | { type: 'client.brokeRule' }
  /** The server ends this client: it fell too far behind, or the server is stopping. */
  | { type: 'server.kick'; cause: Extract<LeaveCause, 'slow' | 'shutdown'> }
  /** The name is granted; the welcome itself comes in order with the broadcasts. */
  | { type: 'hub.accepted'; name: string }
  | {
      type: 'hub.refused';
      code: Extract<ErrorCode, 'name_taken' | 'server_unavailable' | 'too_many_names' | 'too_many_registrations'>;
    }
  /** The session asked for is unknown, ended or expired: choose a name instead. */
  | { type: 'hub.resumeRefused'; code: Extract<ErrorCode, 'session_expired' | 'server_unavailable'> }
  /** A newer connection resumed this connection's session: close with 4002. */
  | { type: 'hub.takenOver' }
  /** The hub could not act on a chat message (cluster mode: the shared store is down). */
  | { type: 'hub.failed'; code: Extract<ErrorCode, 'server_unavailable'> }
  /** Cluster mode: the name was given up during an outage; the cluster has been told this client left. */
  | { type: 'hub.revoked'; code: Extract<ErrorCode, 'name_lost'> };

/** What a connection actor asks of the outside; src/transport.ts carries it to the socket. */
export type ConnectionEmitted =
  | { type: 'frame'; frame: ServerFrame }
  | { type: 'close'; code: number; reason: string }
  /** Drop the socket without a closing handshake: the peer is not listening. */
  | { type: 'terminate' }
  | { type: 'ping' }
  /** A message was dropped because its client address went over its rate (all its connections together). */
  | { type: 'limited'; limit: 'messages' };

// ---------------------------------------------------------------- hub events

export type HubEvent =
  /**
   * `address`: what per-address limits count the client by (src/client-address.ts's key);
   * `addressBucket`: the message bucket its address's connections share, spent in place.
   * Both are left out where no per-address limit applies (machine tests).
   */
  | { type: 'conn.open'; id: string; limits: ConnectionLimits; address?: string; addressBucket?: TokenBucket }
  /** `history`: how many past messages to send after the welcome (0: none). */
  | { type: 'conn.claim'; id: string; name: string; history: number }
  /** A first frame that names a session. `secret` never reaches a log or the inspector. */
  | { type: 'conn.resume'; id: string; secret: string; epoch?: string; since?: string }
  | { type: 'conn.say'; id: string; text: string; at: number; cid?: string }
  | { type: 'conn.gone'; id: string; cause: LeaveCause }
  /** A session ended (its window ran out, or the hub ended it): its leave is due. */
  | { type: 'session.ended'; session: string; cause: SessionEndCause }
  | { type: 'registry.granted'; id: string; name: string; session: string }
  /**
   * The session whose secret hashes to what a resume showed now belongs to connection `id`.
   * `previous`: the connection that held it before, if one did on this server (the hub closes
   * it with 4002 if it is still open). A cluster registry answers only once this server has
   * delivered every event up to the position the client asked for, when the log has it.
   */
  | { type: 'registry.resumed'; id: string; session: string; name: string; previous: string | null }
  /** No live session has that secret (`session_expired`), or cluster mode cannot look now (`server_unavailable`). */
  | { type: 'registry.unknown'; id: string; code: Extract<ErrorCode, 'session_expired' | 'server_unavailable'> }
  /** Cluster mode: a connection on another server resumed `session`; it is no longer this server's. */
  | { type: 'registry.moved'; session: string }
  | { type: 'registry.refused'; id: string; code: Extract<ErrorCode, 'name_taken' | 'server_unavailable'> }
  /** A granted name is no longer this connection's (cluster mode, after an outage). */
  | { type: 'registry.revoked'; id: string; code: Extract<ErrorCode, 'name_lost'> }
  /** `ts`: when the bus put it in order (a message keeps its own: when the server received it). */
  | { type: 'bus.delivered'; event: ChatEvent; seq: number; ts: number }
  | { type: 'bus.failed'; event: ChatEvent; code: Extract<ErrorCode, 'server_unavailable'> }
  /**
   * Cluster mode: the view of the log starts again at `seq` in `epoch` (at start, after a
   * hole, after Redis lost its data). History holds `past` and what follows, nothing older.
   */
  | { type: 'bus.reset'; seq: number; epoch: string; past: Array<{ event: ChatEvent; seq: number; ts: number }> }
  /** Cluster mode: a message whose `cid` its session had sent before, from any node; it landed at `seq`, `ts`. */
  | { type: 'bus.duplicate'; event: ChatEvent; seq: number; ts: number }
  | { type: 'server.shutdown' }
  /** A connection or session actor threw (machines/owned-actors.ts). */
  | { type: 'actor.crashed'; kind: 'connection' | 'session'; id: string; error: unknown };

/** Where connection and session actors send what they tell the hub. */
export type HubRef = ActorRef<Snapshot<unknown>, HubEvent>;

/** Requests the hub makes of its registry actor (in memory, or Redis in cluster mode). */
export type RegistryRequest =
  /** `session` will hold the name; `hash` is its secret's, by which a resume finds it. */
  | { type: 'registry.claim'; id: string; name: string; session: string; hash: string }
  /** `since`: the position the client asks to be replayed from, if it gave one in this epoch. */
  | { type: 'registry.resume'; id: string; hash: string; since: number | null }
  /** The session's connection `id` was lost; the session waits `windowMs` for a resume. */
  | { type: 'registry.detach'; id: string; name: string; session: string; windowMs: number }
  /** The session ended: its name is free (a joined name's leave is published apart). */
  | { type: 'registry.release'; id: string; name: string; session: string };

/** Requests the hub makes of its bus actor, which puts chat events in one total order. */
export type BusRequest = { type: 'bus.publish'; event: ChatEvent };

/** What the hub tells the outside: who receives broadcasts, and what to broadcast. */
export type HubEmitted =
  /** From now on `id` receives broadcasts; emitted just before the broadcast of its join. */
  | { type: 'member.joined'; id: string; name: string }
  | { type: 'member.left'; id: string; name: string; cause: LeaveCause }
  /**
   * `frame` for every member but `author`, the connection the event is about; the author
   * gets `authorFrame` instead (its welcome, or the echo of its message), or nothing if null.
   * Serialized once by src/fanout.ts, however many members there are.
   */
  | { type: 'broadcast'; frame: ServerFrame; author: string; authorFrame: ServerFrame | null }
  /** Frames for one member alone, in order with the broadcasts: a replay, a resent message's copy. */
  /**
   * `history`: what a registration asked for, the server's choice of size, not held against
   * the member's buffer limit; `copy`: a resent message's copy, whose size the client chose.
   */
  | { type: 'send'; id: string; frames: ServerFrame[]; kind: 'history' | 'copy' }
  /**
   * `id` resumed a session: it gets `frames` (its welcome, then the replay), and from then
   * on receives broadcasts. `tookOver` is the connection it replaced, if one was open.
   */
  | {
      type: 'member.resumed';
      id: string;
      name: string;
      frames: ServerFrame[];
      recovered: boolean;
      replayed: number;
      tookOver: string | null;
    }
  /** A resume named a session that is unknown, ended or expired. */
  | { type: 'resume.refused'; id: string }
  /** A session's connection was lost; the session waits RESUME_WINDOW_MS for a resume. */
  | { type: 'session.detached'; id: string; name: string; session: string }
  /** A session ended and its leave was announced (or, while stopping, it simply ended). */
  | { type: 'session.ended'; session: string; name: string; cause: SessionEndCause }
  | { type: 'connection.crashed'; id: string; error: unknown }
  /** Connection `id`'s client address is over a limit the hub keeps: its claim was refused. */
  | { type: 'address.limited'; id: string; limit: 'names' | 'registrations' };
