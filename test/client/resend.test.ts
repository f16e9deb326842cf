/**
 * A resend after a resume, in the one order the real server produces only when a cluster's
 * Redis fails at that moment: the replay brings the resent message's copy, then the resend
 * itself is answered with `server_unavailable` (a resend on another node goes through Redis).
 * A scripted server over a real socket plays that order exactly; the real server's resend
 * paths, where no error comes, are covered by reconnect.test.ts and the property test.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { connect } from '../../client/index.js';
import { Recorder, scriptedWelcome } from '../support/client-recorder.js';
import { withTimeout } from '../support/ws-client.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

type Received = { sender?: string; text?: string; session?: string; cid?: string };

/**
 * Connection 1 welcomes Alice, takes her first message and drops without its copy.
 * Connection 2 welcomes her back; to the resend it answers with the replay's copy, then at
 * once with `server_unavailable`; any later message gets its copy.
 */
async function failingResendServer(received: Received[], dropped: () => void): Promise<string> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  let connections = 0;
  let nextId = 2;
  server.on('connection', (socket) => {
    const connection = ++connections;
    socket.on('message', (data) => {
      const frame = JSON.parse((data as Buffer).toString()) as Received;
      received.push(frame);
      if (frame.cid === undefined) {
        const again = frame.session !== undefined;
        socket.send(
          JSON.stringify({ ...scriptedWelcome, ...(again ? { resumed: true, recovered: true } : { id: '1' }), ts: 1 }),
        );
      } else if (connection === 1) {
        nextId++; // it landed; its copy is lost with the connection
        socket.terminate();
        dropped();
      } else if (received.filter((each) => each.cid === frame.cid).length > 1) {
        const copy = { type: 'message', text: frame.text, id: '2', ts: 2, cid: frame.cid, replay: true };
        socket.send(JSON.stringify(copy));
        socket.send(JSON.stringify({ type: 'error', sender: 'Server', code: 'server_unavailable', text: 'Try again' }));
      } else {
        socket.send(JSON.stringify({ type: 'message', text: frame.text, id: String(nextId++), ts: 3, cid: frame.cid }));
      }
    });
  });
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
}

it('after a resume, an error answering the resend of a message the replay brought does not reject the next message', async () => {
  const received: Received[] = [];
  let drop: () => void = () => {};
  const gone = new Promise<void>((resolve) => (drop = resolve));
  const url = await failingResendServer(received, () => drop());
  const alice = new Recorder(connect(url, 'Alice', { WebSocket, backoff: { initialMs: 20, maxMs: 100 } }));
  cleanup.push(() => alice.client.close());
  await alice.untilState('online');

  const first = alice.client.send('first');
  await withTimeout(gone, 2_000, 'the connection dropped after the first message');
  const second = alice.client.send('second');

  const [firstCopy, secondCopy] = await withTimeout(Promise.all([first, second]), 2_000, 'both sends settled');
  expect(firstCopy).toMatchObject({ text: 'first', id: '2', replay: true });
  expect(secondCopy).toMatchObject({ text: 'second', id: '3', replay: false });
  expect(received.map((frame) => frame.text)).toEqual(['', 'first', '', 'first', 'second']);
  expect(alice.of('error')).toEqual([]);
  expect(alice.of('message').map((message) => message.text)).toEqual(['first', 'second']);
});

it('writes a message again, under its cid, when the server dropped it without an answer (a rate already told)', async () => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const received: Received[] = [];
  server.on('connection', (socket) => {
    socket.on('message', (data) => {
      const frame = JSON.parse((data as Buffer).toString()) as Received;
      received.push(frame);
      if (frame.cid === undefined) return socket.send(JSON.stringify({ ...scriptedWelcome, id: '1', ts: 1 }));
      // The first write is dropped over the rate, as the server does once it has said so.
      if (received.filter((each) => each.cid === frame.cid).length === 1) return;
      socket.send(JSON.stringify({ type: 'message', text: frame.text, id: '2', ts: 2, cid: frame.cid }));
    });
  });
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
  const alice = new Recorder(connect(url, 'Alice', { WebSocket }));
  cleanup.push(() => alice.client.close());
  await alice.untilState('online');

  const copy = await withTimeout(alice.client.send('dropped once'), 6_000, 'the send settled');
  expect(copy).toMatchObject({ text: 'dropped once', id: '2' });
  const writes = received.filter((frame) => frame.cid !== undefined);
  expect(writes).toHaveLength(2);
  expect(writes[1]!.cid).toBe(writes[0]!.cid);
  expect(alice.client.state).toBe('online');
});
