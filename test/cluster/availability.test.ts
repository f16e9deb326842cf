/**
 * A node's availability machine (src/cluster/availability.machine.ts) against a real Redis:
 * reported to an inspector like the hub's actors, and a first join that fails ends
 * start-up with Redis's own error. test/machines/availability.machine.test.ts drives
 * every transition on a simulated clock.
 */
import { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { joinCluster } from '../../src/cluster/cluster.js';
import { ConfigError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { untilRedis } from '../support/cluster.js';
import { describeWithRedis, RedisProcess, redisPerFile } from '../support/redis-server.js';

const redis = redisPerFile();
const silent = createLogger('silent');

describeWithRedis('cluster: a node availability machine', () => {
  it('reports its availability actor and every state it passes through to the inspector it is given', async () => {
    const seen: InspectionEvent[] = [];
    const node = await joinCluster(redis().url, 1_000, silent, { inspect: (event) => seen.push(event) });
    await node.close();
    const actor = seen.find((e) => e.type === '@xstate.actor')?.actorRef;
    expect((actor as { logic?: { id?: string } } | undefined)?.logic?.id).toBe('clusterNode');
    // Its own snapshots (not its recovery's), one per event it took: a state repeats when an event changed nothing.
    const states = seen.flatMap((e) =>
      e.type === '@xstate.snapshot' && e.actorRef === actor
        ? [JSON.stringify((e.snapshot as { value?: unknown }).value)]
        : [],
    );
    expect(states.filter((state, i) => state !== states[i - 1])).toEqual([
      '"connecting"',
      '"recovering"',
      '{"available":"serving"}',
      '"closed"',
    ]);
  });

  it("ends start-up with Redis's own error when the first join fails, and leaves nothing connected", async () => {
    const broken = await RedisProcess.start();
    const setup = new Redis(broken.url);
    try {
      await setup.set('chat:epoch', 'not a hash'); // the join script fails on it (WRONGTYPE)
      const failed = await joinCluster(broken.url, 1_000, silent).then(
        () => null,
        (err: unknown) => err,
      );
      expect(failed).toBeInstanceOf(ConfigError);
      expect((failed as Error).message).toMatch(/^REDIS_URL: cannot use redis:\/\/127\.0\.0\.1:\d+\/?: WRONGTYPE/);
      // Redis notices the closed connections a moment later.
      await untilRedis(
        broken.url,
        async (r) => !String(await r.client('LIST')).includes('name=chat:'),
        2_000,
        "the failed node's connections to go",
      );
    } finally {
      setup.disconnect();
      await broken.stop();
    }
  });
});
