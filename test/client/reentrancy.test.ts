/**
 * The client when an app's listener calls back into it, or throws, in the middle of one of
 * its steps; over real sockets. After close() returns nothing more may come: no event but
 * the ones close itself emits, no timer left to keep a process alive.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { connect, type ChatClientOptions } from '../../client/index.js';
import type { Timers } from '../../client/host.js';
import { Recorder, scriptedWelcome, type Recorded } from '../support/client-recorder.js';
import { TcpProxy } from '../support/cluster.js';
import { serverPerTest } from '../support/test-server.js';

const start = serverPerTest();
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function client(url: string, name: string, options: ChatClientOptions = {}): Recorder {
  const chat = connect(url, name, { WebSocket, backoff: { initialMs: 20, maxMs: 100 }, ...options });
  cleanup.push(() => chat.close());
  return new Recorder(chat);
}

/** The host's timers, counting those set and neither fired nor cleared yet. */
function countedTimers(): Timers & { readonly pending: number } {
  const live = new Set<unknown>();
  return {
    get pending() {
      return live.size;
    },
    setTimeout(callback, ms) {
      const handle = setTimeout(() => {
        live.delete(handle);
        callback();
      }, ms);
      live.add(handle);
      return handle;
    },
    clearTimeout(handle) {
      live.delete(handle);
      clearTimeout(handle as ReturnType<typeof setTimeout>);
    },
  };
}

/** What the log holds after the `state: closed` event. */
function afterClosed(log: Recorded[]): Recorded[] {
  const at = log.findIndex((entry) => entry.type === 'state' && entry.event.state === 'closed');
  expect(at).toBeGreaterThanOrEqual(0);
  return log.slice(at + 1);
}

/**
 * A server that welcomes every registration, then closes with 4001 (cluster mode: the name
 * was given up in an outage), which loses the session: the client emits `gap` on its way
 * to `reconnecting`.
 */
async function nameLosingServer(): Promise<string> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  server.on('connection', (socket) => {
    socket.once('message', () => {
      socket.send(JSON.stringify({ ...scriptedWelcome, id: '1', ts: 1 }));
      socket.close(4001);
    });
  });
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
}

describe('a listener that closes the client', () => {
  it('from a gap on the way to reconnecting: nothing follows the closed state and no retry timer runs', async () => {
    const timers = countedTimers();
    const alice = client(await nameLosingServer(), 'Alice', { timers });
    alice.client.on('gap', () => alice.client.close());
    await alice.untilState('closed');

    expect(alice.of('gap')).toEqual([{ reason: 'session_lost' }]);
    expect(afterClosed(alice.log)).toEqual([]);
    expect(alice.client.state).toBe('closed');
    expect(timers.pending).toBe(0);
  });

  it('from the state event entering online: no welcome, and no stale online, follows the closed state', async () => {
    const server = await start();
    const alice = client(server.url, 'Alice');
    alice.client.on('state', ({ state }) => {
      if (state === 'online') alice.client.close();
    });
    // A listener after the one that closes: it must not hear `online` once `closed` is out.
    const heardLater: string[] = [];
    alice.client.on('state', ({ state }) => heardLater.push(state));
    await alice.untilState('closed');

    expect(afterClosed(alice.log)).toEqual([]);
    expect(heardLater).toEqual(['registering', 'closed']);
  });

  it('from the message event showing its own copy: that send resolves with the copy', async () => {
    const server = await start();
    const alice = client(server.url, 'Alice');
    await alice.untilState('online');
    alice.client.on('message', (message) => {
      if (message.own) alice.client.close();
    });
    const copy = await alice.client.send('the last word');

    expect(copy).toMatchObject({ text: 'the last word', own: true });
    expect(alice.of('message')).toEqual([copy]);
    expect(afterClosed(alice.log)).toEqual([]);
  });
});

describe('a listener that throws', () => {
  it('is reported on `error` as listener_failed; the other listeners still hear every event and the client goes on', async () => {
    const server = await start();
    const alice = client(server.url, 'Alice');
    const bug = new Error('a bug in the app');
    alice.client.on('message', () => {
      throw bug;
    });
    const heardAfter: string[] = [];
    alice.client.on('message', (message) => heardAfter.push(message.text));
    await alice.untilState('online');

    const copies = [await alice.client.send('one'), await alice.client.send('two')];

    expect(copies.map((copy) => copy.text)).toEqual(['one', 'two']);
    expect(heardAfter).toEqual(['one', 'two']);
    expect(alice.of('error').map((error) => [error.code, error.cause])).toEqual([
      ['listener_failed', bug],
      ['listener_failed', bug],
    ]);
    expect(alice.client.state).toBe('online');
  });
});

/** `ws`'s WebSocket without terminate(), as a browser's: an abandoned attempt can only close(4000). */
class BrowserLikeWebSocket extends WebSocket {
  declare terminate: never;
  constructor(url: string) {
    super(url);
    Object.defineProperty(this, 'terminate', { value: undefined });
  }
}

describe('an abandoned attempt where the WebSocket has no terminate()', () => {
  it('on a peer that never answers the close, is given up on and the client tries again', async () => {
    const server = await start();
    const proxy = await TcpProxy.start(server.port);
    cleanup.push(() => proxy.cut());
    const alice = client(`ws://127.0.0.1:${proxy.port}/ws`, 'Alice', {
      WebSocket: BrowserLikeWebSocket,
      timeoutMs: 300,
    });
    await alice.untilState('registering');
    // Nothing from the server reaches the client any more on this connection: no welcome, no close.
    proxy.stall();

    // ws's own close timeout is 30 s; a browser's may be longer. Well before either, a new attempt:
    const states = () => alice.of('state').map((change) => change.state);
    await alice.until(() => states().lastIndexOf('registering') > 0, 'a second connection', 8_000);
    expect(states().slice(0, 4)).toEqual(['registering', 'reconnecting', 'connecting', 'registering']);
    expect(proxy.accepted).toHaveLength(2);
    // (The server had welcomed the first connection, and the 4000 keeps that session: the new
    // registration of the name may be refused. Not this test's matter.)
  });
});
