/**
 * A node's life around start-up and close(): on an empty Redis it says why it waits out a
 * grace before serving; a roster that cannot be read in time fails start-up with one
 * clear line; and a closed node leaves nothing behind — no connection in Redis, no socket
 * or timer in the process.
 */
import { createHook } from 'node:async_hooks';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { hubMachine } from '../../machines/hub.machine.js';
import { clusterActors, joinCluster, rosterDelivered } from '../../src/cluster/cluster.js';
import { ConfigError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
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

  it('fails start-up with one line when the roster cannot be delivered within a lease, and leaves the cluster', async () => {
    const node = await joinCluster(redis().url, 1_000, silent);
    // No hub ever reads the log, so the roster is never delivered.
    const failed = await withTimeout(
      rosterDelivered(node).then(
        () => null,
        (err: unknown) => err,
      ),
      3_000,
      'start-up to give up',
    );
    expect(failed).toBeInstanceOf(ConfigError);
    expect((failed as Error).message).toMatch(/^REDIS_URL: could not read the chat's roster from Redis within 1000 ms/);
    expect((await node.debugState()).state).toBe('closed');
    expect(await connectionsOf(node.id)).toEqual([]);
  });

  it('leaves no connection in Redis and no socket or timer in the process after close()', async () => {
    const alive = new Map<number, string>();
    let recording = true;
    // Every timer and TCP socket created from here to close(), until each is cleared or closed.
    const hook = createHook({
      init: (id, type) => recording && (type === 'Timeout' || type === 'TCPWRAP') && alive.set(id, type),
      destroy: (id) => alive.delete(id),
    }).enable();
    const node = await joinCluster(redis().url, 1_000, silent);
    const hub = createActor(hubMachine.provide({ actors: clusterActors(node) }), {
      input: hubInput(),
    }).start();
    await rosterDelivered(node);
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
