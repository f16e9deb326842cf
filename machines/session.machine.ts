/**
 * One session: a registered name's stay in the chat, which may outlive its connections
 * (PROTOCOL.md, Sessions).
 *
 *   attached ──(connection lost)──▶ detached ──(RESUME_WINDOW_MS passes)──▶ ended
 *      ▲  │ (taken over: attach again)  │
 *      │  └─────────────────────────────┤ (resumed in time)
 *      └────────────────────────────────┘
 *   any ──(clean close, broken rule, evicted)──▶ ended
 *
 * The hub spawns it when a name is granted and decides every move but one: the window
 * running out, which is this machine's delayed transition. `ended` tells the hub, which
 * announces the leave once, frees the name and stops the actor. Like a connection's
 * `closed`, `ended` is not `final`, so that no per-actor done event grows the hub's memory.
 *
 * What a session remembers beyond its lifecycle is what makes a resend safe: the `cid`s
 * it sent lately, each with the position it was given (or none while it is on its way).
 */
import { assertEvent, assign, sendParent, setup } from 'xstate';
import type { HubEvent } from './events.js';
import type { SessionEndCause } from '../src/errors.js';

/** A sent message, as its `cid` is remembered: where it landed, or null while on its way. */
export type SentRecord = { id: string; ts: number } | null;

/** How many of its latest `cid`s a session remembers (PROTOCOL.md, Sessions). */
export const REMEMBERED_CIDS = 32;

export interface SessionInput {
  id: string;
  name: string;
  /** The connection that claimed the name: the registry knows the claim by it. */
  claimedBy: string;
  resumeWindowMs: number;
}

export interface SessionContext extends SessionInput {
  /** The connection it is attached to; null while detached. */
  conn: string | null;
  /** `cid` -> where it landed, oldest first; at most REMEMBERED_CIDS. Changed in place. */
  sent: Record<string, SentRecord>;
  endCause: SessionEndCause | null;
}

export type SessionEvent =
  | { type: 'session.attach'; conn: string }
  | { type: 'session.detach' }
  | { type: 'session.end'; cause: SessionEndCause }
  | { type: 'session.sending'; cid: string }
  | { type: 'session.sent'; cid: string; id: string; ts: number };

/** A record without a prototype, so that any `cid` is a plain key. */
function emptySent(): Record<string, SentRecord> {
  return Object.create(null) as Record<string, SentRecord>;
}

/**
 * Remembers one `cid`, forgetting the oldest past the bound. In place, as the hub's
 * members are: one message must not cost a copy of the record.
 */
function remember(sent: Record<string, SentRecord>, cid: string, record: SentRecord): Record<string, SentRecord> {
  const known = Object.hasOwn(sent, cid);
  sent[cid] = record;
  if (!known) {
    const cids = Object.keys(sent);
    if (cids.length > REMEMBERED_CIDS) delete sent[cids[0]!];
  }
  return sent;
}

export const sessionMachine = setup({
  types: {
    input: {} as SessionInput,
    context: {} as SessionContext,
    events: {} as SessionEvent,
  },
  delays: {
    resumeWindow: ({ context }) => context.resumeWindowMs,
  },
  actions: {
    attach: assign({
      conn: ({ event }) => {
        assertEvent(event, 'session.attach');
        return event.conn;
      },
    }),
    detach: assign({ conn: null }),
    noteSending: assign({
      sent: ({ context, event }) => {
        assertEvent(event, 'session.sending');
        return remember(context.sent, event.cid, null);
      },
    }),
    noteSent: assign({
      sent: ({ context, event }) => {
        assertEvent(event, 'session.sent');
        return remember(context.sent, event.cid, { id: event.id, ts: event.ts });
      },
    }),
    noteEnd: assign({
      conn: null,
      endCause: ({ event }) => {
        assertEvent(event, 'session.end');
        return event.cause;
      },
    }),
    noteExpiry: assign({ endCause: 'expired' }),
    tellHubEnded: sendParent(({ context }): HubEvent => ({
      type: 'session.ended',
      session: context.id,
      cause: context.endCause ?? 'expired',
    })),
  },
}).createMachine({
  id: 'session',
  context: ({ input }) => ({ ...input, conn: input.claimedBy, sent: emptySent(), endCause: null }),
  initial: 'attached',
  // What a session remembers, whatever its state.
  on: {
    'session.sending': { actions: 'noteSending' },
    'session.sent': { actions: 'noteSent' },
    'session.end': { target: '.ended', actions: 'noteEnd' },
  },
  states: {
    attached: {
      on: {
        // A newer connection took the session over.
        'session.attach': { actions: 'attach' },
        'session.detach': { target: 'detached', actions: 'detach' },
      },
    },
    detached: {
      after: {
        resumeWindow: { target: 'ended', actions: 'noteExpiry' },
      },
      on: {
        'session.attach': { target: 'attached', actions: 'attach' },
      },
    },
    ended: {
      entry: 'tellHubEnded',
      // Nothing leaves `ended`; the hub stops the actor when it hears of it.
      on: {
        'session.end': {},
        'session.sending': {},
        'session.sent': {},
      },
    },
  },
});

export type SessionActorLogic = typeof sessionMachine;
