/**
 * SPEC §8 over real sockets, one process: positions, sessions in the welcome, a lost
 * connection that keeps its name for RESUME_WINDOW_MS, resume with and without a replay,
 * take-over (4002), session_expired, history on arrival, cid exactly-once, and
 * RESUME_WINDOW_MS=0 behaving as §4 did.
 *
 * "Nobody saw a leave or a join" is checked with a fence, as in leaving.test.ts: a message
 * sent after the step must be the next frame the observer gets.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { error, join, leave, message, nameTaken } from '../support/expected.js';
import { serverPerTest, type TestServer } from '../support/test-server.js';
import { DEFAULT_WAIT_MS, withTimeout, type Frame, type TestSocket } from '../support/ws-client.js';

const start = serverPerTest();

interface Registered {
  socket: TestSocket;
  welcome: Frame;
  session: string;
  epoch: string;
}

/** Registers `name` and keeps the welcome, whose session and epoch a resume needs. */
async function registerKeeping(server: TestServer, name: string, extra: object = {}): Promise<Registered> {
  const socket = await server.connect({ label: name });
  socket.send({ sender: name, text: '', ...extra });
  const welcome = await socket.nextFrame(DEFAULT_WAIT_MS, `the welcome for ${name}`);
  expect(welcome.type).toBe('welcome');
  return { socket, welcome, session: welcome.session as string, epoch: welcome.epoch as string };
}

/** Opens a connection whose first frame resumes `session`, and returns it with its first answer. */
async function resume(server: TestServer, fields: object, label = 'resumer') {
  const socket = await server.connect({ label });
  socket.send({ sender: 'ignored', text: '', ...fields });
  return { socket, answer: await socket.nextFrame(DEFAULT_WAIT_MS, 'the answer to a resume') };
}

/** The next frames of `socket` are exactly `frames`; then a fence message from `fence` comes next. */
async function expectNothingBut(socket: TestSocket, fence: TestSocket, fenceText: string): Promise<void> {
  fence.send({ text: fenceText });
  expect(await socket.nextFrame()).toMatchObject({ type: 'message', text: fenceText });
}

describe('positions and sessions in the welcome (SPEC §8)', () => {
  it('numbers joins, messages and leaves in one growing sequence, each with a time', async () => {
    const server = await start();
    const alice = await server.register('Alice');
    const bob = await server.register('Bob');
    bob.send({ text: 'hi' });
    const carol = await server.register('Carol');
    carol.close();
    const frames = [];
    for (let i = 0; i < 4; i++) frames.push(await alice.nextFrame());
    expect(frames).toEqual([join('Bob'), message('Bob', 'hi'), join('Carol'), leave('Carol')]);
    const ids = frames.map((frame) => Number(frame.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(4);
    for (const frame of frames) expect(Math.abs((frame.ts as number) - Date.now())).toBeLessThan(60_000);
  });

  it('gives every welcome a secret of at least 128 bits of its own, and one epoch for the process', async () => {
    const server = await start();
    const alice = await registerKeeping(server, 'Alice');
    const bob = await registerKeeping(server, 'Bob');
    // 22 base64url characters hold 132 bits.
    expect(alice.session).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(bob.session).not.toBe(alice.session);
    expect(bob.epoch).toBe(alice.epoch);
  });
});

describe('a lost connection keeps its session (SPEC §8)', () => {
  it('keeps the name and tells nobody; a resume with since gets exactly what was missed, then live frames', async () => {
    const server = await start();
    const alice = await registerKeeping(server, 'Alice');
    const bob = await server.register('Bob');
    expect(await alice.socket.nextFrame()).toEqual(join('Bob'));
    bob.send({ text: 'before' });
    const before = await alice.socket.nextFrame();
    await bob.nextFrame(); // its own copy
    alice.socket.terminate();

    // The name stays taken, and Bob hears nothing of it.
    const other = await server.connect();
    other.send({ sender: 'alice', text: '' });
    expect(await other.nextFrame()).toEqual(nameTaken);
    bob.send({ text: 'missed 1' });
    expect(await bob.nextFrame()).toMatchObject({ type: 'message', text: 'missed 1' });
    bob.send({ text: 'missed 2' });
    expect(await bob.nextFrame()).toMatchObject({ type: 'message', text: 'missed 2' });

    const { socket: back, answer } = await resume(server, {
      session: alice.session,
      epoch: alice.epoch,
      since: before.id,
    });
    expect(answer).toMatchObject({
      type: 'welcome',
      name: 'Alice',
      session: alice.session,
      epoch: alice.epoch,
      resumed: true,
      recovered: true,
    });
    expect((answer.users as string[]).sort()).toEqual(['Alice', 'Bob']);
    expect(await back.nextFrame()).toEqual({ ...message('Bob', 'missed 1'), replay: true });
    expect(await back.nextFrame()).toEqual({ ...message('Bob', 'missed 2'), replay: true });
    bob.send({ text: 'live' });
    expect(await back.nextFrame()).toEqual(message('Bob', 'live'));
    expect(await bob.nextFrame()).toMatchObject({ type: 'message', text: 'live' });
    // Bob saw neither a leave nor a join of Alice.
    await expectNothingBut(bob, back, 'fence');
  });

  it('replays its own messages as it got them live (the echo, with its cid), and joins and leaves, not its own join', async () => {
    const server = await start();
    const alice = await registerKeeping(server, 'Alice');
    // The welcome stands for Alice's own join, and carries its position.
    expect(alice.welcome.id).toMatch(/^\d+$/);
    alice.socket.send({ text: 'mine', cid: 'a-1' });
    const own = await alice.socket.nextFrame();
    expect(own).toMatchObject({ type: 'message', text: 'mine', cid: 'a-1' });
    expect(own).not.toHaveProperty('sender');
    alice.socket.terminate();
    const bob = await server.register('Bob');
    const carol = await server.register('Carol');
    carol.close();
    expect(await bob.nextFrame()).toEqual(join('Carol'));
    expect(await bob.nextFrame()).toEqual(leave('Carol'));

    const { socket: back, answer } = await resume(server, { session: alice.session, epoch: alice.epoch, since: '0' });
    expect(answer).toMatchObject({ resumed: true, recovered: true });
    const replay = [await back.nextFrame(), await back.nextFrame(), await back.nextFrame(), await back.nextFrame()];
    expect(replay).toEqual([
      { type: 'message', text: 'mine', cid: 'a-1', id: own.id, ts: own.ts, replay: true },
      { ...join('Bob'), replay: true },
      { ...join('Carol'), replay: true },
      { ...leave('Carol'), replay: true },
    ]);
    expect(Number(own.id)).toBeGreaterThan(Number(alice.welcome.id));
    await expectNothingBut(back, bob, 'after the replay');
  });

  it('resumes without a replay when since is left out, or the epoch is another (recovered:false)', async () => {
    const server = await start();
    const alice = await registerKeeping(server, 'Alice');
    const bob = await server.register('Bob');
    await alice.socket.nextFrame();
    alice.socket.terminate();
    bob.send({ text: 'missed' });
    await bob.nextFrame();

    const first = await resume(server, { session: alice.session });
    expect(first.answer).toMatchObject({ type: 'welcome', name: 'Alice', resumed: true, recovered: false });
    await expectNothingBut(first.socket, bob, 'fence 1');
    first.socket.terminate();

    const second = await resume(server, { session: alice.session, epoch: 'another', since: '1' });
    expect(second.answer).toMatchObject({ resumed: true, recovered: false });
    await expectNothingBut(second.socket, bob, 'fence 2');
  });

  /**
   * Alice registers, then loses her connection while Bob says each of `texts`, one at a
   * time (a burst of copies could end Bob as slow, as it should). `resumeAlice` resumes
   * her from the last frame she read, Bob's join.
   */
  async function aliceMisses(server: TestServer, texts: string[]) {
    const alice = await registerKeeping(server, 'Alice');
    const bob = await server.register('Bob');
    const joined = await alice.socket.nextFrame();
    alice.socket.terminate();
    for (const text of texts) {
      bob.send({ text });
      await bob.nextFrame();
    }
    const resumeAlice = () => resume(server, { session: alice.session, epoch: alice.epoch, since: joined.id });
    return { bob, resumeAlice };
  }

  it('says recovered:false when history no longer reaches back to since (HISTORY_SIZE)', async () => {
    const server = await start({ historySize: 2 });
    const { bob, resumeAlice } = await aliceMisses(server, ['1', '2', '3']);
    const { socket: back, answer } = await resumeAlice();
    expect(answer).toMatchObject({ resumed: true, recovered: false });
    await expectNothingBut(back, bob, 'fence');
  });

  // The replay is the server's choice, not the client's slowness: were it counted against
  // MAX_BUFFERED_BYTES, the client would be ended as slow and resume into the same replay.
  it('replays more than MAX_BUFFERED_BYTES whole, without ending the client as slow', async () => {
    const count = 400;
    const server = await start({
      maxBufferedBytes: 64 * 1024,
      historySize: count,
      historyBytes: 64 * 1024 * 1024,
      rateBurst: count,
      addressRateBurst: 0, // the flood is the point; all of it from 127.0.0.1
    });
    // 4,096 emoji are 16 KiB: the replay is some 6.5 MB, more than the kernel buffers on loopback.
    const text = '😀'.repeat(4096);
    const { bob, resumeAlice } = await aliceMisses(server, Array<string>(count).fill(text));
    const { socket: back, answer } = await resumeAlice();
    expect(answer).toMatchObject({ resumed: true, recovered: true });
    const ids: number[] = [];
    for (let i = 0; i < count; i++) {
      const frame = await back.nextFrame(DEFAULT_WAIT_MS, `replayed message ${i}`);
      expect(frame).toMatchObject({ type: 'message', text, replay: true });
      ids.push(Number(frame.id));
    }
    expect(ids).toEqual(ids.map((_, i) => ids[0]! + i));
    bob.send({ text: 'live' });
    expect(await back.nextFrame()).toEqual(message('Bob', 'live'));
  });

  it('announces the leave once when the window runs out; the session is then expired', async () => {
    const server = await start({ resumeWindowMs: 300 });
    const alice = await registerKeeping(server, 'Alice');
    const bob = await server.register('Bob');
    await alice.socket.nextFrame();
    const lostAt = Date.now();
    alice.socket.terminate();
    expect(await bob.nextFrame(5_000)).toEqual(leave('Alice'));
    expect(Date.now() - lostAt).toBeGreaterThanOrEqual(250);

    const { socket: late, answer } = await resume(server, { session: alice.session, epoch: alice.epoch, since: '0' });
    expect(answer).toEqual(error('session_expired'));
    // Not a refusal: the client stays and may register, even as Alice.
    late.send({ sender: 'Alice', text: '' });
    expect(await late.nextFrame()).toMatchObject({ type: 'welcome', name: 'Alice' });
    expect(await bob.nextFrame()).toEqual(join('Alice'));
    await expectNothingBut(bob, late, 'one leave only');
  });

  it.each([
    ['a clean close (1000)', (s: TestSocket) => s.close(1000)],
    ['a going-away close (1001)', (s: TestSocket) => s.close(1001)],
    ['a close frame without a code (1005, as a browser sends)', (s: TestSocket) => s.close()],
    ['a broken rule (10 bad frames, 1008)', (s: TestSocket) => Array.from({ length: 10 }, () => s.send('nope'))],
  ])('ends the session at once on %s: the leave comes now, and a resume is expired', async (_how, end) => {
    const server = await start();
    const alice = await registerKeeping(server, 'Alice');
    const bob = await server.register('Bob');
    await alice.socket.nextFrame();
    end(alice.socket);
    expect(await bob.nextFrame()).toEqual(leave('Alice'));
    const { answer } = await resume(server, { session: alice.session });
    expect(answer).toEqual(error('session_expired'));
  });

  it('with RESUME_WINDOW_MS=0 announces a dropped client at once and frees its name, as before sessions', async () => {
    const server = await start({ resumeWindowMs: 0 });
    const alice = await registerKeeping(server, 'Alice');
    const bob = await server.register('Bob');
    await alice.socket.nextFrame();
    alice.socket.terminate();
    expect(await bob.nextFrame()).toEqual(leave('Alice'));
    await server.register('Alice');
    expect(await bob.nextFrame()).toEqual(join('Alice'));
  });

  it('keeps the session of clients the server ends for missing a heartbeat', async () => {
    const server = await start({ heartbeatMs: 100 });
    const bob = await server.register('Bob');
    const deaf = await server.connect({ autoPong: false, label: 'deaf' });
    deaf.send({ sender: 'Deaf', text: '' });
    const welcome = await deaf.nextFrame();
    await bob.nextFrame();
    await deaf.waitClose(5_000);
    const { socket: back, answer } = await resume(server, { session: welcome.session });
    expect(answer).toMatchObject({ resumed: true, name: 'Deaf' });
    await expectNothingBut(bob, back, 'no leave, no join');
  });
});

describe('an unknown session (SPEC §8)', () => {
  it('gets session_expired for a forged secret, and the client may register as usual', async () => {
    const server = await start();
    const { socket, answer } = await resume(server, { session: 'AAAAAAAAAAAAAAAAAAAAAA', since: '1' });
    expect(answer).toEqual(error('session_expired'));
    socket.send({ sender: 'Zed', text: '' });
    expect(await socket.nextFrame()).toMatchObject({ type: 'welcome', name: 'Zed' });
  });

  it('gets session_expired after a restart of a single process, whose new epoch says ids started over', async () => {
    const first = await start();
    const alice = await registerKeeping(first, 'Alice');
    await first.close();
    const second = await start({ port: first.port });
    const bob = await registerKeeping(second, 'Bob');
    expect(bob.epoch).not.toBe(alice.epoch);
    const { answer } = await resume(second, { session: alice.session, epoch: alice.epoch, since: '1' });
    expect(answer).toEqual(error('session_expired'));
  });
});

describe('take-over (SPEC §8)', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });

  it('closes a still-open connection of the session with 4002, and nobody sees a leave or a join', async () => {
    const server = await start();
    const alice = await registerKeeping(server, 'Alice');
    const bob = await server.register('Bob');
    await alice.socket.nextFrame();
    const { socket: second, answer } = await resume(server, { session: alice.session, epoch: alice.epoch, since: '0' });
    expect(answer).toMatchObject({ resumed: true, recovered: true });
    expect((await alice.socket.waitClose()).code).toBe(4002);
    await expectNothingBut(bob, second, 'fence');
  });

  it('takes over at once from a client frozen with SIGSTOP (no wait for heartbeats)', async () => {
    const server = await start();
    const bob = await server.register('Bob');
    // A client in a process of its own, so that it can be frozen with its socket open.
    const child = spawn(process.execPath, ['--input-type=module', '-e', FROZEN_CLIENT, server.url], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    const lines = createInterface({ input: child.stdout });
    const [line] = (await withTimeout(once(lines, 'line'), 5_000, 'the child client welcome')) as [string];
    const welcome = JSON.parse(line) as Frame;
    expect(await bob.nextFrame()).toEqual(join('Frozen'));
    child.kill('SIGSTOP');

    const tookAt = Date.now();
    const { socket: back, answer } = await resume(server, { session: welcome.session, epoch: welcome.epoch });
    expect(answer).toMatchObject({ type: 'welcome', name: 'Frozen', resumed: true });
    expect(Date.now() - tookAt).toBeLessThan(DEFAULT_WAIT_MS);
    back.send({ text: 'I am back' });
    expect(await bob.nextFrame()).toEqual(message('Frozen', 'I am back'));
  });
});

/** A child process client: registers as Frozen, prints its welcome, then just holds on. */
const FROZEN_CLIENT = `
import { WebSocket } from 'ws';
const ws = new WebSocket(process.argv[1]);
ws.on('open', () => ws.send(JSON.stringify({ sender: 'Frozen', text: '' })));
ws.on('message', (data) => {
  const frame = JSON.parse(String(data));
  if (frame.type === 'welcome') process.stdout.write(JSON.stringify(frame) + '\\n');
});
`;

describe('history on arrival (SPEC §8)', () => {
  it('sends the last N messages after the welcome, marked replay, before any live frame', async () => {
    const server = await start({ historySize: 3 });
    const bob = await server.register('Bob');
    for (const text of ['1', '2', '3', '4']) {
      bob.send({ text });
      await bob.nextFrame();
    }
    const some = await registerKeeping(server, 'Ann', { history: 2 });
    expect(await some.socket.nextFrame()).toMatchObject({ type: 'message', text: '3', replay: true });
    expect(await some.socket.nextFrame()).toMatchObject({ type: 'message', text: '4', replay: true });
    await expectNothingBut(some.socket, bob, 'live');

    // At most HISTORY_SIZE, and only what history still holds (joins are not messages).
    const many = await registerKeeping(server, 'Cy', { history: 50 });
    const texts = [await many.socket.nextFrame(), await many.socket.nextFrame()].map((frame) => frame.text);
    expect(texts).toEqual(['4', 'live']);
  });

  it('sends nothing more without history: the seed flow is unchanged', async () => {
    const server = await start();
    const bob = await server.register('Bob');
    bob.send({ text: 'old' });
    await bob.nextFrame();
    const ann = await server.register('Ann');
    await expectNothingBut(ann, bob, 'new');
  });
});

describe('cid: sends survive a reconnect exactly once (SPEC §8)', () => {
  it('does not broadcast a cid the session already sent; the sender gets its copy again, same id', async () => {
    const server = await start();
    const alice = await registerKeeping(server, 'Alice');
    const bob = await server.register('Bob');
    await alice.socket.nextFrame();
    alice.socket.send({ text: 'once', cid: 'k1' });
    const copy = await alice.socket.nextFrame();
    expect(copy).toMatchObject({ text: 'once', cid: 'k1' });
    expect(await bob.nextFrame()).toEqual(message('Alice', 'once'));
    alice.socket.terminate();

    const { socket: back } = await resume(server, { session: alice.session, epoch: alice.epoch, since: copy.id });
    back.send({ text: 'once', cid: 'k1' });
    expect(await back.nextFrame()).toEqual({ type: 'message', text: 'once', cid: 'k1', id: copy.id, ts: copy.ts });
    await expectNothingBut(bob, back, 'fence');
  });

  // A resent cid's copy carries the resend's text: its size is the client's choice, so it
  // counts against MAX_BUFFERED_BYTES like any frame, unlike a replay.
  it('ends as slow a client that stops reading and keeps resending one cid', async () => {
    const server = await start({
      resumeWindowMs: 0,
      maxBufferedBytes: 64 * 1024,
      rateBurst: 1_000,
      addressRateBurst: 0, // its resends are the point
      textMaxLength: 60_000,
    });
    const alice = await registerKeeping(server, 'Alice');
    const bob = await server.register('Bob');
    await alice.socket.nextFrame();
    alice.socket.send({ text: 'once', cid: 'k1' });
    expect(await alice.socket.nextFrame()).toMatchObject({ cid: 'k1' });
    await bob.nextFrame();
    alice.socket.ws.pause();
    // 400 copies of 50 kB: more than loopback's socket buffers hold on any usual setting.
    const text = 'x'.repeat(50_000);
    for (let i = 0; i < 400; i++) alice.socket.send({ text, cid: 'k1' });
    alice.socket.send({ text: 'after the resends' });
    // Without the window the kick is a leave; had she not been ended, her last message would come.
    expect(await bob.nextFrame(10_000, "Alice's leave")).toEqual(leave('Alice'));
  });

  it('refuses a cid longer than 64 code points with invalid_message', async () => {
    const server = await start();
    const alice = await server.register('Alice');
    alice.send({ text: 'x', cid: '😀'.repeat(65) });
    expect(await alice.nextFrame()).toEqual(error('invalid_message'));
    alice.send({ text: 'y', cid: '😀'.repeat(64) });
    expect(await alice.nextFrame()).toMatchObject({ text: 'y', cid: '😀'.repeat(64) });
  });
});
