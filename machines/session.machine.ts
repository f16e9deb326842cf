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
import { assertEvent, assign, sendTo, setup } from 'xstate';
import type { HubEvent, HubRef } from './events.js';
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
  /** Where it says it ended. */
  hub: HubRef;
  /** The client address its name counts against (per-address limits): its claim's, then each resume's. */
  address?: string;
}

export interface SessionContext extends Required<SessionInput> {
  /** The connection it is attached to; null while detached. */
  conn: string | null;
  /**
   * The connection the registry knows its name by: the one that claimed it, then each that
   * resumed it here. Kept while detached and once ended, unlike `conn`: the name is
   * released, and its leave announced, in this connection's name (a cluster's registry
   * holds a name for a connection, and moves it with each resume).
   */
  holder: string;
  /** `cid` -> where it landed; at most REMEMBERED_CIDS. Changed in place. */
  sent: Record<string, SentRecord>;
  /**
   * The remembered `cid`s, oldest first. `sent` cannot tell: a record lists integer-like
   * keys ("7") first, in numeric order, whatever their age. Changed in place.
   */
  sentOrder: string[];
  endCause: SessionEndCause | null;
}

export type SessionEvent =
  | { type: 'session.attach'; conn: string; address?: string }
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
function remember(context: SessionContext, cid: string, record: SentRecord): Record<string, SentRecord> {
  const { sent, sentOrder } = context;
  if (!Object.hasOwn(sent, cid)) sentOrder.push(cid);
  sent[cid] = record;
  while (sentOrder.length > REMEMBERED_CIDS) {
    const oldest = sentOrder.shift()!;
    // The hub forgets a cid whose send failed; sent again, it is listed twice, and its later place counts.
    if (!sentOrder.includes(oldest)) delete sent[oldest];
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
    attach: assign(({ event }) => {
      assertEvent(event, 'session.attach');
      return event.address === undefined
        ? { conn: event.conn, holder: event.conn }
        : { conn: event.conn, holder: event.conn, address: event.address };
    }),
    detach: assign({ conn: null }),
    noteSending: assign({
      sent: ({ context, event }) => {
        assertEvent(event, 'session.sending');
        return remember(context, event.cid, null);
      },
    }),
    noteSent: assign({
      sent: ({ context, event }) => {
        assertEvent(event, 'session.sent');
        return remember(context, event.cid, { id: event.id, ts: event.ts });
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
    tellHubEnded: sendTo(
      ({ context }) => context.hub,
      ({ context }): HubEvent => ({
        type: 'session.ended',
        session: context.id,
        cause: context.endCause ?? 'expired',
      }),
    ),
  },
}).createMachine({
  id: 'session',
  context: ({ input }) => ({
    ...input,
    address: input.address ?? '',
    conn: input.claimedBy,
    holder: input.claimedBy,
    sent: emptySent(),
    sentOrder: [],
    endCause: null,
  }),
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
