/**
 * SPEC §4 over real sockets: whatever ends a registered client, the others get exactly one
 * leave and the name is free at once; a client that never registered leaves silently.
 * Heartbeats, and the shutdown close (1001, no leave storm), are here too.
 *
 * "Exactly one" is checked with a fence: after the leave, a new client registers, and the
 * next frame the observer gets must be that join, so no second leave came in between.
 */
import { describe, expect, it } from 'vitest';
import { expectOwnCopy, join, leave, message, welcome } from '../support/expected.js';
import { DEFAULT_WAIT_MS } from '../support/ws-client.js';
import { serverPerTest } from '../support/test-server.js';

const start = serverPerTest();
/** §4 as it was: a lost connection's leave at once, no session kept (RESUME_WINDOW_MS=0; SPEC §8). */
const LEAVE_AT_ONCE = { resumeWindowMs: 0 };

describe('leaving (SPEC §4)', () => {
  it.each(['close', 'terminate'] as const)(
    'announces exactly one leave when a registered client goes (%s), and frees its name at once',
    async (how) => {
      const server = await start(LEAVE_AT_ONCE);
      const alice = await server.register('Alice');
      const bob = await server.register('Bob');
      if (how === 'close') alice.close();
      else alice.terminate(); // no closing handshake: the TCP connection just ends
      expect(await bob.nextFrame()).toEqual(leave('Alice'));

      const again = await server.connect();
      again.send({ sender: 'alice', text: '' });
      expect(await again.nextFrame()).toEqual(welcome('alice', ['Bob', 'alice']));
      expect(await bob.nextFrame()).toEqual(join('alice'));
      await bob.expectQuiet();
    },
  );

  it('lets a client that never registered leave silently, even after a refused name', async () => {
    const server = await start();
    const bob = await server.register('Bob');
    const quiet = await server.connect();
    const refused = await server.connect();
    refused.send({ sender: 'Bob', text: '' });
    expect((await refused.nextFrame()).code).toBe('name_taken');
    quiet.close();
    refused.terminate();
    await quiet.waitClose();
    await refused.waitClose();
    // Fence: the server read both ends before it could upgrade and register Dave (loopback,
    // one event loop); a wrong leave would be sent at that read, so before Dave's join.
    await server.register('Dave');
    expect(await bob.nextFrame()).toEqual(join('Dave'));
  });

  it('announces one leave when the server closes a registered client for bad frames (1008)', async () => {
    const server = await start();
    const alice = await server.register('Alice');
    const bob = await server.register('Bob');
    for (let i = 0; i < 10; i++) alice.send('not json');
    expect((await alice.waitClose()).code).toBe(1008);
    expect(await bob.nextFrame()).toEqual(leave('Alice'));
    await server.register('Alice');
    expect(await bob.nextFrame()).toEqual(join('Alice'));
  });

  it('announces one leave when a registered client is closed for a too-big frame (1009)', async () => {
    const server = await start({ maxPayloadBytes: 1024 });
    const alice = await server.register('Alice');
    const bob = await server.register('Bob');
    alice.send({ text: 'x'.repeat(2048) });
    expect((await alice.waitClose()).code).toBe(1009);
    expect(await bob.nextFrame()).toEqual(leave('Alice'));
    await server.register('Alice');
    expect(await bob.nextFrame()).toEqual(join('Alice'));
  });

  it('ends a slow consumer and announces its leave once', async () => {
    const server = await start({
      ...LEAVE_AT_ONCE,
      rateBurst: 0,
      addressRateBurst: 0,
      textMaxLength: 60_000,
      maxBufferedBytes: 1 << 20,
    });
    const alice = await server.register('Alice');
    const slow = await server.register('Slow');
    await alice.nextFrame(); // Slow's join
    slow.ws.pause(); // stops reading: the kernel buffers fill, then the server's queue grows
    const text = 'x'.repeat(50_000);
    // Alice sends one message at a time and reads her own copy before the next, so only the
    // paused reader falls behind (client and server share this event loop). 800 x 50 kB is
    // more than loopback's socket buffers hold on any usual setting.
    let frame: Record<string, unknown> = {};
    for (let sent = 0; sent < 800 && frame.type !== 'leave'; sent++) {
      alice.send({ text });
      frame = await alice.nextFrame(DEFAULT_WAIT_MS, `the copy of message ${sent + 1} or Slow's leave`);
      if (frame.type !== 'leave') expectOwnCopy(frame, text);
    }
    expect(frame).toEqual(leave('Slow'));
    // The leave was ordered right after the message that overflowed Slow, so it came ahead
    // of the copy of the message Alice sent next.
    expectOwnCopy(await alice.nextFrame(), text);
    slow.ws.resume(); // it reads what reached it, then finds the connection dropped
    expect((await slow.waitClose()).code).toBe(1006); // no close frame: it would queue behind megabytes
    await server.register('Slow');
    expect(await alice.nextFrame()).toEqual(join('Slow'));
  });

  it('on server close, ends every client with 1001 and announces no leaves', async () => {
    const server = await start();
    const alice = await server.register('Alice');
    const bob = await server.register('Bob');
    await alice.nextFrame(); // Bob's join
    const closing = server.close();
    // The close frame is the fence: any leave would have been written before it.
    expect((await alice.waitClose()).code).toBe(1001);
    expect((await bob.waitClose()).code).toBe(1001);
    expect(alice.unread()).toEqual([]);
    expect(bob.unread()).toEqual([]);
    await closing;
  });
});

describe('heartbeat (SPEC §4)', () => {
  it('keeps a client that answers every ping', async () => {
    const server = await start({ heartbeatMs: 100 });
    const alice = await server.register('Alice');
    const bob = await server.register('Bob');
    await alice.nextFrame(); // Bob's join
    await alice.waitPings(3, 3_000);
    alice.send({ text: 'still here' });
    // Bob's next frame is the message, so no leave for Alice came before it.
    expect(await bob.nextFrame()).toEqual(message('Alice', 'still here'));
  });

  it('ends a client that does not answer a ping, and the others get its leave', async () => {
    const server = await start({ ...LEAVE_AT_ONCE, heartbeatMs: 100 });
    const bob = await server.register('Bob');
    const mute = await server.register('Mute', { autoPong: false });
    expect(await bob.nextFrame()).toEqual(join('Mute'));
    expect(await bob.nextFrame(3_000, "Mute's leave")).toEqual(leave('Mute'));
    expect(mute.pings).toBeGreaterThanOrEqual(1);
    expect((await mute.waitClose()).code).toBe(1006); // ended without a closing handshake
    await server.register('Mute');
    expect(await bob.nextFrame()).toEqual(join('Mute'));
  });
});
