/**
 * The observer over the real hub, connection actors and fanout loop (no sockets): whatever
 * the sequence of joins, messages, leaves and kicks, the metrics agree with what the
 * clients actually received, although a broadcast is counted once and never per recipient.
 */
import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import type { SessionSettings } from '../../machines/hub.machine.js';
import { Observer, statePaths } from '../../src/observe.js';
import type { EchoMode } from '../../src/limits.js';
import { createChat, type TestClient } from '../support/chat-harness.js';
import { parseMetrics, sample, type Samples } from '../support/metrics-text.js';

type Step =
  | { kind: 'open' }
  | { kind: 'claim'; who: number; name: string }
  | { kind: 'say'; who: number }
  | { kind: 'leave'; who: number }
  | { kind: 'kick'; who: number };

const who = fc.nat({ max: 3 });
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.constant({ kind: 'open' as const }),
  fc.record({ kind: fc.constant('claim' as const), who, name: fc.constantFrom('Ann', 'ann', 'Bob', 'Cy', '') }),
  fc.record({ kind: fc.constant('say' as const), who }),
  fc.record({ kind: fc.constant('leave' as const), who }),
  fc.record({ kind: fc.constant('kick' as const), who }),
);

const BROADCAST_TYPES = new Set(['welcome', 'join', 'leave', 'message']);

/** Whether a running client is in the state of that name, however deep it sits. */
function isIn(client: TestClient, name: string): boolean {
  const snapshot = client.actor.getSnapshot();
  return (
    snapshot.status === 'active' &&
    statePaths(snapshot.value).some((path) => path === name || path.endsWith(`.${name}`))
  );
}

function observedChat(echo: EchoMode = 'anonymous', sessions: Partial<SessionSettings> = {}) {
  // As the server wires it: the observer hears each broadcast from fanout, not from the hub.
  const chat = createChat({
    limits: { rateBurst: 0 },
    echo,
    sessions,
    onBroadcast: (event, recipients, authorIsMember) => observer.broadcast(event, recipients, authorIsMember),
  });
  const observer = new Observer(chat.hub, { livePage: true });
  const clients: TestClient[] = [];
  const sockets: EventEmitter[] = [];
  return {
    chat,
    observer,
    clients,
    sockets,
    open: (): TestClient => {
      const client = chat.open();
      const socket = new EventEmitter();
      observer.track(client.id, socket, client.actor);
      clients.push(client);
      sockets.push(socket);
      return client;
    },
    scrape: async (): Promise<Samples> => parseMetrics((await observer.metrics.render()).body),
  };
}

describe('observer', () => {
  it('counts deliveries, messages, states, refusals and kicks exactly as the clients saw them', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<EchoMode>('anonymous', 'named', 'off'),
        fc.array(step, { minLength: 5, maxLength: 60, size: 'max' }),
        async (echo, steps) => {
          const { clients, sockets, open, scrape } = observedChat(echo);
          let kicked = 0;
          let said = 0;
          for (const s of steps) {
            const client = s.kind === 'open' ? open() : clients[s.who];
            if (client === undefined || client.actor.getSnapshot().status !== 'active') continue;
            if (s.kind === 'claim') client.send({ sender: s.name, text: '' });
            if (s.kind === 'say') {
              if (isIn(client, 'registered')) said++; // no rate limit: always accepted
              client.send({ text: 'hello' });
            }
            if (s.kind === 'leave') client.disconnect();
            if (s.kind === 'kick' && isIn(client, 'registered')) {
              client.actor.send({ type: 'server.kick', cause: 'slow' });
              kicked++;
            }
          }
          // As the server's transport does: a stopped actor's socket closes.
          clients.forEach((client, i) => {
            if (client.actor.getSnapshot().status !== 'active') sockets[i]!.emit('close', 1000);
          });
          const received = clients.flatMap((client) => client.frames);
          const samples = await scrape();
          const inState = (name: string) => clients.filter((client) => isIn(client, name)).length;

          expect(sample(samples, 'chat_deliveries_total')).toBe(
            received.filter((f) => BROADCAST_TYPES.has(f.type)).length,
          );
          expect(sample(samples, 'chat_messages_received_total')).toBe(said);
          expect(sample(samples, 'chat_registrations_accepted_total')).toBe(
            received.filter((f) => f.type === 'welcome').length,
          );
          expect(sample(samples, 'chat_registrations_refused_total{reason="name_taken"}')).toBe(
            received.filter((f) => f.type === 'error' && f.code === 'name_taken').length,
          );
          expect(sample(samples, 'chat_connections{state="registered"}')).toBe(inState('registered'));
          expect(sample(samples, 'chat_connections{state="awaitingName"}')).toBe(inState('awaitingName'));
          expect(sample(samples, 'chat_slow_consumer_kicks_total')).toBe(kicked);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('counts connections in nested states for the live page', () => {
    const { open, observer } = observedChat();
    open().send({ sender: 'Ann', text: '' });
    open();
    expect(observer.countStates()).toEqual({
      open: 2,
      'open.awaitingName': 1,
      'open.awaitingName.choosing': 1,
      'open.awaitingName.claiming': 0,
      'open.awaitingName.resuming': 0,
      'open.registered': 1,
      closed: 0,
    });
  });

  it('counts sessions per state for the live page, and hands it resumes and ends', () => {
    const { chat, open, observer } = observedChat('anonymous', { resumeWindowMs: 1_000 });
    const record = vi.spyOn(observer.live!, 'record');
    const ann = open();
    ann.send({ sender: 'Ann', text: '' });
    const bob = open();
    bob.send({ sender: 'Bob', text: '' });
    expect(observer.countSessionStates()).toEqual({ attached: 2, detached: 0, ended: 0 });
    ann.disconnect(1006);
    expect(observer.countSessionStates()).toEqual({ attached: 1, detached: 1, ended: 0 });
    const again = open();
    again.send({ session: 'secret-1' }); // hub-input.ts's first secret: Ann's
    expect(observer.countSessionStates()).toEqual({ attached: 2, detached: 0, ended: 0 });
    bob.disconnect(1006);
    chat.clock.increment(1_000);
    expect(observer.countSessionStates()).toEqual({ attached: 1, detached: 0, ended: 0 });
    const sessionEntries = record.mock.calls
      .map(([entry]) => entry)
      .filter((entry) => entry.kind === 'resumed' || entry.kind === 'ended');
    expect(sessionEntries).toEqual([
      { kind: 'resumed', conn: again.id, name: 'Ann', recovered: false, replayed: 0 },
      { kind: 'ended', name: 'Bob', cause: 'expired' },
    ]);
  });

  it("names the client in the feed's error entries once it is registered, and not before", () => {
    const { open, observer } = observedChat();
    const record = vi.spyOn(observer.live!, 'record');
    const ann = open();
    ann.send({ sender: 'Ann', text: '' });
    ann.send('not JSON');
    const other = open();
    other.send({ sender: 'ann', text: '' });
    const errors = record.mock.calls.map(([entry]) => entry).filter((entry) => entry.kind === 'error');
    expect(errors).toEqual([
      { kind: 'error', conn: ann.id, name: 'Ann', code: 'bad_frame' },
      { kind: 'error', conn: other.id, name: null, code: 'name_taken' },
    ]);
  });

  it('counts a socket close by its code', async () => {
    const { open, sockets, scrape } = observedChat();
    open();
    sockets[0]!.emit('close', 1006);
    expect(sample(await scrape(), 'chat_connections_closed_total{code="1006"}')).toBe(1);
  });
});
