/**
 * SPEC §7 when Redis comes back empty. Every node that finds Redis empty starts a grace of
 * one lease, during which nobody claims and older nodes re-assert their names; names that
 * no one re-asserts (their node died meanwhile) are announced as gone before any new claim.
 */
import { expect, it } from 'vitest';
import { error, join, leave, nameTaken, welcome } from '../support/expected.js';
import { TcpProxy, untilRedis } from '../support/cluster.js';
import { describeWithRedis, openCluster, RedisProcess } from '../support/redis-server.js';
import { type Frame, type TestSocket } from '../support/ws-client.js';
import { serverPerTest } from '../support/test-server.js';

const start = serverPerTest();
const LEASE_MS = 3_000;

describeWithRedis('cluster: Redis came back empty (SPEC §7)', () => {
  it('makes a node that finds Redis empty before the older nodes wait for them: they keep their names and its welcome lists them', async () => {
    const redis = await RedisProcess.start();
    await openCluster(redis.url);
    const proxies = await Promise.all([1, 2].map(() => TcpProxy.start(redis.port)));
    try {
      const [a, b] = await Promise.all(
        proxies.map((proxy) => start({ resumeWindowMs: 0, redisUrl: proxy.url, leaseMs: LEASE_MS })),
      );
      const alice = await a!.register('Alice');
      const bob = await b!.register('Bob');
      expect(await alice.nextFrame()).toEqual(join('Bob'));

      await Promise.all(proxies.map((proxy) => proxy.cut()));
      await redis.stop();
      await redis.resume();
      // A new node reaches the empty Redis first, while the older two are still cut off.
      const starting = start({ resumeWindowMs: 0, redisUrl: redis.url, leaseMs: LEASE_MS });
      await untilRedis(
        redis.url,
        async (r) => (await r.hexists('chat:epoch', 'id')) === 1,
        5_000,
        'the epoch in the emptied Redis',
      );
      await Promise.all(proxies.map((proxy) => proxy.mend()));
      const fresh = await starting;

      const taker = await fresh.connect();
      taker.send({ sender: 'alice', text: '' });
      expect(await taker.nextFrame()).toEqual(nameTaken);
      const carol = await fresh.connect();
      carol.send({ sender: 'Carol', text: '' });
      expect(await carol.nextFrame()).toEqual(welcome('Carol', ['Alice', 'Bob', 'Carol']));
      expect(await alice.nextFrame()).toEqual(join('Carol'));
      expect(await bob.nextFrame()).toEqual(join('Carol'));
      await Promise.all([alice.expectQuiet(), bob.expectQuiet()]);
    } finally {
      await Promise.all(proxies.map((proxy) => proxy.cut()));
      await redis.stop();
    }
  });

  it('announces the users of a node lost with the data before anyone may take their names', async () => {
    const redis = await RedisProcess.start();
    await openCluster(redis.url);
    try {
      const [a, c] = await Promise.all(
        [1, 2].map(() => start({ resumeWindowMs: 0, redisUrl: redis.url, leaseMs: LEASE_MS })),
      );
      const alice = await a!.register('Alice');
      // Enough names that announcing them takes a while, and the last one is claimed at once.
      const ghosts = Array.from({ length: 20 }, (_, i) => `Cy${i}`);
      for (const name of ghosts) {
        await c!.register(name);
        expect(await alice.nextFrame()).toEqual(join(name));
      }

      await redis.stop();
      await c!.close(); // cannot tell anyone: Redis is down, and when it is back it knows nothing of c
      await redis.resume();
      const claimer = await a!.connect();
      const answer = await claimUntilAnswered(claimer, 'cy19', 3 * LEASE_MS);
      expect(answer).toEqual(welcome('cy19', ['Alice', 'cy19']));
      // Every leave first (one each), then the join: a leave after it would drop the wrong name.
      const seen = await alice.framesUntil((f) => f.type === 'join', 2 * LEASE_MS, 'the join of cy19');
      expect(seen.at(-1)).toEqual(join('cy19'));
      expect(seen.slice(0, -1)).toHaveLength(ghosts.length);
      expect(seen.slice(0, -1)).toEqual(expect.arrayContaining(ghosts.map(leave)));
      const later = await a!.connect();
      later.send({ sender: 'Dee', text: '' });
      expect(await later.nextFrame()).toEqual(welcome('Dee', ['Alice', 'cy19', 'Dee']));
    } finally {
      await redis.stop();
    }
  });
});

/** Sends a claim again after every server_unavailable, until some other answer comes. */
async function claimUntilAnswered(socket: TestSocket, name: string, timeoutMs: number): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    socket.send({ sender: name, text: '' });
    const answer = await socket.nextFrame(Math.max(1, deadline - Date.now()), `an answer to the claim of ${name}`);
    if (answer.type !== 'error') return answer;
    expect(answer).toEqual(error('server_unavailable'));
  }
}
