/**
 * The connection machine (SPEC §2-5): every transition, first through the socket-free chat
 * (real hub, real fan-out loop, simulated clock), then alone under a recording parent.
 */
import { describe, expect, it } from 'vitest';
import { createActor, setup, SimulatedClock, spawnChild, type AnyEventObject } from 'xstate';
import { connectionMachine } from '../../machines/connection.machine.js';
import type { ServerFrame } from '../../src/frames.js';
import { createChat, defaultLimits, type TestClient } from '../support/chat-harness.js';

const errorCodes = (frames: ServerFrame[]) => frames.map((f) => (f.type === 'error' ? f.code : f.type));
const messages = (frames: ServerFrame[]) => frames.filter((f) => f.type === 'message').map((f) => f.text);
const say = (client: TestClient, text: string) => client.send({ sender: '', text });
const isOpen = (client: TestClient) => client.ending === null && client.actor.getSnapshot().status === 'active';

describe('registration', () => {
  it('welcomes a valid name and moves to registered', () => {
    const chat = createChat();
    const alice = chat.open();
    alice.send({ sender: 'Alice', text: 'ignored' });
    expect(alice.take()).toEqual([
      { type: 'welcome', sender: 'Server', text: 'Welcome, Alice!', name: 'Alice', users: ['Alice'] },
    ]);
    expect(alice.actor.getSnapshot().matches({ open: 'registered' })).toBe(true);
  });

  it('refuses an invalid name with invalid_name and keeps waiting for a name', () => {
    const chat = createChat();
    const client = chat.open();
    client.send({ sender: 'Ali\u202Ece', text: '' });
    expect(errorCodes(client.take())).toEqual(['invalid_name']);
    expect(client.actor.getSnapshot().matches({ open: { awaitingName: 'choosing' } })).toBe(true);
    client.send({ sender: 'Alice', text: '' });
    expect(client.take()[0]?.type).toBe('welcome');
  });

  it.each([
    ['another letter case', 'Alice', 'alice'],
    ['NFD while NFC is online', 'Zo\u00e9', 'Zoe\u0301'],
    ['surrounding spaces', 'Bob', '  BOB '],
  ])('refuses a name taken in %s, then accepts another', (_, first, second) => {
    const chat = createChat();
    chat.join(first);
    const client = chat.open();
    client.send({ sender: second, text: '' });
    expect(client.take()).toEqual([
      { type: 'error', sender: 'Server', code: 'name_taken', text: 'Username already taken' },
    ]);
    expect(isOpen(client)).toBe(true);
    client.send({ sender: 'Carol', text: '' });
    expect(client.take()[0]).toMatchObject({ type: 'welcome', name: 'Carol' });
  });

  it('sends the 5th refusal, then closes with 1008; 4 refusals leave it open', () => {
    const chat = createChat();
    chat.join('Alice');
    const client = chat.open();
    for (const name of ['', 'Server', 'alice', 'ALICE']) client.send({ sender: name, text: '' });
    expect(isOpen(client)).toBe(true);
    client.send({ sender: 'Alice', text: '' });
    expect(errorCodes(client.take())).toEqual([
      'invalid_name',
      'invalid_name',
      'name_taken',
      'name_taken',
      'name_taken',
    ]);
    expect(client.ending).toEqual({ kind: 'close', code: 1008, reason: expect.any(String) });
  });

  it('closes with 1008 after 10 s without a name, not at 9999 ms', () => {
    const chat = createChat();
    const client = chat.open();
    chat.clock.increment(9_999);
    expect(isOpen(client)).toBe(true);
    chat.clock.increment(1);
    expect(client.ending).toMatchObject({ kind: 'close', code: 1008 });
  });

  it('does not restart the register timeout on a refused attempt', () => {
    const chat = createChat();
    chat.join('Alice');
    const client = chat.open();
    chat.clock.increment(8_000);
    client.send({ sender: '', text: '' });
    chat.clock.increment(1_000);
    client.send({ sender: 'alice', text: '' });
    chat.clock.increment(1_000);
    expect(client.ending).toMatchObject({ kind: 'close', code: 1008 });
  });

  it('stops the register timeout once registered', () => {
    const chat = createChat();
    const alice = chat.join('Alice');
    chat.clock.increment(10_000);
    expect(alice.ending).toBeNull();
  });

  it('answers a frame without sender before registration with not_registered', () => {
    const chat = createChat();
    const client = chat.open();
    client.send({ text: 'hello?' });
    expect(errorCodes(client.take())).toEqual(['not_registered']);
    expect(isOpen(client)).toBe(true);
  });

  it('answers server_unavailable from the registry and lets the client try again', () => {
    const chat = createChat();
    const client = chat.open();
    client.actor.send({ type: 'hub.refused', code: 'server_unavailable' });
    expect(errorCodes(client.take())).toEqual(['server_unavailable']);
    expect(isOpen(client)).toBe(true);
  });

  it('does not count server_unavailable as a refused name: an outage closes nobody', () => {
    const chat = createChat();
    const client = chat.open();
    for (let i = 0; i < defaultLimits.maxRefusals + 2; i++)
      client.actor.send({ type: 'hub.refused', code: 'server_unavailable' });
    expect(isOpen(client)).toBe(true);
    client.send({ sender: 'Alice', text: '' });
    expect(client.take().at(-1)).toMatchObject({ type: 'welcome', name: 'Alice' });
  });
});

describe('bad frames', () => {
  it('answers each with bad_frame; the 10th closes with 1008, 9 do not', () => {
    const chat = createChat();
    const client = chat.open();
    for (let i = 0; i < 9; i++) client.send(i % 2 === 0 ? 'not json' : null);
    expect(isOpen(client)).toBe(true);
    client.send('[1,2]');
    expect(errorCodes(client.take())).toEqual(Array(10).fill('bad_frame'));
    expect(client.ending).toMatchObject({ kind: 'close', code: 1008 });
  });

  it('counts not_registered towards the 10', () => {
    const chat = createChat();
    const client = chat.open();
    for (let i = 0; i < 5; i++) client.send({ text: 'hi' });
    for (let i = 0; i < 5; i++) client.send('{');
    expect(client.ending).toMatchObject({ kind: 'close', code: 1008 });
  });

  it('closes a registered client after 10 and tells the others it left', () => {
    const chat = createChat();
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    bob.take();
    for (let i = 0; i < 10; i++) alice.send({ text: 42 });
    expect(alice.ending).toMatchObject({ kind: 'close', code: 1008 });
    expect(bob.take()).toEqual([expect.objectContaining({ type: 'leave', name: 'Alice' })]);
  });
});

describe('chat', () => {
  it('stamps the registered name on a message whatever sender it claims', () => {
    const chat = createChat();
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    alice.send({ sender: 'Bob', text: 'I am Bob' });
    expect(bob.take()).toEqual([expect.objectContaining({ type: 'message', sender: 'Alice', text: 'I am Bob' })]);
  });

  it.each([
    ['empty', ''],
    ['whitespace-only', ' \n\t '],
    ['over 4096 code points', 'x'.repeat(4097)],
  ])('refuses %s text with invalid_message and delivers nothing', (_, text) => {
    const chat = createChat({ echo: 'named' });
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    alice.take();
    alice.send({ text });
    expect(errorCodes(alice.take())).toEqual(['invalid_message']);
    expect(bob.take()).toEqual([]);
  });

  it('answers hub.failed with server_unavailable and stays registered', () => {
    const chat = createChat();
    const alice = chat.join('Alice');
    alice.actor.send({ type: 'hub.failed', code: 'server_unavailable' });
    expect(errorCodes(alice.take())).toEqual(['server_unavailable']);
    expect(alice.actor.getSnapshot().matches({ open: 'registered' })).toBe(true);
  });
});

describe('rate limit', () => {
  it('delivers a burst of 20, refuses the 21st, and stays silent about further excess', () => {
    const chat = createChat();
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    alice.take();
    for (let i = 1; i <= 30; i++) say(alice, `m${i}`);
    expect(messages(bob.take())).toHaveLength(20);
    const own = alice.take();
    expect(messages(own)).toHaveLength(20);
    expect(errorCodes(own).filter((c) => c === 'rate_limited')).toHaveLength(1);
    expect(own.at(-1)).toMatchObject({ type: 'error', code: 'rate_limited' });
  });

  it('refills at 10 per second, and warns again after an accepted message', () => {
    const chat = createChat();
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    for (let i = 0; i < 21; i++) say(alice, 'flood');
    alice.take();
    bob.take();
    chat.clock.increment(100);
    say(alice, 'one more');
    say(alice, 'too many');
    expect(messages(bob.take())).toEqual(['one more']);
    expect(errorCodes(alice.take())).toEqual(['message', 'rate_limited']);
    chat.clock.increment(2_000);
    for (let i = 0; i < 21; i++) say(alice, 'again');
    expect(messages(bob.take())).toHaveLength(20);
  });

  it('limits bad frames from a registered client too', () => {
    const chat = createChat({ limits: { maxBadFrames: 100 } });
    const alice = chat.join('Alice');
    for (let i = 0; i < 30; i++) alice.send('nope');
    expect(errorCodes(alice.take())).toEqual([...Array(20).fill('bad_frame'), 'rate_limited']);
  });

  it('is off when the burst is 0', () => {
    const chat = createChat({ limits: { rateBurst: 0 } });
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    for (let i = 0; i < 100; i++) say(alice, `m${i}`);
    expect(messages(bob.take())).toHaveLength(100);
    expect(errorCodes(alice.take())).not.toContain('rate_limited');
  });
});

describe('endings of a registered client', () => {
  it('pings every heartbeat and stays while pongs come back', () => {
    const chat = createChat();
    const alice = chat.join('Alice');
    chat.clock.increment(29_999);
    expect(alice.pings).toBe(0);
    for (let beat = 1; beat <= 3; beat++) {
      chat.clock.increment(beat === 1 ? 1 : 30_000);
      expect(alice.pings).toBe(beat);
      alice.pong();
    }
    expect(isOpen(alice)).toBe(true);
  });

  it('terminates a client that missed a pong; everyone else gets exactly one leave', () => {
    const chat = createChat();
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    const carol = chat.join('Carol');
    bob.take();
    chat.clock.increment(30_000);
    bob.pong();
    carol.pong();
    chat.clock.increment(30_000);
    expect(alice.ending).toEqual({ kind: 'terminate' });
    for (const other of [bob, carol]) {
      expect(other.take().filter((f) => f.type === 'leave')).toEqual([
        { type: 'leave', sender: 'Server', text: 'Alice has left the chat', name: 'Alice' },
      ]);
    }
    expect(chat.roster()).toEqual(['Bob', 'Carol']);
  });

  it.each([
    ['a slow-consumer kick terminates', { type: 'server.kick', cause: 'slow' } as const, { kind: 'terminate' }],
    ['its socket closing ends it', { type: 'client.closed' } as const, null],
  ])('%s and the others get a leave', (_, event, ending) => {
    const chat = createChat();
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    alice.actor.send(event);
    expect(alice.ending).toEqual(ending);
    expect(alice.actor.getSnapshot().status).toBe('stopped'); // by the hub, once told
    expect(bob.take()).toEqual([expect.objectContaining({ type: 'leave', name: 'Alice' })]);
  });

  it('a shutdown kick closes with 1001', () => {
    const chat = createChat();
    const alice = chat.join('Alice');
    alice.actor.send({ type: 'server.kick', cause: 'shutdown' });
    expect(alice.ending).toMatchObject({ kind: 'close', code: 1001 });
  });
});

describe('a name the cluster gave up (hub.revoked)', () => {
  it('tells the client why, closes it with 4001, and the others hear it left once', () => {
    const chat = createChat();
    const alice = chat.join('Alice');
    const bob = chat.join('Bob');
    alice.take();
    alice.actor.send({ type: 'hub.revoked', code: 'name_lost' });
    expect(errorCodes(alice.take())).toEqual(['name_lost']);
    expect(alice.ending).toEqual({ kind: 'close', code: 4001, reason: expect.any(String) });
    expect(alice.actor.getSnapshot().status).toBe('stopped'); // by the hub, once told
    expect(bob.take()).toEqual([expect.objectContaining({ type: 'leave', name: 'Alice' })]);
  });
});

describe('connection machine alone, under a recording parent', () => {
  function start(limits = defaultLimits) {
    const told: AnyEventObject[] = [];
    const clock = new SimulatedClock();
    const parent = setup({ actors: { connection: connectionMachine } }).createMachine({
      entry: spawnChild('connection', { id: 'conn', input: { id: 'c1', limits } }),
      on: { '*': { actions: ({ event }) => told.push(event) } },
    });
    const actor = createActor(parent, { clock }).start();
    const conn = actor.getSnapshot().children['conn']!;
    const emitted: AnyEventObject[] = [];
    conn.on('*', (event) => emitted.push(event));
    const toHub = () => told.filter((e) => e.type.startsWith('conn.'));
    return { conn, clock, toHub, emitted };
  }

  it('asks its parent for the normalised name and says nothing of an invalid one', () => {
    const { conn, toHub, emitted } = start();
    conn.send({ type: 'client.frame', sender: 'Server', at: 1 });
    expect(toHub()).toEqual([]);
    expect(emitted).toEqual([{ type: 'frame', frame: expect.objectContaining({ code: 'invalid_name' }) }]);
    conn.send({ type: 'client.frame', sender: ' Zoe\u0301 ', text: '', at: 2 });
    expect(toHub()).toEqual([{ type: 'conn.claim', id: 'c1', name: 'Zo\u00e9' }]);
  });

  it('sends conn.say once accepted, with the receive time', () => {
    const { conn, toHub } = start();
    conn.send({ type: 'client.frame', sender: 'Alice', at: 1 });
    conn.send({ type: 'hub.accepted', name: 'Alice' });
    conn.send({ type: 'client.frame', sender: 'Mallory', text: 'hi', at: 1234 });
    expect(toHub().at(-1)).toEqual({ type: 'conn.say', id: 'c1', text: 'hi', at: 1234 });
  });

  it.each([
    ['close', (c: ReturnType<typeof start>) => c.conn.send({ type: 'client.closed' })],
    ['policy', (c: ReturnType<typeof start>) => c.clock.increment(defaultLimits.registerTimeoutMs)],
    ['slow', (c: ReturnType<typeof start>) => c.conn.send({ type: 'server.kick', cause: 'slow' })],
  ])('tells its parent conn.gone with cause %s', (cause, end) => {
    const c = start();
    end(c);
    expect(c.toHub()).toEqual([{ type: 'conn.gone', id: 'c1', cause }]);
  });

  it('tells its parent conn.gone with cause heartbeat after a missed pong', () => {
    const c = start();
    c.conn.send({ type: 'client.frame', sender: 'Alice', at: 0 });
    c.conn.send({ type: 'hub.accepted', name: 'Alice' });
    // One increment per beat: the simulated clock schedules the next beat from its new time.
    c.clock.increment(defaultLimits.heartbeatMs);
    c.clock.increment(defaultLimits.heartbeatMs);
    expect(c.toHub().at(-1)).toEqual({ type: 'conn.gone', id: 'c1', cause: 'heartbeat' });
    expect(c.emitted.map((e) => e.type)).toEqual(['ping', 'terminate']);
  });
});
