/**
 * The shared log's bounds in Redis (issue 14): trimmed by estimated bytes (LOG_MAX_BYTES),
 * by age (LOG_MAX_AGE_MS) and by count, so that one source flooding maximal messages cannot
 * fill Redis; and a Redis that reached `maxmemory` does not take the chat down with it.
 */
import { Redis } from 'ioredis';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { clusterNode, type ClusterNode, type LogLimits } from '../../src/cluster/cluster.js';
import { ENTRY_OVERHEAD } from '../../src/cluster/lua.js';
import { createLogger } from '../../src/log.js';
import { addressLimitsOff } from '../support/address-limits-off.js';
import { untilRedis, waitReadyz } from '../support/cluster.js';
import { serving } from '../support/cluster-node.js';
import { error, expectOwnCopy, message } from '../support/expected.js';
import { describeWithRedis, redisPerTest } from '../support/redis-server.js';
import { serverPerTest } from '../support/test-server.js';
import { DEFAULT_WAIT_MS, type Frame, type TestSocket } from '../support/ws-client.js';

const redis = redisPerTest();
const start = serverPerTest();
let inspect: Redis;

beforeEach(async () => {
  inspect = new Redis(redis().url, { lazyConnect: true });
  await inspect.connect();
});
afterEach(() => inspect.disconnect());

/** The longest text at the defaults, 4 bytes a code point: some 16 KiB an entry. */
const maximal = (i: number) => String(i).padStart(4, '0') + '😀'.repeat(4092);

/** lua.ts's estimate of an entry, worked out again from what XRANGE returns. */
const estimate = (fields: string[]) => {
  const size = fields.reduce((sum, field) => sum + Buffer.byteLength(field), 0);
  return size + Math.floor(size / 4) + ENTRY_OVERHEAD;
};

async function logState() {
  const entries = (await inspect.xrange('chat:log', '-', '+')) as Array<[string, string[]]>;
  return {
    length: await inspect.xlen('chat:log'),
    bytes: Number(await inspect.get('chat:log:bytes')),
    recounted: entries.reduce((sum, [, fields]) => sum + estimate(fields), 0),
    memory: Number(await inspect.call('MEMORY', 'USAGE', 'chat:log', 'SAMPLES', '0')),
    times: entries.map(([, fields]) => Number(fields[fields.indexOf('t') + 1])),
  };
}

/**
 * Sends `count` maximal texts, 8 at a time, and returns what came back for each: a flood
 * as fast as the chat answers. (Far more at once would be trimmed from the log before
 * the nodes read it, which is the count bound's old rule: a node too far behind resyncs.)
 */
async function flood(sender: TestSocket, count: number): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (let i = 0; i < Math.min(8, count); i++) sender.send({ text: maximal(i) });
  for (let i = 0; i < count; i++) {
    frames.push(await sender.nextFrame(DEFAULT_WAIT_MS, `the answer to text ${i} of ${count}`));
    if (i + 8 < count) sender.send({ text: maximal(i + 8) });
  }
  return frames;
}

/** A node without a hub or sockets, holding Alice's name and joined, to write entries with chosen times. */
async function nodeWithAlice(logLimits: LogLimits): Promise<ClusterNode> {
  const node = clusterNode(redis().url, 1_000, createLogger('silent'), { logLimits });
  node.deliverTo(
    () => {},
    () => {},
  );
  await serving(node);
  expect(await node.claim('c1', 'Alice', 'session-1', 'hash-1')).toBe('granted');
  await node.publish({ type: 'join', name: 'Alice', from: 'c1', session: 'session-1' });
  return node;
}

const redisNow = ([seconds = 0, micros = 0]: Array<string | number>) =>
  Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);

const say = (node: ClusterNode, text: string, ts: number) =>
  node.publish({ type: 'message', name: 'Alice', from: 'c1', session: 'session-1', text, ts });

describeWithRedis('cluster: the log stays within its bounds in Redis', () => {
  it('keeps the log within LOG_MAX_BYTES under a flood of maximal messages, and every node still delivers them all in order', async () => {
    const maxBytes = 512 * 1024;
    const options = { redisUrl: redis().url, resumeWindowMs: 0, rateBurst: 0, ...addressLimitsOff };
    const [a, b] = await Promise.all([1, 2].map(() => start({ ...options, logMaxBytes: maxBytes })));
    const bob = await b!.register('Bob');
    const mallory = await a!.register('Mallory');
    await bob.nextFrame(); // Mallory's join

    const count = 120; // some 2 MB of text, four times the bound
    const answers = await flood(mallory, count);
    answers.forEach((frame, i) => expectOwnCopy(frame, maximal(i)));
    const seen = [];
    for (let i = 0; i < count; i++) seen.push(await bob.nextFrame(20_000, `message ${i}`));
    seen.forEach((frame, i) => expect(frame).toEqual(message('Mallory', maximal(i))));
    const ids = seen.map((frame) => Number(frame.id));
    expect(ids).toEqual([...ids].sort((x, y) => x - y));

    const log = await logState();
    expect(log.bytes).toBeLessThanOrEqual(maxBytes);
    expect(log.bytes).toBe(log.recounted); // the running estimate agrees with what is there
    expect(log.length).toBeLessThan(count / 3);
    // Measured: Redis spends 1.02× the estimate on entries this size.
    expect(log.memory).toBeLessThanOrEqual(1.2 * maxBytes);
  }, 120_000);

  it('drops entries older than LOG_MAX_AGE_MS, by the time each entry carries', async () => {
    const maxAgeMs = 1_000;
    const node = await nodeWithAlice({ maxBytes: 0, maxAgeMs });
    try {
      for (const text of ['one', 'two', 'three']) expect(await say(node, text, Date.now())).toBe(true);
      const before = await logState();
      expect(before.length).toBe(4); // the join and three messages, all younger than the bound
      // Until Redis's clock has passed the age bound of every entry: nothing announces it.
      const newest = Math.max(...before.times);
      await untilRedis(
        redis().url,
        async (r) => redisNow(await r.time()) > newest + maxAgeMs,
        5_000,
        'the age bound to pass',
      );
      expect(await say(node, 'fresh', Date.now())).toBe(true);
      const after = await logState();
      expect(after.length).toBe(1);
      expect(after.bytes).toBe(after.recounted);
    } finally {
      await node.close();
    }
  });

  it('keeps at most the count bound of entries, exactly', async () => {
    const node = await nodeWithAlice({ maxCount: 10, maxBytes: 0, maxAgeMs: 0 });
    try {
      for (let i = 0; i < 30; i++) expect(await say(node, `line ${i}`, Date.now())).toBe(true);
      const log = await logState();
      expect(log.length).toBe(10);
      expect(log.bytes).toBe(log.recounted);
    } finally {
      await node.close();
    }
  });

  it('recovers from an estimate that counts entries no longer there (an older node trimmed them), instead of keeping one entry for good', async () => {
    const maxBytes = 64 * 1024;
    const node = await nodeWithAlice({ maxBytes, maxAgeMs: 0 });
    try {
      // As if entries had been counted and then dropped by something else: far over the bound.
      await inspect.set('chat:log:bytes', String(100 * maxBytes));
      expect(await say(node, 'first after', Date.now())).toBe(true);
      const trimmed = await logState();
      expect(trimmed.length).toBe(1);
      expect(trimmed.bytes).toBe(trimmed.recounted);
      // From there the log grows again as it should.
      for (let i = 0; i < 5; i++) expect(await say(node, `line ${i}`, Date.now())).toBe(true);
      const after = await logState();
      expect(after.length).toBe(6);
      expect(after.bytes).toBe(after.recounted);
    } finally {
      await node.close();
    }
  });

  it('goes on serving when Redis reaches maxmemory under a flood: the oldest entries make room, and a bystander is not refused', async () => {
    const options = { redisUrl: redis().url, resumeWindowMs: 0, rateBurst: 0, ...addressLimitsOff };
    // LOG_MAX_BYTES (64 MiB) far above what this Redis may hold: maxmemory is reached first.
    const [a, b] = await Promise.all([1, 2].map(() => start(options)));
    const bob = await b!.register('Bob');
    const mallory = await a!.register('Mallory');
    await bob.nextFrame();
    const used = Number(/used_memory:(\d+)/.exec(await inspect.info('memory'))![1]);
    const maxmemory = used + 2 * 1024 * 1024;
    await inspect.config('SET', 'maxmemory-policy', 'noeviction');
    await inspect.config('SET', 'maxmemory', String(maxmemory));

    const answers = await flood(mallory, 300); // some 5 MB of text
    answers.forEach((frame, i) => expectOwnCopy(frame, maximal(i)));
    bob.send({ text: 'still here' });
    const frames = await bob.framesUntil((frame) => frame.text === 'still here', 20_000, "Bob's own copy");
    expectOwnCopy(frames.at(-1)!, 'still here');
    await waitReadyz(a!, 200, 1_000);
    await waitReadyz(b!, 200, 1_000);
    const log = await logState();
    expect(log.bytes).toBe(log.recounted);
    const usedNow = Number(/used_memory:(\d+)/.exec(await inspect.info('memory'))![1]);
    expect(usedNow).toBeLessThan(maxmemory + 64 * 1024); // over by one entry at most
  });

  it('keeps a node ready and its lease alive while something else fills Redis: only claims and messages are refused, and served again once there is room', async () => {
    const leaseMs = 1_500;
    const options = { redisUrl: redis().url, resumeWindowMs: 0, leaseMs, ...addressLimitsOff };
    const [a, b] = await Promise.all([1, 2].map(() => start(options)));
    const alice = await a!.register('Alice');
    const bob = await b!.register('Bob');
    await alice.nextFrame(); // Bob's join
    await inspect.config('SET', 'maxmemory-policy', 'noeviction');
    await inspect.config('SET', 'maxmemory', '1');
    await inspect.del('chat:log', 'chat:log:bytes'); // no log left to give up

    bob.send({ text: 'refused' });
    expect(await bob.nextFrame()).toEqual(error('server_unavailable'));
    // Until each node has renewed its lease twice (its TTL went up), both ready at every look:
    // the renewals a full Redis must not refuse, and no reaping taking a node for dead.
    const ttls = new Map<string, number>();
    const renewals = new Map<string, number>();
    await untilRedis(
      redis().url,
      async (r) => {
        expect((await a!.get('/readyz')).status).toBe(200);
        expect((await b!.get('/readyz')).status).toBe(200);
        for (const key of await r.keys('chat:lease:*')) {
          const ttl = await r.pttl(key);
          if (ttl > (ttls.get(key) ?? Infinity)) renewals.set(key, (renewals.get(key) ?? 0) + 1);
          ttls.set(key, ttl);
        }
        return renewals.size === 2 && [...renewals.values()].every((count) => count >= 2);
      },
      4 * leaseMs,
      'two lease renewals by each node',
    );
    await alice.expectQuiet();

    await inspect.config('SET', 'maxmemory', '0');
    bob.send({ text: 'served' });
    expect(await alice.nextFrame()).toEqual(message('Bob', 'served'));
  });
});
