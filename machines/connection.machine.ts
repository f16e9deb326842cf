/**
 * One client connection, from upgrade to close:
 *
 *   open ─────────────────────────────────────────────┐
 *   │ awaitingName ──(hub.accepted)──▶ registered      │
 *   │   choosing ⇄ claiming  (a name)                  │
 *   │   choosing ⇄ resuming  (a session)               │
 *   └─ timeout, refusals, bad frames, socket closed, ──┴──▶ closed (tells the hub, which
 *      kick, missed heartbeat, taken over                    keeps or ends the session)
 *
 * `closed` is deliberately not a `final` state. A child reaching a final state sends its
 * parent an `xstate.done.actor.<id>` event, and XState memoizes transition candidates per
 * event type on every state node of the receiver, forever: one unique event type per
 * connection would grow the hub's memory with every connection ever made. Nothing leaves
 * `closed`, and the hub stops the actor as soon as it hears `conn.gone`.
 *
 * The machine decides; it never touches a socket. Frames, closes and pings leave as emitted
 * events that src/transport.ts carries out. Nothing is emitted on the initial entry, because
 * the transport subscribes only once the actor exists.
 */
import { assertEvent, assign, emit, enqueueActions, sendTo, setup } from 'xstate';
import type { ConnectionEmitted, ConnectionEvent, HubEvent, HubRef } from './events.js';
import type { ConnectionLimits } from '../src/limits.js';
import { closeCodes, closeReasons, isCleanClose, type ErrorCode, type LeaveCause } from '../src/errors.js';
import { errorFrame, isValidCid, isValidName, isValidText, normaliseName } from '../src/protocol.js';
import { isOverLimit, spendToken, type RateLimit, type TokenBucket } from '../src/rate-limit.js';

export interface ConnectionInput {
  id: string;
  limits: ConnectionLimits;
  /** Where claims, messages and the end of the connection go. */
  hub: HubRef;
  /** What per-address limits count this client by ('' where none apply). */
  address?: string;
  /** The message bucket every connection of this client address spends from; none: no such limit. */
  addressBucket?: TokenBucket;
}

export interface ConnectionContext {
  id: string;
  limits: ConnectionLimits;
  hub: HubRef;
  address: string;
  /** Shared with the address's other connections, and so spent in place (not copied, as `bucket` is). */
  addressBucket: TokenBucket | null;
  name: string | null;
  refusals: number;
  badFrames: number;
  bucket: TokenBucket;
  /** One rate_limited error per run of dropped messages: errors must not become a flood. */
  toldRateLimited: boolean;
  awaitingPong: boolean;
  cause: LeaveCause | null;
}

const toHub = ({ context }: { context: ConnectionContext }) => context.hub;

const rateOf = (limits: ConnectionLimits): RateLimit => ({ burst: limits.rateBurst, perSec: limits.ratePerSec });
const addressRateOf = (limits: ConnectionLimits): RateLimit => ({
  burst: limits.addressRateBurst,
  perSec: limits.addressRatePerSec,
});

export const connectionMachine = setup({
  types: {
    input: {} as ConnectionInput,
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent,
    emitted: {} as ConnectionEmitted,
  },
  delays: {
    registerTimeout: ({ context }) => context.limits.registerTimeoutMs,
    heartbeat: ({ context }) => context.limits.heartbeatMs,
  },
  guards: {
    namesSession: ({ event }) => {
      assertEvent(event, 'client.frame');
      return event.session !== undefined;
    },
    lacksName: ({ event }) => {
      assertEvent(event, 'client.frame');
      return event.sender === undefined;
    },
    nameInvalid: ({ context, event }) => {
      assertEvent(event, 'client.frame');
      return !isValidName(event.sender ?? '', context.limits.nameMaxLength);
    },
    messageInvalid: ({ context, event }) => {
      assertEvent(event, 'client.frame');
      return !isValidText(event.text ?? '', context.limits.textMaxLength) || !isValidCid(event.cid);
    },
    cleanClose: ({ event }) => {
      assertEvent(event, 'client.closed');
      return isCleanClose(event.code);
    },
    rateLimited: ({ context, event }) => {
      assertEvent(event, ['client.frame', 'client.badFrame']);
      return isOverLimit(context.bucket, rateOf(context.limits), event.at);
    },
    /** Over the rate of its client address, all its connections together (SPEC §5). */
    addressRateLimited: ({ context, event }) => {
      assertEvent(event, 'client.frame');
      const shared = context.addressBucket;
      return shared !== null && isOverLimit(shared, addressRateOf(context.limits), event.at);
    },
    tooManyRefusals: ({ context }) => context.refusals >= context.limits.maxRefusals,
    tooManyBadFrames: ({ context }) => context.badFrames >= context.limits.maxBadFrames,
    pongOverdue: ({ context }) => context.awaitingPong,
    forShutdown: ({ event }) => {
      assertEvent(event, 'server.kick');
      return event.cause === 'shutdown';
    },
    /** Cluster mode's shared store is down: the name was not refused, so it is no refusal. */
    hubUnavailable: ({ event }) => {
      assertEvent(event, 'hub.refused');
      return event.code === 'server_unavailable';
    },
  },
  actions: {
    replyError: emit((_, code: ErrorCode) => ({ type: 'frame' as const, frame: errorFrame(code) })),
    ping: emit({ type: 'ping' as const }),

    /** The client ended it (or its socket broke): nothing left to send, only why it left. */
    noteCause: assign({ cause: (_, cause: LeaveCause) => cause }),
    /** The server ends it with a closing handshake. */
    hangUp: enqueueActions(
      ({ enqueue }, { cause, code, reason }: { cause: LeaveCause; code: number; reason: string }) => {
        enqueue.assign({ cause });
        enqueue.emit({ type: 'close', code, reason });
      },
    ),
    /** The server drops the socket without a handshake: the peer is not listening, or is megabytes behind. */
    drop: enqueueActions(({ enqueue }, { cause }: { cause: LeaveCause }) => {
      enqueue.assign({ cause });
      enqueue.emit({ type: 'terminate' });
    }),

    countRefusal: assign({ refusals: ({ context }) => context.refusals + 1 }),
    countBadFrame: assign({ badFrames: ({ context }) => context.badFrames + 1 }),
    spendToken: assign({
      bucket: ({ context, event }) => {
        assertEvent(event, ['client.frame', 'client.badFrame']);
        return spendToken(context.bucket, rateOf(context.limits), event.at);
      },
      toldRateLimited: false,
    }),
    /** A chat frame spends from its address's bucket too; in place, since the address's other connections hold it. */
    spendAddressToken: assign({
      addressBucket: ({ context, event }) => {
        assertEvent(event, 'client.frame');
        const shared = context.addressBucket;
        if (shared !== null) Object.assign(shared, spendToken(shared, addressRateOf(context.limits), event.at));
        return shared;
      },
    }),
    noteAddressLimited: emit({ type: 'limited' as const, limit: 'messages' as const }),
    tellRateLimited: enqueueActions(({ context, enqueue }) => {
      if (context.toldRateLimited) return;
      enqueue.emit({ type: 'frame', frame: errorFrame('rate_limited') });
      enqueue.assign({ toldRateLimited: true });
    }),
    takeName: assign({
      name: ({ event }) => {
        assertEvent(event, 'hub.accepted');
        return event.name;
      },
    }),
    expectPong: assign({ awaitingPong: true }),
    notePong: assign({ awaitingPong: false }),

    claimName: sendTo(toHub, ({ context, event }): HubEvent => {
      assertEvent(event, 'client.frame');
      return {
        type: 'conn.claim',
        id: context.id,
        name: normaliseName(event.sender ?? ''),
        history: event.history ?? 0,
      };
    }),
    resumeSession: sendTo(toHub, ({ context, event }): HubEvent => {
      assertEvent(event, 'client.frame');
      const { session, epoch, since } = event;
      return { type: 'conn.resume', id: context.id, secret: session ?? '', epoch, since };
    }),
    say: sendTo(toHub, ({ context, event }): HubEvent => {
      assertEvent(event, 'client.frame');
      const say: HubEvent = { type: 'conn.say', id: context.id, text: event.text ?? '', at: event.at };
      if (event.cid !== undefined) say.cid = event.cid;
      return say;
    }),
    tellHubGone: sendTo(toHub, ({ context }): HubEvent => ({
      type: 'conn.gone',
      id: context.id,
      cause: context.cause ?? 'close',
    })),
  },
}).createMachine({
  id: 'connection',
  context: ({ input }) => ({
    id: input.id,
    limits: input.limits,
    hub: input.hub,
    address: input.address ?? '',
    addressBucket: input.addressBucket ?? null,
    name: null,
    refusals: 0,
    badFrames: 0,
    bucket: { tokens: input.limits.rateBurst, at: 0 },
    toldRateLimited: false,
    awaitingPong: false,
    cause: null,
  }),
  initial: 'open',
  states: {
    open: {
      initial: 'awaitingName',
      // Ways out that hold whatever the client is doing.
      on: {
        // The client's own clean close ends its session; any other end keeps it for a resume.
        'client.closed': [
          { guard: 'cleanClose', target: 'closed', actions: { type: 'noteCause', params: 'close' } },
          { target: 'closed', actions: { type: 'noteCause', params: 'dropped' } },
        ],
        // ws has already begun the close (1009, 1008 or 1002); what is left is to count it as the server's doing.
        'client.brokeRule': { target: 'closed', actions: { type: 'noteCause', params: 'policy' } },
        'server.kick': [
          {
            guard: 'forShutdown',
            target: 'closed',
            actions: {
              type: 'hangUp',
              params: { cause: 'shutdown', code: closeCodes.shutdown, reason: closeReasons.shutdown },
            },
          },
          // A slow consumer has megabytes queued: a close frame would wait behind them.
          { target: 'closed', actions: { type: 'drop', params: { cause: 'slow' } } },
        ],
        'client.badFrame': { actions: ['countBadFrame', { type: 'replyError', params: 'bad_frame' }] },
        // Cluster mode, after an outage: the others were told this client left, so it must go.
        'hub.revoked': {
          target: 'closed',
          actions: [
            { type: 'replyError', params: ({ event }) => event.code },
            { type: 'hangUp', params: { cause: 'lost', code: closeCodes.nameLost, reason: closeReasons.nameLost } },
          ],
        },
      },
      always: {
        guard: 'tooManyBadFrames',
        target: 'closed',
        actions: {
          type: 'hangUp',
          params: { cause: 'policy', code: closeCodes.policy, reason: closeReasons.tooManyBadFrames },
        },
      },
      states: {
        awaitingName: {
          initial: 'choosing',
          after: {
            registerTimeout: {
              target: '#connection.closed',
              actions: {
                type: 'hangUp',
                params: { cause: 'policy', code: closeCodes.policy, reason: closeReasons.registerTimeout },
              },
            },
          },
          always: {
            guard: 'tooManyRefusals',
            target: '#connection.closed',
            actions: {
              type: 'hangUp',
              params: { cause: 'policy', code: closeCodes.policy, reason: closeReasons.tooManyRefusals },
            },
          },
          on: {
            'hub.accepted': { target: 'registered', actions: 'takeName' },
            // Not a refusal: the client may go on and choose a name.
            'hub.resumeRefused': {
              target: '.choosing',
              actions: { type: 'replyError', params: ({ event }) => event.code },
            },
            'hub.refused': [
              {
                guard: 'hubUnavailable',
                target: '.choosing',
                actions: { type: 'replyError', params: ({ event }) => event.code },
              },
              {
                target: '.choosing',
                actions: ['countRefusal', { type: 'replyError', params: ({ event }) => event.code }],
              },
            ],
          },
          states: {
            choosing: {
              on: {
                'client.frame': [
                  { guard: 'namesSession', target: 'resuming', actions: 'resumeSession' },
                  { guard: 'lacksName', actions: ['countBadFrame', { type: 'replyError', params: 'not_registered' }] },
                  { guard: 'nameInvalid', actions: ['countRefusal', { type: 'replyError', params: 'invalid_name' }] },
                  { target: 'claiming', actions: 'claimName' },
                ],
              },
            },
            // The hub is deciding (in cluster mode that takes a round trip to the shared store).
            claiming: {
              on: {
                'client.frame': { actions: ['countBadFrame', { type: 'replyError', params: 'not_registered' }] },
              },
            },
            // The hub is finding the session.
            resuming: {
              on: {
                'client.frame': { actions: ['countBadFrame', { type: 'replyError', params: 'not_registered' }] },
              },
            },
          },
        },
        registered: {
          after: {
            heartbeat: [
              {
                guard: 'pongOverdue',
                target: '#connection.closed',
                actions: { type: 'drop', params: { cause: 'heartbeat' } },
              },
              { target: 'registered', reenter: true, actions: ['ping', 'expectPong'] },
            ],
          },
          on: {
            'client.pong': { actions: 'notePong' },
            'client.frame': [
              { guard: 'rateLimited', actions: 'tellRateLimited' },
              { guard: 'addressRateLimited', actions: ['tellRateLimited', 'noteAddressLimited'] },
              {
                guard: 'messageInvalid',
                actions: ['spendToken', 'spendAddressToken', { type: 'replyError', params: 'invalid_message' }],
              },
              { actions: ['spendToken', 'spendAddressToken', 'say'] },
            ],
            'client.badFrame': [
              { guard: 'rateLimited', actions: 'tellRateLimited' },
              { actions: ['spendToken', 'countBadFrame', { type: 'replyError', params: 'bad_frame' }] },
            ],
            'hub.failed': { actions: { type: 'replyError', params: ({ event }) => event.code } },
            'hub.takenOver': {
              target: '#connection.closed',
              actions: {
                type: 'hangUp',
                params: { cause: 'takenOver', code: closeCodes.takenOver, reason: closeReasons.takenOver },
              },
            },
          },
        },
      },
    },
    closed: {
      entry: 'tellHubGone',
    },
  },
});

export type ConnectionActorLogic = typeof connectionMachine;
