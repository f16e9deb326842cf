/**
 * Events, emitted events and frame types shared by the connection and hub machines.
 * Plain data only: nothing here touches a socket, a timer or the process.
 */
import type { ErrorCode, LeaveCause } from '../src/errors.js';

// ---------------------------------------------------------------- server frames

export type ServerFrame =
  | { type: 'welcome'; sender: 'Server'; text: string; name: string; users: string[] }
  | { type: 'join'; sender: 'Server'; text: string; name: string }
  | { type: 'leave'; sender: 'Server'; text: string; name: string }
  | { type: 'message'; sender?: string; text: string; id: string; ts: number }
  | { type: 'error'; sender: 'Server'; code: ErrorCode; text: string };

// ---------------------------------------------------------------- settings

/** Per-connection rules, shared by reference between every connection of one server. */
export interface ConnectionLimits {
  nameMaxLength: number;
  textMaxLength: number;
  registerTimeoutMs: number;
  heartbeatMs: number;
  /** Token bucket; a burst or rate of 0 turns rate limiting off. */
  rateBurst: number;
  ratePerSec: number;
  /** Refused names (invalid or taken) before the connection is closed. */
  maxRefusals: number;
  /** Bad frames before the connection is closed. */
  maxBadFrames: number;
}

export type EchoMode = 'anonymous' | 'named' | 'off';

// ---------------------------------------------------------------- connection events

/**
 * What a client sent, already read by `readClientFrame` in src/protocol.ts. `at` is the
 * server's receive time in ms: the machine never reads a wall clock of its own.
 */
export type ClientFrameEvent = { type: 'client.frame'; sender?: string; text?: string; at: number };
export type ClientBadFrameEvent = { type: 'client.badFrame'; at: number };

export type ConnectionEvent =
  | ClientFrameEvent
  | ClientBadFrameEvent
  | { type: 'client.pong' }
  /** The socket is gone (the peer closed it, or it broke). */
  | { type: 'client.closed' }
  /** The client broke a rule ws enforces (a limit: 1009, 1008; RFC 6455: 1002); ws is closing the socket. */
  | { type: 'client.brokeRule' }
  /** The server ends this client: it fell too far behind, or the server is stopping. */
  | { type: 'server.kick'; cause: Extract<LeaveCause, 'slow' | 'shutdown'> }
  /** The name is granted; the welcome itself comes in order with the broadcasts. */
  | { type: 'hub.accepted'; name: string }
  | { type: 'hub.refused'; code: Extract<ErrorCode, 'name_taken' | 'server_unavailable'> }
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
  | { type: 'ping' };

// ---------------------------------------------------------------- hub events

/** Something every online client hears about, in the order the bus delivers it. */
export type ChatEvent =
  | { type: 'join'; name: string; from: string }
  | { type: 'leave'; name: string; from: string }
  | { type: 'message'; name: string; from: string; text: string; ts: number };

export type HubEvent =
  | { type: 'conn.open'; id: string; limits: ConnectionLimits }
  | { type: 'conn.claim'; id: string; name: string }
  | { type: 'conn.say'; id: string; text: string; at: number }
  | { type: 'conn.gone'; id: string; cause: LeaveCause }
  | { type: 'registry.granted'; id: string; name: string }
  | { type: 'registry.refused'; id: string; code: Extract<ErrorCode, 'name_taken' | 'server_unavailable'> }
  /** A granted name is no longer this connection's (cluster mode, after an outage). */
  | { type: 'registry.revoked'; id: string; code: Extract<ErrorCode, 'name_lost'> }
  | { type: 'bus.delivered'; event: ChatEvent; seq: number }
  | { type: 'bus.failed'; event: ChatEvent; code: Extract<ErrorCode, 'server_unavailable'> }
  | { type: 'server.shutdown' };

/** Requests the hub makes of its registry actor (in memory, or later Redis). */
export type RegistryRequest =
  { type: 'registry.claim'; id: string; name: string } | { type: 'registry.release'; id: string; name: string };

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
  | { type: 'connection.crashed'; id: string; error: unknown };
