/**
 * SPEC §7 over real sockets: three nodes on one private Redis act as one chat. A message
 * sent on any node reaches every client on every node; all see one total order, with ids
 * that grow; a welcome lists the whole cluster and agrees with the join's place in the order.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { expectOwnCopy, join, leave, message, welcome } from '../support/expected.js';
import { describeWithRedis, redisPerFile } from '../support/redis-server.js';
import { type Frame, type TestSocket } from '../support/ws-client.js';
import { serverPerTest, type TestServer } from '../support/test-server.js';

const redis = redisPerFile();
const start = serverPerTest();
const threeNodes = () =>
  Promise.all([1, 2, 3].map(() => start({ resumeWindowMs: 0, redisUrl: redis().url, rateBurst: 0 })));

describeWithRedis('cluster: one chat across nodes (SPEC §7)', () => {
  it('delivers a message sent on one node to every client on every node, and the sender its own copy', async () => {
    const [a, b, c] = await threeNodes();
    const alice = await a!.register('Alice');
    const bob = await b!.register('Bob');
    const carol = await c!.register('Carol');
    expect(await alice.nextFrame()).toEqual(join('Bob'));
    expect(await alice.nextFrame()).toEqual(join('Carol'));
    expect(await bob.nextFrame()).toEqual(join('Carol'));

    bob.send({ text: 'Hello from b' });
    expect(await alice.nextFrame()).toEqual(message('Bob', 'Hello from b'));
    expect(await carol.nextFrame()).toEqual(message('Bob', 'Hello from b'));
    expectOwnCopy(await bob.nextFrame(), 'Hello from b');
  });

  it("welcomes with every node's users, and announces a join and a leave on every node exactly once", async () => {
    const [a, b, c] = await threeNodes();
    const alice = await a!.register('Alice');
    const bob = await b!.register('Bob');
    await alice.nextFrame();
    const carol = await c!.connect();
    carol.send({ sender: 'Carol', text: '' });
    expect(await carol.nextFrame()).toEqual(welcome('Carol', ['Alice', 'Bob', 'Carol']));
    expect(await alice.nextFrame()).toEqual(join('Carol'));
    expect(await bob.nextFrame()).toEqual(join('Carol'));

    alice.close();
    expect(await bob.nextFrame()).toEqual(leave('Alice'));
    expect(await carol.nextFrame()).toEqual(leave('Alice'));
    // Free on another node at once; and the next frame is this join, so no second leave came.
    const again = await c!.register('ALICE');
    expect(await bob.nextFrame()).toEqual(join('ALICE'));
    expect(await carol.nextFrame()).toEqual(join('ALICE'));
    await again.expectQuiet();
  });

  it("announces a stopped node's users to the other nodes at once, one leave each", async () => {
    const [a, b] = await Promise.all([1, 2].map(() => start({ resumeWindowMs: 0, redisUrl: redis().url })));
    const bob = await b!.register('Bob');
    await a!.register('Alice');
    await a!.register('Ann');
    expect(await bob.nextFrame()).toEqual(join('Alice'));
    expect(await bob.nextFrame()).toEqual(join('Ann'));
    await a!.close();
    // Well inside the 15 s default lease: the node said goodbye, nobody had to reap it.
    const left = [await bob.nextFrame(1_000), await bob.nextFrame(1_000)];
    expect(left).toEqual(expect.arrayContaining([leave('Alice'), leave('Ann')]));
    await b!.register('ALICE');
    expect(await bob.nextFrame()).toEqual(join('ALICE'));
  });

  it('keeps one total order across nodes for any interleaving of senders, and a late joiner hears exactly what follows its join', async () => {
    const nodes = await threeNodes();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat({ max: 2 }), { minLength: 2, maxLength: 5 }),
        fc.array(fc.record({ who: fc.nat(), yieldAfter: fc.boolean() }), { minLength: 1, maxLength: 25 }),
        fc.record({ at: fc.nat(), node: fc.nat({ max: 2 }) }),
        async (homes, steps, late) => {
          run++;
          await checkOneRun(nodes, `R${run}_`, homes, steps, late);
        },
      ),
      { numRuns: 12 },
    );
  });
});

/**
 * Clients on the nodes `homes` send `steps` without waiting for each other; a late client
 * registers part-way. Every client then reads up to an end marker, and they must agree.
 */
async function checkOneRun(
  nodes: TestServer[],
  tag: string,
  homes: number[],
  steps: Array<{ who: number; yieldAfter: boolean }>,
  late: { at: number; node: number },
): Promise<void> {
  const names = homes.map((_, i) => `${tag}c${i}`);
  const clients: TestSocket[] = [];
  for (const [i, home] of homes.entries()) clients.push(await nodes[home]!.register(names[i]!));
  const lateName = `${tag}late`;
  let lateClient: TestSocket | null = null;
  const lateAt = late.at % (steps.length + 1);
  for (const [k, step] of steps.entries()) {
    if (k === lateAt) {
      lateClient = await nodes[late.node]!.connect({ label: lateName });
      lateClient.send({ sender: lateName, text: '' });
    }
    clients[step.who % clients.length]!.send({ text: `${tag} ${step.who % clients.length} ${k}` });
    if (step.yieldAfter) await new Promise((resolve) => setImmediate(resolve));
  }
  if (lateClient === null) {
    lateClient = await nodes[late.node]!.connect({ label: lateName });
    lateClient.send({ sender: lateName, text: '' });
  }
  // Clients on different nodes are not ordered with each other: the end marker goes out
  // once every sender has its own last message back (so it is in the log) and the late
  // client is welcomed. Then every client must hear the marker last.
  const seen = await Promise.all(
    clients.map((client, who) => {
      const last = steps.findLastIndex((s) => s.who % clients.length === who);
      const isLast = (f: Frame) => f.type === 'message' && f.text === `${tag} ${who} ${last}`;
      return last === -1 ? Promise.resolve([]) : client.framesUntil(isLast, 5_000, `its own copy of step ${last}`);
    }),
  );
  const lateFrames = [await lateClient.nextFrame(2_000, `the welcome of ${lateName}`)];
  clients[0]!.send({ text: `${tag} end` });
  const isEnd = (f: Frame) => f.type === 'message' && f.text === `${tag} end`;
  const ofThisRun = (f: Frame) => String(f.type === 'message' ? f.text : f.name).startsWith(tag);
  for (const [i, client] of clients.entries()) seen[i]!.push(...(await client.framesUntil(isEnd, 5_000, `${tag} end`)));
  lateFrames.push(...(await lateClient.framesUntil(isEnd, 5_000, `${tag} end`)));

  const messagesOf = (frames: Frame[]) =>
    frames.filter((f) => f.type === 'message').map((f) => `${String(f.id)} ${String(f.text)}`);
  const reference = messagesOf(seen[0]!);
  // Nothing lost, nothing doubled: every step once, then the marker.
  expect(reference.map((m) => m.split(' ').slice(1).join(' ')).sort()).toEqual(
    [...steps.map((s, k) => `${tag} ${s.who % clients.length} ${k}`), `${tag} end`].sort(),
  );
  // One total order: every client saw the same messages with the same ids, in the same order.
  for (const frames of seen) expect(messagesOf(frames)).toEqual(reference);
  const ids = reference.map((m) => Number(m.split(' ')[0]));
  for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1]!);
  // A sender's messages keep the order it sent them in.
  for (let who = 0; who < clients.length; who++) {
    const sentOrder = reference
      .map((m) => m.split(' '))
      .filter((p) => p[2] === String(who))
      .map((p) => Number(p[3]));
    expect(sentOrder).toEqual([...sentOrder].sort((x, y) => x - y));
  }
  // Own copies carry no sender; everyone else's carry the author's name.
  seen.forEach((frames, i) => {
    for (const f of frames.filter((f) => f.type === 'message' && f.text !== `${tag} end`)) {
      const author = Number(String(f.text).split(' ')[1]);
      expect(f.sender).toBe(author === i ? undefined : names[author]);
    }
  });

  // The late client: welcomed with everyone online, then exactly the messages that follow
  // its join in the order client 0 saw it.
  // (Clients of earlier runs may not have left yet: only this run's names are checked.)
  const lateWelcome = lateFrames[0]!;
  expect(lateWelcome).toEqual(
    welcome(lateName, (lateWelcome.users as string[]).filter((u) => !u.startsWith(tag)).concat(names, lateName)),
  );
  const joinAt = seen[0]!.filter(ofThisRun).findIndex((f) => f.type === 'join' && f.name === lateName);
  expect(joinAt).toBeGreaterThanOrEqual(0);
  expect(messagesOf(lateFrames)).toEqual(messagesOf(seen[0]!.filter(ofThisRun).slice(joinAt + 1)));
  for (const frames of seen) expect(frames.filter((f) => f.type === 'join' && f.name === lateName)).toHaveLength(1);

  for (const client of [...clients, lateClient]) client.terminate();
}
