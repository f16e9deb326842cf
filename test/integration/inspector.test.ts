/**
 * --inspect (SPEC §6): a real connection's and its session's actor, event and snapshot
 * records reach a listener on the relay, which is bound to INSPECT_HOST only, without chat
 * text and without a session's secret; with the flag off nothing is started and the hub
 * gets no inspect option.
 */
import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createActor, emit, setup, type InspectionEvent } from 'xstate';
import { inspectOption, redactEvent, reportedOnly } from '../../src/inspector.js';
import { LogCapture } from '../support/log-capture.js';
import { registerForSession, resumeSession } from '../support/session-client.js';
import { upgradeHead, upgradeStatus } from '../support/raw-client.js';
import { DEFAULT_WAIT_MS, withTimeout } from '../support/ws-client.js';
import { serverPerTest } from '../support/test-server.js';

const start = serverPerTest();

type StateValue = string | { [key: string]: StateValue };

type InspectionRecord = {
  type: string;
  name?: string;
  sessionId: string;
  parentId?: string;
  event?: { type: string; [key: string]: unknown };
  snapshot?: { status?: string; value?: StateValue };
};

/** A browser's side of the relay, reduced to a list of the records it was sent. */
class RecordListener {
  readonly records: InspectionRecord[] = [];
  readonly raw: string[] = [];
  private wake: () => void = () => {};

  private constructor(readonly ws: WebSocket) {
    // The relay sends text frames, which ws hands over as one Buffer.
    ws.on('message', (data: Buffer) => {
      const text = data.toString('utf8');
      this.raw.push(text);
      this.records.push(JSON.parse(text) as InspectionRecord);
      this.wake();
    });
  }

  /** Listens from the first frame: the relay's replay can arrive together with the handshake. */
  static async open(url: string): Promise<RecordListener> {
    const listener = new RecordListener(new WebSocket(url));
    const opened = new Promise(
      (resolve, reject) => (listener.ws.once('open', resolve), listener.ws.once('error', reject)),
    );
    await withTimeout(opened, DEFAULT_WAIT_MS, `a connection to ${url}`);
    return listener;
  }

  /** The first record (old or new) that matches, within a bounded wait. */
  async waitFor(what: string, matches: (record: InspectionRecord) => boolean): Promise<InspectionRecord> {
    return (await this.waitForAll(what, 1, matches))[0]!;
  }

  /** The first `count` records (old or new) that match, within a bounded wait. */
  async waitForAll(
    what: string,
    count: number,
    matches: (record: InspectionRecord) => boolean,
  ): Promise<InspectionRecord[]> {
    const arrived = new Promise<InspectionRecord[]>((resolve) => {
      this.wake = () => {
        const found = this.records.filter(matches);
        if (found.length >= count) resolve(found.slice(0, count));
      };
      this.wake();
    });
    return withTimeout(arrived, DEFAULT_WAIT_MS, `${count} inspection record(s): ${what}`);
  }
}

function relaySocketUrl(pageUrl: string | null): string {
  expect(pageUrl).not.toBeNull();
  return pageUrl!.replace(/^http/, 'ws');
}

/** A port nothing listens on at the moment. */
async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => probe.once('listening', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

function connectError(url: string): Promise<string> {
  return withTimeout(
    new Promise<string>((resolve) => {
      const ws = new WebSocket(url);
      ws.once('open', () => (ws.terminate(), resolve('open')));
      ws.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    }),
    DEFAULT_WAIT_MS,
    `a connection attempt to ${url}`,
  );
}

describe('Stately inspector (--inspect)', () => {
  it("relays a real connection's and its session's actors, events and snapshots, without chat text", async () => {
    const server = await start({ inspect: true, inspectPort: 0, inspectHost: '127.0.0.1' });
    expect(server.inspectorUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const listener = await RecordListener.open(relaySocketUrl(server.inspectorUrl));
    // Opened after the hub started: the relay replays the actors alive at that moment.
    await listener.waitFor('the hub actor', (r) => r.type === '@xstate.actor' && r.name === 'hub');

    const alice = await server.register('Alice');
    alice.send({ text: 'secret words' });
    await alice.nextFrame();
    const actor = await listener.waitFor(
      "Alice's connection actor",
      (r) => r.type === '@xstate.actor' && r.name === 'c1',
    );
    const ofAlice = (r: InspectionRecord) => r.sessionId === actor.sessionId;
    await listener.waitFor(
      'her name claim',
      (r) => ofAlice(r) && r.type === '@xstate.event' && r.event?.type === 'client.frame' && r.event.sender === 'Alice',
    );
    const isSnapshot = (r: InspectionRecord, value: StateValue, status = 'active') =>
      ofAlice(r) &&
      r.type === '@xstate.snapshot' &&
      JSON.stringify(r.snapshot?.value) === JSON.stringify(value) &&
      r.snapshot?.status === status;
    await listener.waitFor('her claiming snapshot', (r) => isSnapshot(r, { open: { awaitingName: 'claiming' } }));
    await listener.waitFor('her registered snapshot', (r) => isSnapshot(r, { open: 'registered' }));
    const said = await listener.waitFor(
      'her message',
      (r) =>
        ofAlice(r) && r.type === '@xstate.event' && r.event?.type === 'client.frame' && r.event.sender === undefined,
    );
    expect(said.event?.text).toBe('‹12 characters›');

    // The name granted, the hub started her session. Like her connection it sits under a
    // group of the hub's actors (machines/owned-actors.ts), which the inspector shows as its parent.
    const group = (name: string) =>
      listener.waitFor(`the group ${name}`, (r) => r.type === '@xstate.actor' && r.name === name);
    const session = await listener.waitFor(
      "Alice's session actor",
      (r) => r.type === '@xstate.actor' && r.name?.startsWith('session:') === true,
    );
    expect(session.parentId).toBe((await group('sessions#1')).sessionId);
    expect(actor.parentId).toBe((await group('connections#1')).sessionId);
    const isSessionSnapshot = (r: InspectionRecord, value: string, status = 'active') =>
      r.sessionId === session.sessionId &&
      r.type === '@xstate.snapshot' &&
      r.snapshot?.value === value &&
      r.snapshot.status === status;
    await listener.waitFor('her session attached', (r) => isSessionSnapshot(r, 'attached'));

    alice.close(1000); // her own clean close: it ends her session too
    await listener.waitFor('her closed snapshot', (r) => isSnapshot(r, 'closed'));
    await listener.waitFor('her actor stopped by the hub', (r) => isSnapshot(r, 'closed', 'stopped'));
    await listener.waitFor('her session ended', (r) => isSessionSnapshot(r, 'ended'));
    await listener.waitFor('her session stopped by the hub', (r) => isSessionSnapshot(r, 'ended', 'stopped'));
    expect(listener.raw.join('\n')).not.toContain('secret words');
    listener.ws.terminate();

    // A viewer that comes later is told of the live actors only: Alice's and her session are gone.
    const late = await RecordListener.open(relaySocketUrl(server.inspectorUrl));
    await server.register('Bob'); // a fence: the replay was sent before Bob's records
    await late.waitFor("Bob's connection actor", (r) => r.type === '@xstate.actor' && r.name === 'c2');
    await late.waitFor(
      "Bob's session actor",
      (r) => r.type === '@xstate.actor' && r.name?.startsWith('session:') === true,
    );
    const actors = late.records.filter((r) => r.type === '@xstate.actor').map((r) => r.name ?? '');
    expect(actors.map((name) => (name.startsWith('session:') ? 'session:…' : name))).toEqual([
      'hub',
      'registry',
      'bus',
      'connections#1',
      'sessions#1',
      'c2',
      'session:…',
    ]);
    expect(late.records.some(ofAlice)).toBe(false);
    expect(late.records.some((r) => r.sessionId === session.sessionId)).toBe(false);
    late.ws.terminate();
  });

  it("never relays or logs a session's secret: not on a resume, a take-over, nor a wrong guess", async () => {
    const logs = new LogCapture();
    const server = await start(
      { inspect: true, inspectPort: 0, inspectHost: '127.0.0.1' },
      { log: logs.logger('trace') },
    );
    const listener = await RecordListener.open(relaySocketUrl(server.inspectorUrl));
    const alice = await registerForSession(server, 'Alice');
    const guess = 'not-her-secret-but-one-like-it';
    // Every secret the server issues reaches the client; none of them may reach anything else.
    const seen = new Set([alice.secret]);

    alice.socket.terminate(); // a lost connection: her session waits for a resume
    const back = await resumeSession(server, alice.secret, { epoch: alice.epoch, since: '0' }, 'Alice again');
    expect(back.reply).toMatchObject({ type: 'welcome', name: 'Alice', resumed: true });
    seen.add(back.reply.session as string);
    const other = await resumeSession(server, alice.secret, {}, 'Alice elsewhere');
    expect(other.reply).toMatchObject({ type: 'welcome', resumed: true });
    seen.add(other.reply.session as string);
    expect(await back.socket.waitClose()).toMatchObject({ code: 4002 });
    const wrong = await resumeSession(server, guess, {}, 'a guesser');
    expect(wrong.reply).toMatchObject({ type: 'error', code: 'session_expired' });

    // Each resume reached the inspector, as the client sent it and as the hub heard it.
    const resumes = await listener.waitForAll(
      "the hub's three conn.resume events",
      3,
      (r) => r.type === '@xstate.event' && r.event?.type === 'conn.resume',
    );
    for (const record of resumes) expect(record.event?.secret).toBe('‹secret›');
    const frames = await listener.waitForAll(
      "the clients' three resume frames",
      3,
      (r) => r.type === '@xstate.event' && r.event?.type === 'client.frame' && r.event.session !== undefined,
    );
    for (const record of frames) expect(record.event?.session).toBe('‹secret›');
    // The last thing to report: the hub's snapshot after the wrong guess.
    await listener.waitFor(
      "the hub's snapshot after the guess",
      (r) =>
        r.type === '@xstate.snapshot' &&
        r.event?.type === 'conn.resume' &&
        r.event.id === resumes[2]!.event?.id &&
        r.snapshot !== undefined,
    );
    const relayed = listener.raw.join('\n');
    expect(logs.messages()).toEqual(expect.arrayContaining(['registered', 'resumed', 'left']));
    for (const secret of [...seen, guess]) {
      expect(relayed).not.toContain(secret);
      expect(logs.text()).not.toContain(secret);
    }
    listener.ws.terminate();
  });

  it('binds the relay to INSPECT_HOST only, and serves the bridge page there', async () => {
    const server = await start({ inspect: true, inspectPort: 0, inspectHost: '127.0.0.1' });
    const page = await fetch(server.inspectorUrl!, { signal: AbortSignal.timeout(DEFAULT_WAIT_MS) });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<iframe id="inspector" src="https://stately.ai/inspect"');
    // 127.0.0.2 is loopback too, but not the address the relay was told to use.
    const elsewhere = relaySocketUrl(server.inspectorUrl).replace('127.0.0.1', '127.0.0.2');
    expect(await connectError(elsewhere)).toBe('ECONNREFUSED');
  });

  // A DNS-rebinding page points its own name at the relay: the browser then lets it read
  // the relay as its own, and only Host (and Origin, for a page elsewhere) tell.
  it('answers only requests addressed to it directly, and WebSockets from its own page', async () => {
    const server = await start({ inspect: true, inspectPort: 0, inspectHost: '127.0.0.1' });
    const port = Number(new URL(server.inspectorUrl!).port);
    const page = (host: string) => upgradeStatus(port, ['GET / HTTP/1.1', `Host: ${host}`]);
    const socket = (headers: Record<string, string>) => upgradeStatus(port, upgradeHead(headers, 'GET / HTTP/1.1'));

    expect(await page(`127.0.0.1:${port}`)).toBe(200);
    expect(await page(`localhost:${port}`)).toBe(200);
    expect(await page(`evil.example:${port}`)).toBe(403);
    expect(await page(`127.0.0.1:${port + 1}`)).toBe(403);
    expect(await page('127.0.0.1')).toBe(403);

    const host = `127.0.0.1:${port}`;
    expect(await socket({ Host: host })).toBe(101);
    expect(await socket({ Host: host, Origin: `http://${host}` })).toBe(101);
    expect(await socket({ Host: `evil.example:${port}` })).toBe(403);
    expect(await socket({ Host: `evil.example:${port}`, Origin: `http://evil.example:${port}` })).toBe(403);
    expect(await socket({ Host: host, Origin: 'http://evil.example' })).toBe(403);
  });

  it('relays only what the server reports: a viewer cannot pose as the source', async () => {
    const server = await start({ inspect: true, inspectPort: 0, inspectHost: '127.0.0.1' });
    const intruder = await RecordListener.open(relaySocketUrl(server.inspectorUrl));
    const viewer = await RecordListener.open(relaySocketUrl(server.inspectorUrl));
    intruder.ws.send(JSON.stringify({ type: '@xstate.actor', name: 'forged', sessionId: 'forged' }));
    // The forged record was sent first; the real one takes a registration's round trip after it.
    await server.register('Bob');
    await viewer.waitFor("Bob's connection actor", (r) => r.type === '@xstate.actor' && r.name === 'c1');
    expect(viewer.records.some((r) => r.name === 'forged')).toBe(false);
    intruder.ws.terminate();
    viewer.ws.terminate();
  });

  it('starts nothing and passes no inspect option when off', async () => {
    expect(inspectOption(null)).toStrictEqual({});
    const port = await freePort();
    const server = await start({ inspect: false, inspectPort: port, inspectHost: '127.0.0.1' });
    expect(server.inspectorUrl).toBeNull();
    await server.register('Alice');
    expect(await connectError(`ws://127.0.0.1:${port}/`)).toBe('ECONNREFUSED');
  });

  it('stops start-up with a one-line message when the relay port is taken', async () => {
    const first = await start({ inspect: true, inspectPort: 0, inspectHost: '127.0.0.1' });
    const taken = Number(new URL(first.inspectorUrl!).port);
    await expect(start({ inspect: true, inspectPort: taken, inspectHost: '127.0.0.1' })).rejects.toThrow(
      /^INSPECT_PORT: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/,
    );
  });

  it('closes the relay it started when start-up then fails (the chat port is taken)', async () => {
    const first = await start();
    const relayPort = await freePort();
    await expect(
      start({ port: first.port, inspect: true, inspectPort: relayPort, inspectHost: '127.0.0.1' }),
    ).rejects.toThrow(/EADDRINUSE/);
    expect(await connectError(`ws://127.0.0.1:${relayPort}/`)).toBe('ECONNREFUSED');
  });
});

describe('redactEvent', () => {
  it('replaces chat text, and the text of a chat event carried inside, by its length', () => {
    expect(redactEvent({ type: 'client.frame', text: 'héllo', at: 1 })).toEqual({
      type: 'client.frame',
      text: '‹5 characters›',
      at: 1,
    });
    expect(redactEvent({ type: 'bus.delivered', seq: 2, event: { type: 'message', name: 'Ann', text: 'hi' } })).toEqual(
      {
        type: 'bus.delivered',
        seq: 2,
        event: { type: 'message', name: 'Ann', text: '‹2 characters›' },
      },
    );
    const untouched = { type: 'client.pong' };
    expect(redactEvent(untouched)).toBe(untouched);
  });

  it("hides a session's secret where events carry it, and leaves session ids be", () => {
    expect(redactEvent({ type: 'client.frame', session: 'S3CR3T', epoch: 'e1', since: '4', at: 1 })).toEqual({
      type: 'client.frame',
      session: '‹secret›',
      epoch: 'e1',
      since: '4',
      at: 1,
    });
    expect(redactEvent({ type: 'conn.resume', id: 'c2', secret: 'S3CR3T', epoch: 'e1' })).toEqual({
      type: 'conn.resume',
      id: 'c2',
      secret: '‹secret›',
      epoch: 'e1',
    });
    // Elsewhere `session` is a session's id, which is no secret and helps follow one.
    const ended = { type: 'session.ended', session: 's1', cause: 'expired' };
    expect(redactEvent(ended)).toBe(ended);
    const claim = { type: 'client.frame', sender: 'Ann', text: '', at: 1 };
    expect(redactEvent(claim)).toEqual({ ...claim, text: '‹0 characters›' });
  });
});

describe('reportedOnly', () => {
  it('passes on actors, events and snapshots, never actions, whose parameters hold emitted frames', () => {
    const welcoming = setup({ types: { emitted: {} as { type: 'frame'; frame: object } } }).createMachine({
      on: { hello: { actions: emit({ type: 'frame', frame: { type: 'welcome', session: 'S3CR3T' } }) } },
    });
    const everything: InspectionEvent[] = [];
    const passed: InspectionEvent[] = [];
    const reported = reportedOnly({ next: (event) => passed.push(event) });
    const actor = createActor(welcoming, {
      inspect: (event) => {
        everything.push(event);
        reported.next?.(event);
      },
    }).start();
    actor.send({ type: 'hello' });
    actor.stop();
    // Unfiltered, the emit action and its frame are there to be seen.
    const action = everything.find((event) => event.type === '@xstate.action');
    expect(JSON.stringify(action)).toContain('S3CR3T');
    const kept = new Set(['@xstate.actor', '@xstate.event', '@xstate.snapshot']);
    expect(passed).toEqual(everything.filter((event) => kept.has(event.type)));
    expect(passed.map((event) => event.type)).toEqual(expect.arrayContaining([...kept]));
  });
});
