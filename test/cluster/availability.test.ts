/**
 * A node's availability machine (src/cluster/availability.machine.ts) against a real Redis:
 * reported to an inspector like the hub's actors; a first join that fails ends start-up
 * with Redis's own error; and what the node logs on its way back from an outage says
 * when it truly serves again. test/machines/availability.machine.test.ts drives every
 * transition on a simulated clock.
 */
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { ConfigError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { TcpProxy, untilRedis } from '../support/cluster.js';
import { joinCluster } from '../support/cluster-node.js';
import { describeWithRedis, openCluster, RedisProcess, redisPerFile } from '../support/redis-server.js';
import { withTimeout } from '../support/ws-client.js';

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
    // Redis was opened: no grace. The roster awaited, delivered (to nothing here), then serving.
    expect(states.filter((state, i) => state !== states[i - 1])).toEqual([
      '"connecting"',
      '"recovering"',
      '{"available":"roster"}',
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

describeWithRedis('cluster: what a node says on its way back from an outage', () => {
  it('says a grace holds claims back when Redis came back empty, and says it serves only once the grace is over', async () => {
    const redis = await RedisProcess.start();
    await openCluster(redis.url);
    const log = new LogCapture();
    const node = await joinCluster(redis.url, 1_000, createLogger('info', log.stream));
    try {
      await redis.stop();
      await log.said('redis unavailable; refusing claims and messages');
      await redis.resume(); // empty: this node is the first back, and starts a grace of its lease
      const back = await log.said(
        'redis reachable again; a grace is running (redis was found empty): refusing claims until it ends',
      );
      expect(back.graceMs).toBeGreaterThan(0);
      expect(back.graceMs).toBeLessThanOrEqual(1_000);
      expect(node.isServing).toBe(false);
      expect(await node.claim('c1', 'Alice', 's1', 'hash-1')).toBe('unavailable');

      const over = await log.said('grace over; serving', 2_000);
      expect(over.at - back.at).toBeGreaterThanOrEqual(back.graceMs! - 50);
      expect(node.isServing).toBe(true);
      expect(await node.claim('c1', 'Alice', 's1', 'hash-1')).toBe('granted');
      const sequence = log.lines
        .map((line) => line.msg)
        .filter((msg) => /unavailable|reachable|grace|serving/.test(msg));
      expect(sequence).toEqual([
        'redis unavailable; refusing claims and messages',
        'redis reachable again; a grace is running (redis was found empty): refusing claims until it ends',
        'grace over; serving',
      ]);
    } finally {
      await node.close();
      await redis.stop();
    }
  });

  it('says it serves as soon as it is back when Redis kept its data', async () => {
    const proxy = await TcpProxy.start(redis().port);
    const log = new LogCapture();
    const node = await joinCluster(proxy.url, 1_000, createLogger('info', log.stream));
    try {
      await proxy.cut();
      await log.said('redis unavailable; refusing claims and messages');
      await proxy.mend();
      const back = await log.said('redis reachable again; serving');
      expect(back.outageMs).toBeGreaterThanOrEqual(0);
      expect(node.isServing).toBe(true);
      expect(log.lines.filter((line) => line.msg.includes('grace'))).toEqual([]);
    } finally {
      await node.close();
      await proxy.cut();
    }
  });
});

interface LogLine {
  msg: string;
  graceMs?: number;
  outageMs?: number;
  /** When the line was written (local ms). */
  at: number;
}

/** A pino destination that keeps every line, and waits (bounded) for a given one. */
class LogCapture {
  readonly lines: LogLine[] = [];
  private readonly waiting = new Set<() => void>();
  readonly stream = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      this.lines.push({ ...(JSON.parse(chunk.toString()) as LogLine), at: Date.now() });
      for (const check of this.waiting) check();
      done();
    },
  });

  /** The first line with message `msg`, once it has been written. */
  said(msg: string, timeoutMs = 5_000): Promise<LogLine> {
    let check = () => {};
    const found = new Promise<LogLine>((resolve) => {
      check = () => {
        const line = this.lines.find((l) => l.msg === msg);
        if (line !== undefined) resolve(line);
      };
      this.waiting.add(check);
      check();
    });
    return withTimeout(found, timeoutMs, `the log line "${msg}"`).finally(() => this.waiting.delete(check));
  }
}
