/**
 * Names held per client address, as the hub counts them (SPEC §5): through the
 * socket-free chat (real hub, connection and session actors, simulated clock). A name
 * counts from its claim until its session ends, so a session waiting in its resume window
 * still holds it; a resume moves it to the address that resumed it.
 */
import { describe, expect, it } from 'vitest';
import { createChat, errorCodes } from '../support/chat-harness.js';

const WINDOW_MS = 30_000;

function chatWithNames(maxNames: number, registrationsPerMin = 0) {
  return createChat({
    perAddress: { maxNames, registrationsPerMin },
    limits: { heartbeatMs: 24 * 3_600_000, registerTimeoutMs: 24 * 3_600_000 },
    sessions: { resumeWindowMs: WINDOW_MS },
  });
}

const heldBy = (chat: ReturnType<typeof createChat>, address: string) =>
  chat.hub.getSnapshot().context.names.held(address);

describe('names held per client address', () => {
  it('refuses a claim past the cap with too_many_names, and only for that address', () => {
    const chat = chatWithNames(1);
    chat.join('Alice', 'A');
    const second = chat.open('A');
    second.send({ sender: 'Bob', text: '' });
    expect(errorCodes(second.take())).toEqual(['too_many_names']);
    chat.join('Carol', 'B');
    expect(chat.roster()).toEqual(['Alice', 'Carol']);
  });

  it('holds a name while its session waits for a resume, and frees it when the window ends', () => {
    const chat = chatWithNames(1);
    const alice = chat.join('Alice', 'A');
    alice.disconnect(1006);
    expect(heldBy(chat, 'A')).toBe(1);
    const next = chat.open('A');
    next.send({ sender: 'Bob', text: '' });
    expect(errorCodes(next.take())).toEqual(['too_many_names']);
    chat.clock.increment(WINDOW_MS);
    expect(heldBy(chat, 'A')).toBe(0);
    next.send({ sender: 'Bob', text: '' });
    expect(next.take()[0]).toMatchObject({ type: 'welcome', name: 'Bob' });
  });

  it('frees a name at once on a clean close, and a refused claim holds nothing', () => {
    const chat = chatWithNames(2);
    chat.join('Alice', 'B');
    const bob = chat.join('Bob', 'A');
    const taken = chat.open('A');
    taken.send({ sender: 'alice', text: '' });
    expect(errorCodes(taken.take())).toEqual(['name_taken']);
    expect(heldBy(chat, 'A')).toBe(1);
    bob.disconnect(1000);
    expect(heldBy(chat, 'A')).toBe(0);
  });

  it('moves a resumed session’s name to the address that resumed it', () => {
    const chat = chatWithNames(1);
    const alice = chat.open('A');
    alice.send({ sender: 'Alice', text: '' });
    const secret = (alice.take()[0] as { session: string }).session;
    alice.disconnect(1006);
    const back = chat.open('B');
    back.send({ sender: 'Alice', text: '', session: secret });
    expect(back.take()[0]).toMatchObject({ type: 'welcome', resumed: true });
    expect([heldBy(chat, 'A'), heldBy(chat, 'B')]).toEqual([0, 1]);
    // Its session ends from B's connection: B's count goes down, not A's.
    back.disconnect(1000);
    expect([heldBy(chat, 'A'), heldBy(chat, 'B')]).toEqual([0, 0]);
  });

  it('limits registrations per minute with too_many_registrations', () => {
    const chat = chatWithNames(0, 2);
    for (const name of ['Alice', 'Bob']) chat.join(name, 'A').disconnect(1000);
    const third = chat.open('A');
    third.send({ sender: 'Carol', text: '' });
    expect(errorCodes(third.take())).toEqual(['too_many_registrations']);
    chat.clock.increment(30_000);
    third.send({ sender: 'Carol', text: '' });
    expect(third.take()[0]).toMatchObject({ type: 'welcome', name: 'Carol' });
  });
});
