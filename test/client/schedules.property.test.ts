/**
 * Random schedules against a real server: Alice (the client library, through a proxy that
 * cuts her off) and Bob (a raw socket) chat while Alice's connection is cut and mended at
 * random points, sends in flight included, and the server restarts (losing every session).
 * Whatever the schedule, Alice shows exactly the order an observer socket saw from her join
 * on (no gap, no duplicate) and, across a restart, a prefix of it and then a `gap`; every
 * send of hers reaches the others at most once, is confirmed exactly when it did, and is
 * refused only as `outcome_unknown` when a restart took its session; she never holds two
 * sockets.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { connect, type ChatMessage } from '../../client/index.js';
import { Recorder, shownFrame, type Shown } from '../support/client-recorder.js';
import { TcpProxy } from '../support/cluster.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { withTimeout, type Frame, type TestSocket } from '../support/ws-client.js';

type Step =
  | { type: 'aliceSends' }
  | { type: 'bobSends' }
  | { type: 'cut' }
  | { type: 'mend' }
  | { type: 'settle' }
  /** Alice's message reaches the server, and the connection dies before its copy reaches her. */
  | { type: 'aliceSendsCopyLost' }
  /** The server stops and starts again on the same port: a new epoch, every session gone. */
  | { type: 'restart' };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Step>({ type: 'aliceSends' }) },
  { weight: 3, arbitrary: fc.constant<Step>({ type: 'bobSends' }) },
  { weight: 2, arbitrary: fc.constant<Step>({ type: 'cut' }) },
  { weight: 2, arbitrary: fc.constant<Step>({ type: 'mend' }) },
  { weight: 1, arbitrary: fc.constant<Step>({ type: 'settle' }) },
  { weight: 2, arbitrary: fc.constant<Step>({ type: 'aliceSendsCopyLost' }) },
  { weight: 1, arbitrary: fc.constant<Step>({ type: 'restart' }) },
);

// No rate limit: the schedule, not the bucket, decides what is sent.
const settings = { rateBurst: 0, ratePerSec: 0 };

/** One server's life: its observer and Bob, and what the observer heard. */
interface Epoch {
  server: TestServer;
  observer: TestSocket;
  bob: TestSocket;
  heard: Frame[];
}

async function startEpoch(port = 0): Promise<Epoch> {
  const server = await startTestServer({ ...settings, port });
  return { server, observer: await server.register('Observer'), bob: await server.register('Bob'), heard: [] };
}

/** Bob says `text` and the observer hears it: everything before it is in `heard`. */
async function fence(epoch: Epoch, text: string): Promise<void> {
  epoch.bob.send({ text });
  epoch.heard.push(...(await epoch.observer.framesUntil((frame) => frame.text === text, 5_000, text)));
}

/** What the observer heard after Alice's join. */
function afterAliceJoined(heard: Frame[]): Shown[] {
  const join = heard.find((frame) => frame.type === 'join' && frame.name === 'Alice');
  if (join === undefined) return [];
  return heard.flatMap((frame) => shownFrame(frame) ?? []).filter((s) => Number(s.id) > Number(join.id));
}

async function runSchedule(steps: Step[]): Promise<void> {
  const epochs = [await startEpoch()];
  const current = () => epochs.at(-1)!;
  const port = current().server.port;
  const proxy = await TcpProxy.start(port);
  const chat = connect(`ws://127.0.0.1:${proxy.port}/ws`, 'Alice', {
    WebSocket,
    backoff: { initialMs: 5, maxMs: 30 },
  });
  try {
    const alice = new Recorder(chat);
    await alice.untilState('online');
    const sends: Promise<ChatMessage>[] = [];
    // Checked at the end; handled now, so that one refused meanwhile is not an unhandled rejection.
    const send = (text: string) => {
      const sent = chat.send(text);
      sent.catch(() => {});
      sends.push(sent);
    };
    let cut = false;
    for (const [i, next] of steps.entries()) {
      const { bob, observer, heard } = current();
      if (next.type === 'aliceSendsCopyLost' && !cut) {
        const text = `alice ${i}, copy lost`;
        // Her copy is the first thing withheld: what the server sent her before it still arrives.
        proxy.stallFrom(text);
        send(text);
        heard.push(...(await observer.framesUntil((frame) => frame.text === text, 5_000, text)));
        cut = true;
        await proxy.cut();
        await alice.untilState('reconnecting');
      } else if (next.type === 'aliceSends' || next.type === 'aliceSendsCopyLost') {
        send(`alice ${i}`);
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
      } else if (next.type === 'restart') {
        await fence(current(), `before restart ${i}`);
        if (!cut) await proxy.cut();
        await alice.untilState('reconnecting');
        await current().server.close();
        // The observer and Bob are back before Alice, so that they hear her join.
        epochs.push(await startEpoch(port));
        const registrations = alice.of('welcome').filter((welcome) => !welcome.resumed).length;
        await proxy.mend();
        cut = false;
        await alice.until(
          () => alice.of('welcome').filter((welcome) => !welcome.resumed).length > registrations,
          'Alice registered again after the restart',
        );
      }
    }
    if (cut) await proxy.mend();

    const outcomes = await withTimeout(Promise.allSettled(sends), 5_000, "every one of Alice's sends");
    await fence(current(), 'the end');
    const end = String(current().heard.at(-1)!.id);
    await alice.until(
      () =>
        alice
          .shownByRegistration()
          .at(-1)!
          .some((shown) => shown.id === end),
      "Bob's last message",
      5_000,
    );

    // Each registration's stream: the observer's of that server from her join on; all of it on the last.
    const shown = alice.shownByRegistration();
    expect(shown).toHaveLength(epochs.length);
    epochs.forEach((epoch, n) => {
      const expected = afterAliceJoined(epoch.heard);
      expect(shown[n]).toEqual(n === epochs.length - 1 ? expected : expected.slice(0, shown[n]!.length));
    });
    expect(alice.of('gap')).toEqual(epochs.slice(1).map(() => ({ reason: 'session_lost' })));

    // Each message of Alice's reached the others at most once; a confirmed one at its copy's id.
    const fromAlice = epochs.flatMap((epoch, n) =>
      epoch.heard
        .filter((frame) => frame.type === 'message' && frame.sender === 'Alice')
        .map((frame) => ({ text: String(frame.text), id: String(frame.id), epoch: n })),
    );
    expect(new Set(fromAlice.map((m) => m.text)).size).toBe(fromAlice.length);
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') {
        expect(fromAlice.filter((m) => m.text === outcome.value.text).map((m) => m.id)).toEqual([outcome.value.id]);
      } else {
        // Only a lost session leaves a message's fate unknown.
        expect(epochs.length).toBeGreaterThan(1);
        expect(outcome.reason).toMatchObject({ code: 'outcome_unknown' });
      }
    }
    expect(proxy.peakOpen).toBe(1);
  } finally {
    chat.close();
    await proxy.cut();
    await current().server.close();
  }
}

describe('the client under random cuts and restarts (property)', () => {
  it('shows the server order exactly and delivers every send at most once, whatever the schedule', async () => {
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 4, maxLength: 16, size: 'max' }), runSchedule), {
      numRuns: 20,
    });
  }, 60_000);
});
