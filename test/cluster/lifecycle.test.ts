/**
 * A node's life around start-up and close(): on an empty Redis it says why it waits out a
 * grace before serving; it takes no claim before its hub holds the cluster's roster; and
 * a closed node leaves nothing behind — no connection in Redis, no socket or timer in the
 * process. Starting while Redis is out of reach: startup.test.ts.
 */
import { createHook } from 'node:async_hooks';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { hubMachine } from '../../machines/hub.machine.js';
import { clusterActors, clusterNode, startCluster } from '../../src/cluster/cluster.js';
import { createLogger } from '../../src/log.js';
import { joinCluster, serving } from '../support/cluster-node.js';
import { describeWithRedis, RedisProcess, redisPerFile } from '../support/redis-server.js';
import { withTimeout } from '../support/ws-client.js';
import { hubInput } from '../support/hub-input.js';

const redis = redisPerFile();
const silent = createLogger('silent');
let observer: Redis;

describeWithRedis('cluster: a node starting and closing', () => {
  beforeAll(async () => {
    observer = new Redis(redis().url, { lazyConnect: true });
    await observer.connect();
  });
  afterAll(() => observer.disconnect());

  /** Redis's own view: the connections a node opened, by the names it gives them. */
  const connectionsOf = async (node: string) =>
    String(await observer.client('LIST'))
      .split('\n')
      .filter((line) => line.includes(`name=chat:${node}`));

  it('says why it waits when it finds Redis empty, before the grace of one lease, then joins', async () => {
    const empty = await RedisProcess.start();
    const lines: { msg: string; graceMs?: number; at: number }[] = [];
    const capture = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push({ ...(JSON.parse(chunk.toString()) as { msg: string; graceMs?: number }), at: Date.now() });
        done();
      },
    });
    try {
      const started = Date.now();
      const node = await joinCluster(empty.url, 1_000, createLogger('info', capture));
      await node.close();
      const [waiting, joined] = [
        lines.find((l) => l.msg.startsWith('a grace is running')),
        lines.find((l) => l.msg === 'joined the cluster'),
      ];
      expect(waiting?.msg).toBe('a grace is running (redis was found empty): waiting it out before serving');
      expect(waiting!.graceMs).toBeGreaterThan(0);
      expect(waiting!.graceMs).toBeLessThanOrEqual(1_000);
      expect(joined!.at - started).toBeGreaterThanOrEqual(waiting!.graceMs! - 50);
      // Said before the wait, not after it: the operator sees why nothing listens yet.
      expect(joined!.at - waiting!.at).toBeGreaterThanOrEqual(waiting!.graceMs! - 50);
      expect(lines.indexOf(waiting!)).toBeLessThan(lines.indexOf(joined!));
    } finally {
      await empty.stop();
    }
  });

  it('takes no claim until its hub holds the roster, and serves once it does', async () => {
    const node = clusterNode(redis().url, 1_000, silent);
    try {
      const started = startCluster(node);
      // Joined Redis, but nothing reads its log yet, so the roster has gone nowhere.
      await withTimeout(node.whenAvailable(), 2_000, 'the node to reach Redis');
      expect((await node.debugState()).state).toBe('available');
      expect(node.isServing).toBe(false);
      expect(await node.claim('c1', 'Alice', 's1', 'hash-1')).toBe('unavailable');

      // What the hub's bus does when the hub starts; here the log goes nowhere.
      const nowhere = () => {};
      node.deliverTo(nowhere, nowhere);
      expect(await withTimeout(started, 2_000, 'the node to serve')).toBe('serving');
      expect(node.isServing).toBe(true);
      expect(await node.claim('c1', 'Alice', 's1', 'hash-1')).toBe('granted');
    } finally {
      await node.close();
    }
  });

  it('leaves no connection in Redis and no socket or timer in the process after close()', async () => {
    const alive = new Map<number, string>();
    let recording = true;
    // Every timer and TCP socket created from here to close(), until each is cleared or closed.
    const hook = createHook({
      init: (id, type) => recording && (type === 'Timeout' || type === 'TCPWRAP') && alive.set(id, type),
      destroy: (id) => alive.delete(id),
    }).enable();
    const node = clusterNode(redis().url, 1_000, silent);
    const hub = createActor(hubMachine.provide({ actors: clusterActors(node) }), {
      input: hubInput(),
    }).start();
    await serving(node);
    expect(await connectionsOf(node.id)).toHaveLength(2);
    hub.stop();
    await node.close();
    recording = false;
    expect(await connectionsOf(node.id)).toEqual([]);
    // Sockets are destroyed a moment after close() resolves: wait (bounded) for the last one.
    try {
      await withTimeout(
        (async () => {
          while (alive.size > 0) await new Promise((resolve) => setImmediate(resolve));
        })(),
        2_000,
        'every timer and socket of the node to go',
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; still open: ${JSON.stringify([...alive.values()])}`, { cause: err });
    } finally {
      hook.disable();
    }
  });
});
