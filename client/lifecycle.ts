/**
 * The client's lifecycle as data: its states, the events that move it, and the effects
 * each move asks for. Pure: no socket, no timer, no clock, no randomness. The adapter
 * (client.ts) owns those, feeds their outcomes in as events and carries the effects out.
 *
 *            ┌──────── timer.retry ─────────┐
 *            ▼                              │
 *   ──▶ connecting ──socket.opened──▶ registering ──server.welcome──▶ online
 *            │                          │   ▲ server.sessionExpired        │
 *            │                          │   └─ (register the name again)   │
 *            └──── socket.closed ───────┴──────────────────────────────────┴──▶ reconnecting
 *
 *   closed (final): app.close anywhere; a refused name; taken over (4002); a close for a
 *   broken rule (1002, 1008, 1009).
 *
 * A name refused as taken while the name may be held by this client's own earlier attempt
 * (one given up before its answer came: the server may have granted it, and keeps that
 * session for its resume window) is not final: the socket is dropped and the attempt
 * retried with backoff, like any loss. The adapter knows when that may be so.
 *
 * Never two sockets: a socket is opened only on entering `connecting`, which is reached
 * only from `reconnecting`, which is entered only once the previous socket has closed. A
 * deadline or `server_unavailable` drops the socket and waits for its close like any loss
 * (where it cannot be terminated, the adapter waits a bounded time, then counts it closed).
 */

export type ConnectionState = 'connecting' | 'registering' | 'online' | 'reconnecting' | 'closed';

/** What resumes a session: the welcome's `session` and `epoch`. */
export interface SessionTicket {
  secret: string;
  epoch: string;
}

/** Why the client stopped for good. */
export type ClosedReason =
  /** The app called close(). */
  | 'closed'
  /** The name was refused: on the first registration, or when registering it again after `session_expired`. */
  | 'name_taken'
  | 'invalid_name'
  /** Another connection resumed this session (4002); resuming in turn would fight it forever. */
  | 'taken_over'
  /** The server closed the connection for a broken rule (1002, 1008, 1009): retrying would break it again. */
  | 'rejected';

export interface Lifecycle {
  readonly state: ConnectionState;
  /** Connections lost in a row since the last stable one: picks the next backoff wait. */
  readonly failures: number;
  /** The session to resume on the next connection, or null to register the name. */
  readonly session: SessionTicket | null;
  /** Set in `closed` only. `code`: the close code, for `rejected`. */
  readonly closedBy: { reason: ClosedReason; code?: number } | null;
}

export type LifecycleEvent =
  | { type: 'socket.opened' }
  | { type: 'socket.closed'; code: number }
  | { type: 'server.welcome'; session: SessionTicket }
  /** `ownClaimMayHold`: an attempt of this client's that asked for the name went unanswered, recently. */
  | { type: 'server.refused'; code: 'name_taken' | 'invalid_name'; ownClaimMayHold?: boolean }
  | { type: 'server.sessionExpired' }
  | { type: 'server.unavailable' }
  | { type: 'timer.retry' }
  | { type: 'timer.deadline' }
  | { type: 'timer.stable' }
  | { type: 'app.close' };

export type Effect =
  | { type: 'openSocket' }
  | { type: 'register' }
  | { type: 'resume'; session: SessionTicket }
  /** End the socket so that the session survives it (not a clean close). */
  | { type: 'dropSocket' }
  /** A clean close: the session ends and the others hear the leave. */
  | { type: 'leave' }
  /** The one timer of the state; starting it replaces the one before. */
  | { type: 'startTimer'; timer: 'retry'; failures: number }
  | { type: 'startTimer'; timer: 'deadline' | 'stable' }
  | { type: 'stopTimer' }
  /** The session is gone: what it would have replayed, and the fate of what was sent on it, are lost. */
  | { type: 'sessionLost' }
  /** Welcomed: what waits to be sent may go. */
  | { type: 'online' };

export interface Step {
  lifecycle: Lifecycle;
  effects: Effect[];
}

/** The first state, and what it takes to get there. */
export function begin(): Step {
  return {
    lifecycle: { state: 'connecting', failures: 0, session: null, closedBy: null },
    effects: [{ type: 'openSocket' }, { type: 'startTimer', timer: 'deadline' }],
  };
}

/** Close codes after which trying again would only be refused again. */
const RULE_BROKEN = new Set([1002, 1008, 1009]);
const TAKEN_OVER = 4002;
/** Cluster mode gave the name up in an outage: the session is gone, the name may be free again. */
const NAME_LOST = 4001;

type Handler<E extends LifecycleEvent['type']> = (
  lifecycle: Lifecycle,
  event: Extract<LifecycleEvent, { type: E }>,
) => Step;
type Table = { [S in ConnectionState]: { [E in LifecycleEvent['type']]?: Handler<E> } };

const close = (lifecycle: Lifecycle): Step => stop(lifecycle, 'closed', [{ type: 'leave' }]);

/** Every state, and what each event does in it; an event a state does not list is ignored. */
const table: Table = {
  connecting: {
    'socket.opened': (lifecycle) => ({
      lifecycle: { ...lifecycle, state: 'registering' },
      effects: [lifecycle.session === null ? { type: 'register' } : { type: 'resume', session: lifecycle.session }],
    }),
    'socket.closed': lost,
    'timer.deadline': stay([{ type: 'dropSocket' }]),
    'app.close': close,
  },
  registering: {
    'server.welcome': (lifecycle, event) => ({
      lifecycle: { ...lifecycle, state: 'online', session: event.session },
      effects: [{ type: 'startTimer', timer: 'stable' }, { type: 'online' }],
    }),
    'server.sessionExpired': (lifecycle) => ({
      lifecycle: { ...lifecycle, session: null },
      effects: [{ type: 'sessionLost' }, { type: 'register' }],
    }),
    'server.refused': (lifecycle, event) =>
      event.code === 'name_taken' && event.ownClaimMayHold === true
        ? { lifecycle, effects: [{ type: 'dropSocket' }] }
        : stop(lifecycle, event.code, [{ type: 'leave' }]),
    'server.unavailable': stay([{ type: 'dropSocket' }]),
    'socket.closed': lost,
    'timer.deadline': stay([{ type: 'dropSocket' }]),
    'app.close': close,
  },
  online: {
    'timer.stable': (lifecycle) => ({ lifecycle: { ...lifecycle, failures: 0 }, effects: [] }),
    'socket.closed': lost,
    'app.close': close,
  },
  reconnecting: {
    'timer.retry': (lifecycle) => ({
      lifecycle: { ...lifecycle, state: 'connecting' },
      effects: [{ type: 'openSocket' }, { type: 'startTimer', timer: 'deadline' }],
    }),
    'app.close': close,
  },
  closed: {},
};

/** Where `event` takes `lifecycle`, and the effects to carry out, in order. */
export function transition(lifecycle: Lifecycle, event: LifecycleEvent): Step {
  const handler = table[lifecycle.state][event.type] as Handler<typeof event.type> | undefined;
  return handler === undefined ? { lifecycle, effects: [] } : handler(lifecycle, event);
}

/** The socket is gone: wait and try again, unless the way it closed says not to. */
function lost(lifecycle: Lifecycle, event: { code: number }): Step {
  if (event.code === TAKEN_OVER) return stop(lifecycle, 'taken_over', []);
  if (RULE_BROKEN.has(event.code)) return stop(lifecycle, 'rejected', [], event.code);
  const sessionGone = event.code === NAME_LOST && lifecycle.session !== null;
  return {
    lifecycle: {
      ...lifecycle,
      state: 'reconnecting',
      failures: lifecycle.failures + 1,
      session: event.code === NAME_LOST ? null : lifecycle.session,
    },
    effects: [
      ...(sessionGone ? [{ type: 'sessionLost' } as const] : []),
      { type: 'startTimer', timer: 'retry', failures: lifecycle.failures },
    ],
  };
}

function stop(lifecycle: Lifecycle, reason: ClosedReason, effects: Effect[], code?: number): Step {
  return {
    lifecycle: { ...lifecycle, state: 'closed', closedBy: code === undefined ? { reason } : { reason, code } },
    effects: [{ type: 'stopTimer' }, ...effects],
  };
}

function stay(effects: Effect[]): (lifecycle: Lifecycle) => Step {
  return (lifecycle) => ({ lifecycle, effects });
}
