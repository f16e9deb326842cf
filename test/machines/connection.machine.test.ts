/**
 * The connection machine (SPEC §2, §5) until its client has a name: registration and bad
 * frames, through the socket-free chat (real hub, real fan-out loop, simulated clock).
 * A registered client's life is in connection-registered.machine.test.ts, the machine alone
 * under a recording parent in connection-alone.machine.test.ts.
 */
import { TEST_EPOCH } from '../support/hub-input.js';
import { describe, expect, it } from 'vitest';
import { createChat, defaultLimits, errorCodes, isOpen } from '../support/chat-harness.js';

describe('registration', () => {
  it('welcomes a valid name and moves to registered', () => {
    const chat = createChat();
    const alice = chat.open();
    alice.send({ sender: 'Alice', text: 'ignored' });
    expect(alice.take()).toEqual([
      {
        type: 'welcome',
        sender: 'Server',
        text: 'Welcome, Alice!',
        name: 'Alice',
        users: ['Alice'],
        session: 'secret-1',
        epoch: TEST_EPOCH,
        id: '1',
        ts: 0,
      },
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
