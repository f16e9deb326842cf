/**
 * The client library against a real server over real sockets, its connection running
 * through a TCP proxy that a test cuts (test/support/cluster.ts, TcpProxy): the server sees
 * a dropped connection, the client a reset, as when a phone changes network.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { connect, type ChatClientOptions, type ChatMessage } from '../../client/index.js';
import { Recorder, shownFrame, type Shown } from '../support/client-recorder.js';
import { TcpProxy } from '../support/cluster.js';
import { parseMetrics, sample } from '../support/metrics-text.js';
import { serverPerTest, startTestServer, type TestServer } from '../support/test-server.js';
import { DEFAULT_WAIT_MS, type Frame, type TestSocket } from '../support/ws-client.js';

const start = serverPerTest();
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** A proxy in front of `port`, cut and closed after the test. */
async function proxyTo(port: number): Promise<TcpProxy> {
  const proxy = await TcpProxy.start(port);
  cleanup.push(() => proxy.cut());
  return proxy;
}

/** A client through `proxy`, closed after the test; quick backoff so that tests stay short. */
function client(proxy: TcpProxy, name: string, options: ChatClientOptions = {}): Recorder {
  const chat = connect(`ws://127.0.0.1:${proxy.port}/ws`, name, {
    WebSocket,
    backoff: { initialMs: 20, maxMs: 100 },
    ...options,
  });
  cleanup.push(() => chat.close());
  return new Recorder(chat);
}

/**
 * `speaker` says each of `texts`, each confirmed by its own copy; returns their ids. Every
 * frame read on the way is added to `heard`.
 */
async function say(speaker: TestSocket, texts: string[], heard: Frame[] = []): Promise<string[]> {
  const ids: string[] = [];
  for (const text of texts) {
    speaker.send({ text });
    const frames = await speaker.framesUntil(
      (frame) => frame.type === 'message' && frame.text === text && !frame.sender,
    );
    heard.push(...frames);
    ids.push(String(frames.at(-1)!.id));
  }
  return ids;
}

/** What `observer` saw after `afterId`, up to and including the event at `untilId`. */
async function seenBy(observer: TestSocket, afterId: string, untilId: string): Promise<Shown[]> {
  const frames = await observer.framesUntil((frame) => frame.id === untilId, 5_000, `the event at ${untilId}`);
  return frames.flatMap((frame) => shownFrame(frame) ?? []).filter((shown) => Number(shown.id) > Number(afterId));
}

/** The server's own count of its WebSocket connections (its /metrics): accepted since it started, and open now. */
async function serverConnections(server: TestServer): Promise<{ opened: number; open: number }> {
  const samples = parseMetrics(await (await server.get('/metrics')).text());
  const opened = sample(samples, 'chat_connections_opened_total');
  let closed = 0;
  for (const [series, value] of samples) if (series.startsWith('chat_connections_closed_total{')) closed += value;
  return { opened, open: opened - closed };
}

/**
 * Scrapes until the server holds `open` connections: a close reaches the server a moment
 * after the client sees it, and /metrics has no event to wait on. Fails after a bounded wait.
 */
async function untilServerHolds(
  server: TestServer,
  open: number,
  what: string,
): Promise<{ opened: number; open: number }> {
  const deadline = performance.now() + DEFAULT_WAIT_MS;
  for (;;) {
    const seen = await serverConnections(server);
    if (seen.open === open) return seen;
    if (performance.now() > deadline)
      throw new Error(`the server holds ${seen.open} connections, not ${open}: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('the client over real sockets', () => {
  it('after a cut mid-stream shows exactly the server order, and a send made during the cut arrives once', async () => {
    const server = await start();
    const observer = await server.register('Observer');
    const bob = await server.register('Bob');
    const proxy = await proxyTo(server.port);
    const alice = client(proxy, 'Alice');
    await alice.untilState('online');
    const [aliceJoin] = (await observer.framesUntil((frame) => frame.type === 'join' && frame.name === 'Alice')).map(
      (frame) => String(frame.id),
    );

    const bobHeard: Frame[] = [];
    const before = await say(bob, ['one', 'two', 'three'], bobHeard);
    await alice.untilShown(before.at(-1)!);
    await proxy.cut();
    await alice.until((log) => log.some((e) => e.type === 'state' && e.event.state === 'reconnecting'), 'the loss');
    // The server let go of Alice's connection: it holds Observer's and Bob's only.
    const afterLoss = await untilServerHolds(server, 2, "Alice's lost connection closed");
    await say(bob, ['four', 'five'], bobHeard);
    const sent = alice.client.send('from Alice, sent while cut off');
    const carol = await server.register('Carol');
    carol.close();
    await proxy.mend();
    const copy: ChatMessage = await sent;
    const last = await say(bob, ['six'], bobHeard);

    await alice.untilShown(last[0]!);
    expect(alice.shown()).toEqual(await seenBy(observer, aliceJoin!, last[0]!));
    expect(copy).toMatchObject({ text: 'from Alice, sent while cut off', own: true, sender: 'Alice' });
    expect(alice.of('message').filter((m) => m.cid === copy.cid)).toHaveLength(1);
    expect(alice.of('welcome').map((w) => [w.resumed, w.recovered])).toEqual([
      [false, undefined],
      [true, true],
    ]);
    expect(alice.of('gap')).toEqual([]);
    expect(
      alice
        .of('message')
        .filter((m) => m.replay)
        .map((m) => m.text),
    ).toEqual(['four', 'five']);
    // Bob got Alice's message once: before his own "six", and nothing after it.
    await bob.expectQuiet();
    expect(bobHeard.filter((frame) => frame.text === copy.text)).toMatchObject([{ sender: 'Alice' }]);
    expect(proxy.peakOpen).toBe(1);
    // On the server's side too: after it let go of her first connection it accepted one more
    // of hers (and Carol's), and holds Observer's, Bob's and that one: never two of hers at once.
    const atEnd = await untilServerHolds(server, 3, "Observer's, Bob's and Alice's");
    expect(atEnd.opened - afterLoss.opened).toBe(2);
    expect(proxy.accepted).toHaveLength(2);
  });

  it('after a server restart registers the same name again and says what was lost', async () => {
    const first: TestServer = await startTestServer();
    cleanup.push(() => first.close().catch(() => {}));
    const proxy = await proxyTo(first.port);
    const alice = client(proxy, 'Alice');
    await alice.untilState('online');
    const seenBefore = alice.log.length;

    await first.close();
    await alice.untilState('reconnecting');
    // Why it is reconnecting: the server said it was stopping.
    expect(alice.of('state').at(-1)).toEqual({ state: 'reconnecting', previous: 'online', closeCode: 1001 });
    // Cut off until Bob is in, so that he is there to receive what Alice queued.
    await proxy.cut();
    const queued = alice.client.send('said while the server was down');
    const second = await start({ port: first.port });
    const bob = await second.register('Bob');
    await proxy.mend();

    const copy = await queued;
    expect(copy.text).toBe('said while the server was down');
    const after = alice.log.slice(seenBefore).filter((entry) => entry.type !== 'state' && entry.type !== 'message');
    expect(after.map((entry) => (entry.type === 'error' ? `error ${entry.event.code}` : entry.type))).toEqual([
      'error session_expired',
      'gap',
      'welcome',
    ]);
    expect(alice.of('gap')).toEqual([{ reason: 'session_lost' }]);
    expect(alice.of('welcome').at(-1)).toMatchObject({ name: 'Alice', resumed: false });
    expect(alice.client.users).toEqual(['Bob', 'Alice']);
    expect(alice.client.state).toBe('online');
    const bobSaw = await bob.framesUntil((frame) => frame.type === 'message');
    expect(bobSaw).toMatchObject([
      { type: 'join', name: 'Alice' },
      { type: 'message', sender: 'Alice', text: 'said while the server was down' },
    ]);
    await bob.expectQuiet();
  });

  it('after a cut longer than the history holds resumes its name and reports the gap once', async () => {
    const server = await start({ historySize: 2 });
    const bob = await server.register('Bob');
    const proxy = await proxyTo(server.port);
    const alice = client(proxy, 'Alice');
    await alice.untilState('online');
    const [seen] = await say(bob, ['seen']);
    await alice.untilShown(seen!);
    await proxy.cut();
    await alice.untilState('reconnecting');
    // Three while she is away, and the server keeps only the last two: her place is gone.
    await say(bob, ['lost one', 'lost two', 'lost three']);
    await proxy.mend();
    await alice.until(() => alice.of('welcome').length === 2, 'the welcome of the resume');
    const [live] = await say(bob, ['live']);
    await alice.untilShown(live!);

    expect(alice.of('welcome').map((w) => [w.name, w.resumed, w.recovered])).toEqual([
      ['Alice', false, undefined],
      ['Alice', true, false],
    ]);
    expect(alice.of('gap')).toEqual([{ reason: 'not_recovered' }]);
    // The gap comes right after the welcome that tells of it, before anything shown after.
    const afterResume = alice.log.slice(alice.log.findIndex((e) => e.type === 'welcome' && e.event.resumed));
    expect(afterResume.filter((e) => e.type !== 'state')[1]).toEqual({
      type: 'gap',
      event: { reason: 'not_recovered' },
    });
    expect(alice.client.name).toBe('Alice');
    expect(alice.of('message').at(-1)).toMatchObject({ text: 'live', sender: 'Bob', replay: false });
    expect(alice.client.state).toBe('online');
  });

  it('reports a name taken while its session expired, and stops', async () => {
    const server = await start({ resumeWindowMs: 100 });
    const observer = await server.register('Observer');
    const proxy = await proxyTo(server.port);
    const alice = client(proxy, 'Alice');
    await alice.untilState('online');
    await proxy.cut();
    await observer.framesUntil((frame) => frame.type === 'leave' && frame.name === 'Alice', 5_000, "Alice's leave");
    await server.register('alice');
    const waiting = alice.client.send('never sent');
    await proxy.mend();

    await alice.untilState('closed');
    await expect(waiting).rejects.toMatchObject({ code: 'closed' });
    expect(alice.of('error').map((error) => error.code)).toEqual(['session_expired', 'name_taken']);
    expect(alice.of('state').at(-1)).toMatchObject({
      state: 'closed',
      error: { code: 'name_taken', message: 'Username already taken' },
    });
  });

  it('whose welcome was lost keeps trying the name its lost attempt may hold, and gets it once that session ends', async () => {
    const server = await start({ resumeWindowMs: 1_000 });
    const observer = await server.register('Observer');
    const proxy = await proxyTo(server.port);
    const alice = client(proxy, 'Alice', { timeoutMs: 300 });
    await alice.untilState('registering');
    // The server grants the name; its welcome never arrives, so the attempt is given up.
    proxy.stallFrom('"type":"welcome"');
    await observer.framesUntil((frame) => frame.type === 'join' && frame.name === 'Alice', 2_000, "Alice's join");

    // The lost attempt's session holds the name for its window: name_taken until it ends.
    await alice.untilState('online', 8_000);
    expect(alice.client.name).toBe('Alice');
    expect(alice.of('error')).toEqual([]);
    expect(alice.of('welcome')).toEqual([expect.objectContaining({ name: 'Alice', resumed: false })]);
    expect(proxy.accepted.length).toBeGreaterThanOrEqual(3);
    expect(proxy.peakOpen).toBe(1);
    const states = alice.of('state').map((change) => change.state);
    expect(states).not.toContain('closed');
  });

  it('still stops on name_taken when no attempt of its went unanswered', async () => {
    const server = await start();
    await server.register('Alice');
    const proxy = await proxyTo(server.port);
    const alice = client(proxy, 'alice');
    await alice.untilState('closed');
    expect(alice.of('state').at(-1)).toMatchObject({ state: 'closed', error: { code: 'name_taken' } });
    expect(proxy.accepted).toHaveLength(1);
  });

  it('tries again later when its address holds as many names as it may, and gets in once one is free', async () => {
    const server = await start({ addressMaxNames: 1 });
    const first = await server.register('First');
    const proxy = await proxyTo(server.port);
    const alice = client(proxy, 'Alice');
    await alice.until((log) => log.some((r) => r.type === 'error'), 'a refusal');
    expect(alice.of('error')[0]).toMatchObject({ code: 'too_many_names' });
    expect(alice.client.state).not.toBe('closed');
    first.close(1000);
    await alice.untilState('online');
  });

  it('retries at once, then within the backoff bounds, and never holds two sockets', async () => {
    const down: TestServer = await startTestServer();
    const proxy = await proxyTo(down.port);
    // The top of each range, so that every wait is known: 0, then 200, 400 and the cap, 400 (ms).
    // The first backoff is long enough that a retry at once cannot be mistaken for it.
    const alice = client(proxy, 'Alice', { backoff: { initialMs: 200, maxMs: 400 }, random: () => 0.9999 });
    await alice.untilState('online');
    expect(await serverConnections(down)).toEqual({ opened: 1, open: 1 });
    // When each connection was lost, as the client saw it: each wait runs from a loss to the next attempt.
    const lostAt: number[] = [];
    alice.client.on('state', ({ state }) => {
      if (state === 'reconnecting') lostAt.push(performance.now());
    });
    await down.close();
    const attempts = 6; // the first connection, then five after the loss
    await alice.until(() => proxy.accepted.length >= attempts, `${attempts} connection attempts`, 5_000);
    // Back up: the server accepts one connection of hers, and holds only that one.
    const up = await start({ port: down.port });
    await alice.until(() => alice.of('welcome').length === 2, 'the welcome from the server back up');
    expect(await untilServerHolds(up, 1, "Alice's")).toEqual({ opened: 1, open: 1 });
    alice.client.close();

    const retries = proxy.accepted.slice(1, attempts).map((at, i) => at - lostAt[i]!);
    const [first, ...later] = retries;
    // At once: far below the first backoff's 199 ms, even on a busy machine.
    expect(first).toBeLessThan(100);
    const waits = [199, 399, 399, 399]; // without the cap the last two would be 799 and 1599
    expect(later).toHaveLength(waits.length);
    later.forEach((gap, i) => {
      // Never early (timers may round down by a millisecond); late by at most scheduling noise
      // on a busy machine, which is still far below what a missing cap would add.
      expect(gap).toBeGreaterThanOrEqual(waits[i]! - 2);
      expect(gap).toBeLessThan(waits[i]! + 250);
    });
    expect(proxy.peakOpen).toBe(1);
  });

  it('drops an attempt that is never welcomed, and only then opens the next socket', async () => {
    // A server that accepts TCP and never answers the upgrade: every attempt hangs.
    const held = new Set<Socket>();
    const hole = createServer((socket) => {
      held.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => held.delete(socket));
    });
    hole.listen(0, '127.0.0.1');
    await once(hole, 'listening');
    cleanup.push(() => {
      for (const socket of held) socket.destroy();
      hole.close();
    });
    // Counted where the client stands: a socket is live from its construction to its close event.
    let live = 0;
    let peak = 0;
    let made = 0;
    class CountedWebSocket extends WebSocket {
      constructor(url: string) {
        super(url);
        made++;
        peak = Math.max(peak, ++live);
        this.once('close', () => live--);
      }
    }
    const chat = connect(`ws://127.0.0.1:${(hole.address() as AddressInfo).port}/ws`, 'Alice', {
      WebSocket: CountedWebSocket,
      timeoutMs: 50,
      backoff: { initialMs: 10, maxMs: 20 },
    });
    cleanup.push(() => chat.close());
    const alice = new Recorder(chat);
    await alice.until(() => made >= 4, 'four attempts');
    expect(peak).toBe(1);
    expect(
      alice
        .of('state')
        .slice(0, 4)
        .map((change) => change.state),
    ).toEqual(['reconnecting', 'connecting', 'reconnecting', 'connecting']);
  });

  it('rejects the send the server refused, and sends the next ones', async () => {
    const server = await start({ rateBurst: 2, ratePerSec: 5 });
    const proxy = await proxyTo(server.port);
    const alice = client(proxy, 'Alice');
    const sends = ['one', '   ', 'two', 'three', 'four'].map((text) => alice.client.send(text));
    const outcomes = await Promise.allSettled(sends);
    expect(
      outcomes.map((o) => (o.status === 'fulfilled' ? o.value.text : (o.reason as { code: string }).code)),
    ).toEqual([
      'one',
      'invalid_message', // a bad frame takes a token too: 'two' is the third of a burst of 2
      'rate_limited',
      'three',
      'four',
    ]);
  });

  it('stops on a close for a broken rule, with the code and the rule the server named', async () => {
    const server = await start();
    const proxy = await proxyTo(server.port);
    /** A broken client: each message goes out as ten frames that are not JSON; the tenth bad frame closes. */
    class Garbling extends WebSocket {
      override send(data: unknown): void {
        if (typeof data === 'string' && data.includes('"cid"')) for (let i = 0; i < 10; i++) super.send('not json');
        else super.send(data as string);
      }
    }
    const mallory = client(proxy, 'Mallory', { WebSocket: Garbling });
    await mallory.untilState('online');
    const sent = mallory.client.send('anything');
    await expect(sent).rejects.toMatchObject({ code: 'closed' });
    await mallory.untilState('closed');
    const closing = mallory.of('state').at(-1)!;
    expect(closing.error).toMatchObject({ code: 'rejected', closeCode: 1008, closeReason: 'too many bad frames' });
    expect(proxy.accepted, 'no retry').toHaveLength(1);
  });

  it('keeps at most outboxLimit messages while offline, and rejects the rest on close', async () => {
    const server = await start();
    const proxy = await proxyTo(server.port);
    const alice = client(proxy, 'Alice', { outboxLimit: 2 });
    await alice.untilState('online');
    await proxy.cut();
    await alice.untilState('reconnecting');
    const kept = [alice.client.send('a'), alice.client.send('b')];
    await expect(alice.client.send('c')).rejects.toMatchObject({ code: 'outbox_full' });
    alice.client.close();
    for (const send of kept) await expect(send).rejects.toMatchObject({ code: 'closed' });
    await expect(alice.client.send('d')).rejects.toMatchObject({ code: 'closed' });
    await expect(alice.client.send(42 as unknown as string)).rejects.toThrow(TypeError);
  });

  it('shows history on arrival as replays before live events, and after them only what is new', async () => {
    const server = await start();
    const bob = await server.register('Bob');
    await say(bob, ['old one', 'old two', 'old three']);
    const proxy = await proxyTo(server.port);
    const alice = client(proxy, 'Alice', { history: 2 });
    await alice.untilState('online');
    const [live] = await say(bob, ['new']);
    await alice.untilShown(live!);
    expect(alice.of('message').map((m) => [m.text, m.replay])).toEqual([
      ['old two', true],
      ['old three', true],
      ['new', false],
    ]);
    expect(alice.client.users).toEqual(['Bob', 'Alice']);
  });
});
