/**
 * SPEC §7 when Redis goes away. While it is unreachable, nodes keep their clients, claims
 * and messages get server_unavailable and /readyz is 503; when it is back, the nodes
 * re-assert their names and serve again without a restart. A node cut off alone long
 * enough to be reaped finds its users announced as gone: they are told and closed.
 */
import { createHash } from 'node:crypto';
import { expect, it } from 'vitest';
import { hubMachine } from '../../machines/hub.machine.js';
import { clusterActors, clusterNode } from '../../src/cluster/cluster.js';
import type { ScriptSource } from '../../src/cluster/lua.js';
import type { ClusterNode } from '../../src/cluster/node.js';
import { scripts } from '../../src/cluster/scripts.js';
import { createLogger } from '../../src/log.js';
import { createChat, type Chat } from '../support/chat-harness.js';
import { error, expectOwnCopy, join, leave, message, welcome } from '../support/expected.js';
import { settle, TcpProxy, untilRedis, waitReadyz } from '../support/cluster.js';
import { serving } from '../support/cluster-node.js';
import { describeWithRedis, openCluster, RedisProcess } from '../support/redis-server.js';
import { parseMetrics, sample } from '../support/metrics-text.js';
import { serverPerTest } from '../support/test-server.js';

const start = serverPerTest();
const LEASE_MS = 2_000;

describeWithRedis('cluster: Redis outage (SPEC §7)', () => {
  it('answers server_unavailable while Redis is down, keeps every client, and serves again once it is back', async () => {
    const redis = await RedisProcess.start();
    await openCluster(redis.url);
    try {
      const [a, b] = await Promise.all(
        [1, 2].map(() => start({ resumeWindowMs: 0, redisUrl: redis.url, leaseMs: LEASE_MS })),
      );
      const alice = await a!.register('Alice');
      const bob = await b!.register('Bob');
      expect(await alice.nextFrame()).toEqual(join('Bob'));

      await redis.stop(); // and with it every key: nothing is saved
      await waitReadyz(a!, 503);
      await waitReadyz(b!, 503);
      alice.send({ text: 'anyone?' });
      expect(await alice.nextFrame()).toEqual(error('server_unavailable'));
      const carol = await b!.connect();
      carol.send({ sender: 'Carol', text: '' });
      expect(await carol.nextFrame()).toEqual(error('server_unavailable'));
      await Promise.all([alice.expectQuiet(), bob.expectQuiet(), carol.expectQuiet()]);

      await redis.resume();
      await waitReadyz(a!, 200, 3 * LEASE_MS);
      await waitReadyz(b!, 200, 3 * LEASE_MS);
      // Alice and Bob still hold their names, across the cluster.
      carol.send({ sender: 'ALICE', text: '' });
      expect(await carol.nextFrame()).toEqual({
        type: 'error',
        sender: 'Server',
        code: 'name_taken',
        text: 'Username already taken',
      });
      carol.send({ sender: 'Carol', text: '' });
      expect(await carol.nextFrame()).toEqual(welcome('Carol', ['Alice', 'Bob', 'Carol']));
      expect(await alice.nextFrame()).toEqual(join('Carol'));
      alice.send({ text: 'back' });
      expectOwnCopy(await alice.nextFrame(), 'back');
      expect(await bob.nextFrame()).toEqual(join('Carol'));
      expect(await bob.nextFrame()).toEqual(message('Alice', 'back'));
      expect(await carol.nextFrame()).toEqual(message('Alice', 'back'));
    } finally {
      await redis.stop();
    }
  });

  it('shows its state in chat_cluster_state: serving, unavailable while Redis is down, serving again', async () => {
    const redis = await RedisProcess.start();
    await openCluster(redis.url);
    try {
      const node = await start({ redisUrl: redis.url, leaseMs: LEASE_MS });
      const state = async () => {
        const samples = parseMetrics(await (await node.get('/metrics')).text());
        return ['serving', 'starting', 'grace', 'unavailable']
          .filter((s) => sample(samples, `chat_cluster_state{state="${s}"}`) === 1)
          .join();
      };
      expect(await state()).toBe('serving');
      await redis.stop();
      await waitReadyz(node, 503);
      expect(await state()).toBe('unavailable');
      await redis.resume();
      await waitReadyz(node, 200, 3 * LEASE_MS);
      expect(await state()).toBe('serving');
    } finally {
      await redis.stop();
    }
  });

  it('announces once the users of a node that died while Redis was down and came back empty', async () => {
    const redis = await RedisProcess.start();
    await openCluster(redis.url);
    try {
      const [a, b, c] = await Promise.all(
        [1, 2, 3].map(() => start({ resumeWindowMs: 0, redisUrl: redis.url, leaseMs: LEASE_MS })),
      );
      const alice = await a!.register('Alice');
      const bob = await b!.register('Bob');
      await c!.register('Cy');
      expect(await alice.nextFrame()).toEqual(join('Bob'));
      expect(await alice.nextFrame()).toEqual(join('Cy'));
      expect(await bob.nextFrame()).toEqual(join('Cy'));

      await redis.stop();
      await c!.close(); // cannot tell anyone: Redis is down, and when it is back it knows nothing of c
      await redis.resume();
      await waitReadyz(a!, 200, 3 * LEASE_MS);
      // After the grace, a and b both find Cy re-asserted by nobody; one leave is written.
      expect(await alice.nextFrame(2 * LEASE_MS)).toEqual(leave('Cy'));
      expect(await bob.nextFrame(2 * LEASE_MS)).toEqual(leave('Cy'));
      const again = await a!.connect();
      again.send({ sender: 'cy', text: '' });
      expect(await again.nextFrame()).toEqual(welcome('cy', ['Alice', 'Bob', 'cy']));
      expect(await alice.nextFrame()).toEqual(join('cy'));
      expect(await bob.nextFrame()).toEqual(join('cy'));
    } finally {
      await redis.stop();
    }
  });

  it('closes with name_lost the users of a node that was cut off and reaped; the others hear one leave each', async () => {
    const redis = await RedisProcess.start();
    await openCluster(redis.url);
    const proxy = await TcpProxy.start(redis.port);
    try {
      const a = await start({ resumeWindowMs: 0, redisUrl: proxy.url, leaseMs: LEASE_MS });
      const b = await start({ resumeWindowMs: 0, redisUrl: redis.url, leaseMs: LEASE_MS });
      const alice = await a.register('Alice');
      const ann = await a.register('Ann');
      const bob = await b.register('Bob');
      // Delivered to a before the cut, so nothing but the error can follow.
      expect(await alice.nextFrame()).toEqual(join('Ann'));
      expect(await alice.nextFrame()).toEqual(join('Bob'));
      expect(await ann.nextFrame()).toEqual(join('Bob'));

      await proxy.cut();
      await waitReadyz(a, 503);
      alice.send({ text: 'hello?' });
      expect(await alice.nextFrame()).toEqual(error('server_unavailable'));
      // b reaps a once its lease has run out.
      const left = [await bob.nextFrame(2 * LEASE_MS + 1_000), await bob.nextFrame(2 * LEASE_MS + 1_000)];
      expect(left).toEqual(expect.arrayContaining([leave('Alice'), leave('Ann')]));
      const dave = await b.register('alice');
      expect(await bob.nextFrame()).toEqual(join('alice'));

      await proxy.mend();
      // Both were announced as gone: each is told why and closed, with no second leave.
      for (const lost of [alice, ann]) {
        expect(await lost.framesUntil((f) => f.type === 'error', 3 * LEASE_MS, 'name_lost')).toContainEqual(
          error('name_lost'),
        );
        expect((await lost.waitClose()).code).toBe(4001);
      }
      await waitReadyz(a, 200, 3 * LEASE_MS);
      const again = await a.register('ANN');
      expect(await bob.nextFrame()).toEqual(join('ANN'));
      expect(await dave.nextFrame()).toEqual(join('ANN'));
      await again.expectQuiet();
    } finally {
      await proxy.cut();
      await redis.stop();
    }
  });

  it('announces the leave of a client that goes while its node, back from an outage, writes the joins it owes', async () => {
    await withProxiedNode(async ({ redis, proxy, x, y, chat }) => {
      const joinScript = asProxySeesIt(scripts.join, 'return -2');
      const ann = chat.join('Ann'); // clients alternate between the nodes: x, y, x
      const watcher = chat.join('Watcher');
      await settle([x, y]);
      watcher.take();

      // Bob's name is granted, then x loses Redis before his join is written: x owes it.
      const firstJoin = proxy.holdNext(joinScript, 2_000, "the first write of Bob's join");
      const bob = chat.open();
      bob.send({ sender: 'Bob', text: '' });
      await firstJoin;
      await proxy.cut();
      const owedJoin = proxy.holdNext(joinScript, 3 * LEASE_MS, "x writing Bob's join after the outage");
      await proxy.mend();
      const letThrough = await owedJoin;
      // x has re-asserted its names and is writing what it owes when Ann goes.
      ann.disconnect();
      await letThrough();
      await x.whenAvailable();
      await settle([x, y]);

      expect(bob.take()).toEqual([welcome('Bob', ['Ann', 'Watcher', 'Bob']), leave('Ann')]);
      expect(watcher.take()).toEqual([join('Bob'), leave('Ann')]);
      await untilRedis(
        redis.url,
        async (r) => (await r.hexists('chat:names', 'ann')) === 0,
        1_000,
        "Ann's name to be free",
      );
    });
  });

  it('lets no claim that reaches Redis after its node gave up on it and recovered hold the name', async () => {
    await withProxiedNode(async ({ proxy, x, chat }) => {
      const claimScript = asProxySeesIt(scripts.claim, 'return -3');
      // Redis is slow to get Bob's claim: x times out, tells Bob, and recovers on a new connection.
      const slowClaim = proxy.holdNext(claimScript, 2_000, "Bob's claim");
      const bob = chat.open(); // on x
      bob.send({ sender: 'Bob', text: '' });
      const landLate = await slowClaim;
      await until(() => bob.frames.length > 0, 2 * LEASE_MS, "x's answer to Bob");
      expect(bob.take()).toEqual([error('server_unavailable')]);
      await x.whenAvailable();
      // Only now does the claim reach Redis, on the connection x gave up.
      await landLate();

      const bea = chat.open(); // on y
      bea.send({ sender: 'BOB', text: '' });
      await until(() => bea.frames.length > 0, 2_000, "y's answer to Bea");
      expect(bea.take()).toEqual([welcome('BOB', ['BOB'])]);
    });
  });
});

interface ProxiedPair {
  redis: RedisProcess;
  proxy: TcpProxy;
  /** The node that reaches Redis through `proxy`, which can cut it off or hold a command back. */
  x: ClusterNode;
  /** The node with a direct line. */
  y: ClusterNode;
  /** A socket-free chat over both: its clients alternate between x and y, starting with x. */
  chat: Chat;
}

/** Runs `test` against a private Redis and two synced nodes, then takes everything down. */
async function withProxiedNode(test: (pair: ProxiedPair) => Promise<void>): Promise<void> {
  const redis = await RedisProcess.start();
  await openCluster(redis.url);
  const proxy = await TcpProxy.start(redis.port);
  const [x, y] = [proxy.url, redis.url].map((url) => clusterNode(url, LEASE_MS, createLogger('silent'))) as [
    ClusterNode,
    ClusterNode,
  ];
  const chat = createChat({ machines: [x, y].map((node) => hubMachine.provide({ actors: clusterActors(node) })) });
  try {
    await Promise.all([x, y].map(serving));
    await test({ redis, proxy, x, y, chat });
  } finally {
    chat.stop();
    await Promise.all([x.close(), y.close()]);
    await proxy.cut();
    await redis.stop();
  }
}

/** A script as the proxy sees it: EVALSHA by its sha, or, the first time on a connection, EVAL with its text (`mark` is in it). */
const asProxySeesIt = (script: ScriptSource, mark: string) => [
  createHash('sha1').update(script.lua).digest('hex'),
  mark,
];

/** Resolves once `done()` holds, looking every 5 ms (a socket-free chat announces nothing); bounded. */
async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
