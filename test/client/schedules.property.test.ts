/**
 * Random schedules against a real server: Alice (the client library, through a proxy that
 * cuts her off) and Bob (a raw socket) chat while Alice's connection is cut and mended at
 * random points, sends in flight included. Whatever the schedule, Alice shows exactly the
 * order an observer socket saw from her join on (no gap, no duplicate), every send of hers
 * is confirmed once and reaches the others once, and she never holds two sockets.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { connect, type ChatMessage } from '../../client/index.js';
import { Recorder, shownFrame } from '../support/client-recorder.js';
import { TcpProxy } from '../support/cluster.js';
import { startTestServer } from '../support/test-server.js';
import { withTimeout, type Frame } from '../support/ws-client.js';

type Step =
  | { type: 'aliceSends' }
  | { type: 'bobSends' }
  | { type: 'cut' }
  | { type: 'mend' }
  | { type: 'settle' }
  /** Alice's message reaches the server, and the connection dies before its copy reaches her. */
  | { type: 'aliceSendsCopyLost' };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Step>({ type: 'aliceSends' }) },
  { weight: 3, arbitrary: fc.constant<Step>({ type: 'bobSends' }) },
  { weight: 2, arbitrary: fc.constant<Step>({ type: 'cut' }) },
  { weight: 2, arbitrary: fc.constant<Step>({ type: 'mend' }) },
  { weight: 1, arbitrary: fc.constant<Step>({ type: 'settle' }) },
  { weight: 2, arbitrary: fc.constant<Step>({ type: 'aliceSendsCopyLost' }) },
);

async function runSchedule(steps: Step[]): Promise<void> {
  // No rate limit: the schedule, not the bucket, decides what is sent.
  const server = await startTestServer({ rateBurst: 0, ratePerSec: 0 });
  const proxy = await TcpProxy.start(server.port);
  const chat = connect(`ws://127.0.0.1:${proxy.port}/ws`, 'Alice', {
    WebSocket,
    backoff: { initialMs: 5, maxMs: 30 },
  });
  try {
    const observer = await server.register('Observer');
    const bob = await server.register('Bob');
    const alice = new Recorder(chat);
    await alice.untilState('online');
    const sends: Promise<ChatMessage>[] = [];
    const aliceTexts: string[] = [];
    let cut = false;
    const heard: Frame[] = [];
    for (const [i, next] of steps.entries()) {
      if (next.type === 'aliceSendsCopyLost' && !cut) {
        // Only once nothing else of hers is out: one message is out at a time.
        await withTimeout(Promise.allSettled(sends), 5_000, "Alice's sends so far");
        await alice.untilState('online');
        proxy.stall();
        const text = `alice ${i}, copy lost`;
        aliceTexts.push(text);
        sends.push(chat.send(text));
        heard.push(...(await observer.framesUntil((frame) => frame.text === text, 5_000, text)));
        cut = true;
        await proxy.cut();
        await alice.untilState('reconnecting');
      } else if (next.type === 'aliceSends' || next.type === 'aliceSendsCopyLost') {
        aliceTexts.push(`alice ${i}`);
        sends.push(chat.send(`alice ${i}`));
      } else if (next.type === 'bobSends') {
        bob.send({ text: `bob ${i}` });
      } else if (next.type === 'cut' && !cut) {
        cut = true;
        await proxy.cut();
        await alice.untilState('reconnecting');
      } else if (next.type === 'mend' && cut) {
        cut = false;
        await proxy.mend();
      } else if (next.type === 'settle' && !cut) {
        await withTimeout(Promise.allSettled(sends), 5_000, "Alice's sends so far");
      }
    }
    if (cut) await proxy.mend();

    const copies = await withTimeout(Promise.all(sends), 5_000, "every one of Alice's sends");
    expect(copies.map((copy) => copy.text)).toEqual(aliceTexts);
    bob.send({ text: 'the end' });
    heard.push(...(await observer.framesUntil((frame) => frame.text === 'the end', 5_000, "Bob's last message")));
    const end = String(heard.at(-1)!.id);
    await alice.untilShown(end, 5_000);

    const aliceJoin = heard.find((frame) => frame.type === 'join' && frame.name === 'Alice')!;
    const expected = heard
      .flatMap((frame) => shownFrame(frame) ?? [])
      .filter((s) => Number(s.id) > Number(aliceJoin.id));
    expect(alice.shown()).toEqual(expected);
    // Each of Alice's messages reached the others once, at the id her promise resolved with.
    const fromAlice = heard.filter((frame) => frame.type === 'message' && frame.sender === 'Alice');
    expect(fromAlice.map((frame) => [frame.text, frame.id])).toEqual(copies.map((copy) => [copy.text, copy.id]));
    expect(alice.of('gap')).toEqual([]);
    expect(proxy.peakOpen).toBe(1);
  } finally {
    chat.close();
    await proxy.cut();
    await server.close();
  }
}

describe('the client under random cuts (property)', () => {
  it('shows the server order exactly and delivers every send once, whatever the schedule', async () => {
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 14 }), runSchedule), { numRuns: 15 });
  }, 60_000);
});
