/**
 * Fanout batches a turn's frames per socket (src/fanout.ts). Over real sockets, batching
 * must not change what a client sees: frames, error replies and pongs keep the order in
 * which the server produced them, and a burst reaches everyone once and in order.
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { error, expectOwnCopy } from '../support/expected.js';
import { withTimeout, type Frame, type TestSocket } from '../support/ws-client.js';
import { serverPerTest } from '../support/test-server.js';

const start = serverPerTest();

/** Every message frame `socket` receives until it has `count` of them. */
async function messages(socket: TestSocket, count: number): Promise<Frame[]> {
  const got: Frame[] = [];
  while (got.length < count) {
    const frame = await socket.nextFrame(2_000, `message ${got.length + 1} of ${count}`);
    if (frame.type === 'message') got.push(frame);
  }
  return got;
}

describe('batched writes (one system call per socket per turn)', () => {
  it('never lets a pong overtake a frame written before it', async () => {
    const server = await start();
    const alice = await server.register('Alice');
    const order: string[] = [];
    alice.ws.on('message', () => order.push('frame'));
    alice.ws.on('pong', () => order.push('pong'));
    const pong = once(alice.ws, 'pong');
    // One write from the client: the server reads both in one turn, the message first.
    alice.ws.send(JSON.stringify({ text: 'before the ping' }));
    alice.ws.ping();
    await withTimeout(pong, 2_000, 'the pong');
    expect(order).toEqual(['frame', 'pong']);
    expectOwnCopy(await alice.nextFrame(), 'before the ping');
  });

  it("keeps an error reply in its place among a sender's own copies", async () => {
    const server = await start();
    const alice = await server.register('Alice');
    alice.send({ text: 'one' });
    alice.send({ text: '   ' }); // invalid_message, written through ws, not fanout
    alice.send({ text: 'two' });
    expectOwnCopy(await alice.nextFrame(), 'one');
    expect(await alice.nextFrame()).toEqual(error('invalid_message'));
    expectOwnCopy(await alice.nextFrame(), 'two');
  });

  it('delivers bursts from several senders to everyone once, in one order', async () => {
    const server = await start({ rateBurst: 0, addressRateBurst: 0 }); // one address floods: its shared rate off too
    const names = ['A', 'B', 'C'];
    const clients = [];
    for (const name of names) clients.push(await server.register(name));
    const listener = await server.register('Listener');
    // Drain the joins each earlier client saw.
    for (const [i, client] of clients.entries())
      for (let j = i + 1; j < names.length + 1; j++) await client.nextFrame();

    const perSender = 30;
    for (let k = 0; k < perSender; k++) for (const client of clients) client.send({ text: `${k}` });

    const seen = await Promise.all([...clients, listener].map((client) => messages(client, perSender * names.length)));
    const reference = seen[seen.length - 1]!.map((frame) => frame.id);
    for (const frames of seen) {
      // One total order: every client sees the same ids in the same, increasing, order.
      expect(frames.map((frame) => frame.id)).toEqual(reference);
      const ids = frames.map((frame) => Number(frame.id));
      expect(ids).toEqual([...ids].sort((x, y) => x - y));
    }
    // Each sender's messages arrive once each and in the order sent.
    for (const name of names) {
      const texts = seen[seen.length - 1]!.filter((frame) => frame.sender === name).map((frame) => frame.text);
      expect(texts).toEqual(Array.from({ length: perSender }, (_, k) => `${k}`));
    }
    await listener.expectQuiet();
  });
});
