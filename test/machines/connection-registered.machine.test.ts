/**
 * The connection machine (SPEC §3-5) once its client is registered: chat, the rate limit,
 * the heartbeat and the other endings, and a name the cluster gave up; through the
 * socket-free chat (real hub, real fan-out loop, simulated clock).
 */
import { describe, expect, it } from 'vitest';
import type { ServerFrame } from '../../src/frames.js';
import { createChat, errorCodes, isOpen, type TestClient } from '../support/chat-harness.js';

const messages = (frames: ServerFrame[]) => frames.filter((f) => f.type === 'message').map((f) => f.text);
const say = (client: TestClient, text: string) => client.send({ sender: '', text });

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
        {
          type: 'leave',
          sender: 'Server',
          text: 'Alice has left the chat',
          name: 'Alice',
          id: expect.any(String),
          ts: expect.any(Number),
        },
      ]);
    }
    expect(chat.roster()).toEqual(['Bob', 'Carol']);
  });

  it.each([
    ['a slow-consumer kick terminates', { type: 'server.kick', cause: 'slow' } as const, { kind: 'terminate' }],
    ['its socket closing ends it', { type: 'client.closed', code: 1000 } as const, null],
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
