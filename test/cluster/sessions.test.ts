/**
 * SPEC §8 in cluster mode, against private redis-server processes: a session lives in
 * Redis, so a client may resume on any node, also when the node it left is killed (-9) or
 * stopped (SIGTERM); those that resume in time are never announced as gone and miss
 * nothing; the rest are announced once, by one node, when their window ends.
 *
 * Lost and duplicated messages are counted by id: each observer's ids must be exactly the
 * ids of the messages sent, in order, once each.
 */
import { afterEach, expect, it } from 'vitest';
import { join, leave, message } from '../support/expected.js';
import { TcpProxy, untilRedis, waitReadyz } from '../support/cluster.js';
import { describeWithRedis, redisPerTest } from '../support/redis-server.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { serverPerTest } from '../support/test-server.js';
import { DEFAULT_WAIT_MS, TestSocket, type Frame } from '../support/ws-client.js';

/**
 * A Redis of its own for each test: a session outlives its test's nodes by its window, and
 * its leave, announced later, must not reach the next test's clients.
 */
const redis = redisPerTest();
const start = serverPerTest();
const LEASE_MS = 3_000;
const WINDOW_MS = 8_000;

const processes: ServerProcess[] = [];
afterEach(async () => {
  await Promise.all(processes.splice(0).map((p) => p.stop().catch(() => undefined)));
});

/** SIGKILL, and no stop() for it afterwards: its IPC channel is gone. */
function kill(victim: ServerProcess): void {
  process.kill(victim.pid, 'SIGKILL');
  processes.splice(processes.indexOf(victim), 1);
}

function nodeOptions(overrides: object = {}) {
  return { redisUrl: redis().url, leaseMs: LEASE_MS, resumeWindowMs: WINDOW_MS, rateBurst: 0, ...overrides };
}

/** A client that keeps what it needs to resume: its secret, its epoch and its position. */
class Client {
  position = '';
  secret = '';
  epoch = '';
  /** Every chat frame it processed, across all its connections. */
  readonly seen: Frame[] = [];

  private constructor(
    public socket: TestSocket,
    readonly name: string,
  ) {}

  static async register(url: string, name: string): Promise<Client> {
    const socket = await TestSocket.open(url, { label: name });
    socket.send({ sender: name, text: '' });
    const welcome = await socket.nextFrame(DEFAULT_WAIT_MS, `the welcome for ${name}`);
    expect(welcome).toMatchObject({ type: 'welcome', name });
    const client = new Client(socket, name);
    client.secret = welcome.session as string;
    client.epoch = welcome.epoch as string;
    client.position = welcome.id as string;
    return client;
  }

  /** Reads the next frame, keeping the position. */
  async next(timeoutMs = DEFAULT_WAIT_MS, what = 'the next frame'): Promise<Frame> {
    const frame = await this.socket.nextFrame(timeoutMs, `${this.name}: ${what}`);
    if (typeof frame.id === 'string' && frame.type !== 'welcome') {
      this.position = frame.id;
      this.seen.push(frame);
    }
    return frame;
  }

  /** Reads every frame that arrives within the wait, with no wait beyond it once quiet. */
  async drain(until: (frame: Frame) => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = await this.next(Math.max(1, deadline - Date.now()), what);
      if (until(frame)) return;
    }
  }

  /** Resumes on `url` from the position it has; returns the welcome. */
  async resume(url: string): Promise<Frame> {
    const socket = await TestSocket.open(url, { label: `${this.name} again` });
    socket.send({ session: this.secret, epoch: this.epoch, since: this.position });
    this.socket = socket;
    return socket.nextFrame(DEFAULT_WAIT_MS * 2, `${this.name}: the welcome of a resume`);
  }
}

/** The id of the node whose client holds `folded` (chat:names, lua.ts). */
async function nodeIdHolding(url: string, folded: string): Promise<string> {
  let node = '';
  await untilRedis(
    url,
    async (r) => {
      const entry = await r.hget('chat:names', folded);
      node = entry === null ? '' : (JSON.parse(entry) as { t: string }).t.split('/')[0]!;
      return node !== '';
    },
    5_000,
    `the holder of ${folded}`,
  );
  return node;
}

/** The messages (by text) a client saw, in the order it saw them. */
const texts = (client: Client) => client.seen.filter((f) => f.type === 'message').map((f) => f.text as string);
const joinsAndLeaves = (client: Client) => client.seen.filter((f) => f.type === 'join' || f.type === 'leave');

describeWithRedis('cluster sessions (SPEC §8)', () => {
  it('resumes on another node with everything missed, and takes over a connection still open there (4002)', async () => {
    const [a, b] = await Promise.all([start(nodeOptions()), start(nodeOptions())]);
    const watcher = await Client.register(b.url, 'Watcher');
    const alice = await Client.register(a.url, 'Alice');
    expect(await watcher.next()).toEqual(join('Alice'));
    alice.socket.terminate();
    watcher.socket.send({ text: 'while away 1' });
    watcher.socket.send({ text: 'while away 2' });
    await watcher.next();
    await watcher.next();

    const welcome = await alice.resume(b.url);
    expect(welcome).toMatchObject({ type: 'welcome', name: 'Alice', resumed: true, recovered: true });
    expect(await alice.next()).toEqual({ ...message('Watcher', 'while away 1'), replay: true });
    expect(await alice.next()).toEqual({ ...message('Watcher', 'while away 2'), replay: true });

    // Open on b; resumed again on a: the connection on b is closed with 4002.
    const first = alice.socket;
    const again = await alice.resume(a.url);
    expect(again).toMatchObject({ resumed: true, recovered: true });
    expect((await first.waitClose(DEFAULT_WAIT_MS * 2)).code).toBe(4002);
    alice.socket.send({ text: 'back' });
    expect(await watcher.next()).toEqual(message('Alice', 'back'));
    // Nobody saw Alice leave or join again.
    expect(joinsAndLeaves(watcher)).toEqual([join('Alice')]);
  });

  it('sends a cid once across nodes: a resend after resuming elsewhere gets the first copy', async () => {
    const [a, b] = await Promise.all([start(nodeOptions()), start(nodeOptions())]);
    const watcher = await Client.register(b.url, 'Watcher2');
    const alice = await Client.register(a.url, 'Alice2');
    await watcher.next();
    alice.socket.send({ text: 'exactly once', cid: 'k-1' });
    const copy = await alice.next();
    expect(copy).toMatchObject({ text: 'exactly once', cid: 'k-1' });
    alice.socket.terminate();
    await alice.resume(b.url);
    alice.socket.send({ text: 'exactly once', cid: 'k-1' });
    expect(await alice.next()).toEqual({ type: 'message', text: 'exactly once', cid: 'k-1', id: copy.id, ts: copy.ts });
    alice.socket.send({ text: 'fence' });
    await watcher.drain((f) => f.text === 'fence', 5_000, 'the fence');
    expect(texts(watcher)).toEqual(['exactly once', 'fence']);
  });

  it('keeps the sessions of a node killed with -9: they resume elsewhere with recovered:true, nothing lost, nobody told', async () => {
    const survivor = await start(nodeOptions());
    const victim = await startServerProcess(nodeOptions());
    processes.push(victim);
    const watcher = await Client.register(survivor.url, 'Watcher3');
    const clients = [];
    for (const name of ['Ann', 'Ben', 'Cy']) clients.push(await Client.register(victim.url, name));
    await watcher.drain((f) => f.type === 'join' && f.name === 'Cy', 5_000, 'the joins');
    const victimId = await nodeIdHolding(redis().url, 'cy');
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) {
      sent.push(`before ${i}`);
      watcher.socket.send({ text: `before ${i}` });
    }
    for (const client of clients) await client.drain((f) => f.text === 'before 4', 5_000, 'the messages before');

    kill(victim);
    for (let i = 0; i < 5; i++) {
      sent.push(`after ${i}`);
      watcher.socket.send({ text: `after ${i}` });
    }
    for (const client of clients) {
      const welcome = await client.resume(survivor.url);
      expect(welcome).toMatchObject({ resumed: true, recovered: true, name: client.name });
      await client.drain((f) => f.text === 'after 4', 5_000, 'the replay');
    }
    sent.push('fence');
    watcher.socket.send({ text: 'fence' });
    for (const client of clients) {
      await client.drain((f) => f.text === 'fence', 5_000, 'the fence');
      expect(texts(client)).toEqual(sent);
    }
    // Once a survivor has reaped the dead node (its lease ran out), a fence: its users
    // were never announced as gone, before or after.
    await watcher.drain((f) => f.text === 'fence', 5_000, 'the fence');
    await untilRedis(
      redis().url,
      async (r) => !(await r.sismember('chat:nodes', victimId)),
      LEASE_MS * 3,
      'the dead node reaped',
    );
    watcher.socket.send({ text: 'after the reaping' });
    await watcher.drain((f) => f.text === 'after the reaping', 5_000, 'the last fence');
    expect(joinsAndLeaves(watcher).map((f) => `${f.type as string} ${f.name as string}`)).toEqual([
      'join Ann',
      'join Ben',
      'join Cy',
    ]);
  });

  it('announces a client that never comes back once, by one node, when the window after its node died ends', async () => {
    const windowMs = 2_000;
    const [b, c] = await Promise.all([
      start(nodeOptions({ resumeWindowMs: windowMs })),
      start(nodeOptions({ resumeWindowMs: windowMs })),
    ]);
    const victim = await startServerProcess(nodeOptions({ resumeWindowMs: windowMs }));
    processes.push(victim);
    const onB = await Client.register(b.url, 'OnB');
    const onC = await Client.register(c.url, 'OnC');
    await onB.next();
    await Client.register(victim.url, 'Gone');
    await onB.drain((f) => f.type === 'join' && f.name === 'Gone', 5_000, 'the join of Gone');
    await onC.drain((f) => f.type === 'join' && f.name === 'Gone', 5_000, 'the join of Gone');
    kill(victim);
    const killedAt = Date.now();
    for (const watcher of [onB, onC])
      expect(await watcher.next(LEASE_MS + windowMs + 3_000, 'the leave')).toEqual(leave('Gone'));
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(windowMs);
    // The next frame after the one leave is this message: nobody announced it twice.
    onB.socket.send({ text: 'fence' });
    for (const watcher of [onB, onC]) expect(await watcher.next()).toMatchObject({ text: 'fence' });
  });

  it('shows nobody a leave or a join, and loses or duplicates nothing, while every node is restarted in turn (SIGTERM)', async () => {
    const nodes: ServerProcess[] = [];
    for (let i = 0; i < 3; i++) nodes.push(await startServerProcess(nodeOptions()));
    processes.push(...nodes);
    const watcher = await Client.register((await start(nodeOptions())).url, 'Watcher5');
    const clients: Array<{ client: Client; at: number }> = [];
    for (let i = 0; i < 30; i++) clients.push({ client: await Client.register(nodes[i % 3]!.url, `u${i}`), at: i % 3 });
    await watcher.drain((f) => f.type === 'join' && f.name === 'u29', 10_000, 'the joins');
    const joinsBefore = joinsAndLeaves(watcher).length;

    const sent: string[] = [];
    const say = (from: Client) => {
      const text = `m${sent.length}`;
      sent.push(text);
      from.socket.send({ text });
    };
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 6; i++) say(clients[(round * 7 + i * 5) % 30]!.client);
      await nodes[round]!.stop(); // SIGTERM: its clients are closed with 1001
      const up = [0, 1, 2].filter((n) => n !== round);
      // Its clients resume on the nodes still up, while the chat goes on.
      for (const [index, entry] of clients.entries()) {
        if (entry.at !== round) continue;
        say(watcher);
        entry.at = up[index % up.length]!;
        const welcome = await entry.client.resume(nodes[entry.at]!.url);
        expect(welcome, `${entry.client.name} resumed`).toMatchObject({ resumed: true, recovered: true });
      }
      const replacement = await startServerProcess(nodeOptions());
      processes.push(replacement);
      nodes[round] = replacement;
    }
    say(watcher);
    const fence = sent.at(-1)!;
    await watcher.drain((f) => f.text === fence, 10_000, 'the fence');
    // The watcher saw every message once; so did everyone else, in the same order.
    const order = texts(watcher);
    expect([...order].sort()).toEqual([...sent].sort());
    for (const { client } of clients) {
      await client.drain((f) => f.text === fence, 10_000, 'the fence');
      expect(texts(client), `${client.name}'s messages`).toEqual(order);
    }
    expect(joinsAndLeaves(watcher).length).toBe(joinsBefore);
  });

  it('keeps a waiting session through a Redis paused during its window: resumed after, it misses nothing; or announced once when its window ran out meanwhile', async () => {
    const windowMs = 3_000;
    const [a, b] = await Promise.all([
      start(nodeOptions({ resumeWindowMs: windowMs })),
      start(nodeOptions({ resumeWindowMs: windowMs })),
    ]);
    const watcher = await Client.register(b.url, 'Watcher6');
    const alice = await Client.register(a.url, 'Alice6');
    const bob = await Client.register(a.url, 'Bob6');
    await watcher.drain((f) => f.type === 'join' && f.name === 'Bob6', 5_000, 'the joins');
    watcher.socket.send({ text: 'before' });
    await alice.drain((f) => f.text === 'before', 5_000, 'before');
    await bob.drain((f) => f.text === 'before', 5_000, 'before');
    alice.socket.terminate();
    bob.socket.terminate();

    const pid = redis().pid!;
    process.kill(pid, 'SIGSTOP');
    try {
      // While Redis is paused nothing can be written; the nodes notice and wait for it.
      await waitReadyz(a, 503, LEASE_MS * 2);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitReadyz(a, 200, LEASE_MS * 3);
    await waitReadyz(b, 200, LEASE_MS * 3);
    watcher.socket.send({ text: 'after' });
    await watcher.drain((f) => f.text === 'after', 5_000, 'after');

    // Alice comes back in time: everything since her position, and nobody was told anything.
    const welcome = await alice.resume(b.url);
    expect(welcome).toMatchObject({ resumed: true, recovered: true });
    await alice.drain((f) => f.text === 'after', 5_000, 'the replay');
    expect(texts(alice)).toEqual(['before', 'after']);
    // Bob does not: his leave comes once, when his window (which the pause did not stop) ends.
    expect(await watcher.next(windowMs * 3, 'the leave of Bob6')).toEqual(leave('Bob6'));
    watcher.socket.send({ text: 'fence' });
    expect(await watcher.next()).toMatchObject({ text: 'fence' });
    expect(joinsAndLeaves(watcher).map((f) => `${f.type as string} ${f.name as string}`)).toEqual([
      'join Alice6',
      'join Bob6',
      'leave Bob6',
    ]);
  });

  it('lets a node cut off past its lease, but back within the window, keep its connected users: no leave comes', async () => {
    const windowMs = 6_000;
    const proxy = await TcpProxy.start(redis().port);
    try {
      const a = await start(nodeOptions({ redisUrl: proxy.url, resumeWindowMs: windowMs }));
      const b = await start(nodeOptions({ resumeWindowMs: windowMs }));
      const watcher = await Client.register(b.url, 'Watcher7');
      const alice = await Client.register(a.url, 'Alice7');
      await watcher.next();
      await proxy.cut();
      // b reaps a: a's users now wait for a resume, as if a had died.
      await untilRedis(
        redis().url,
        async (r) => (await r.zscore('chat:waiting', 'alice7')) !== null,
        LEASE_MS * 3,
        "a reaped and Alice7's session waiting",
      );
      await proxy.mend();
      await waitReadyz(a, 200, LEASE_MS * 3);
      // Back, a says Alice7 is connected: her session waits no more.
      await untilRedis(
        redis().url,
        async (r) => (await r.zscore('chat:waiting', 'alice7')) === null,
        LEASE_MS * 2,
        "Alice7's wait called off",
      );
      alice.socket.send({ text: 'still here' });
      await watcher.drain((f) => f.text === 'still here', 5_000, 'her message');
      expect(joinsAndLeaves(watcher)).toEqual([join('Alice7')]);
    } finally {
      await proxy.cut();
    }
  });
});
