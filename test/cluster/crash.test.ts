/**
 * SPEC §7: a node killed with SIGKILL stops renewing its lease. Within LEASE_MS plus a
 * second, every other node announces a leave for each of its users (one per name, however
 * many nodes survive) and the names can be taken again.
 */
import type { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { join, leave } from '../support/expected.js';
import { TcpProxy, untilRedis, waitReadyz } from '../support/cluster.js';
import { describeWithRedis, redisPerFile } from '../support/redis-server.js';
import { startServerProcess } from '../support/server-process.js';
import { TestSocket } from '../support/ws-client.js';
import { claim, serverPerTest } from '../support/test-server.js';

const redis = redisPerFile();
const start = serverPerTest();
/** Short, so the test is quick; long enough (renewals every 1.3 s, commands time out after 2 s) that a busy machine does not miss one. */
const LEASE_MS = 4_000;

describeWithRedis('cluster: a node that dies (SPEC §7)', () => {
  it('has its users announced as gone by both survivors, once each, within LEASE_MS + 1 s; the names are free again', async () => {
    const [b, c] = await Promise.all(
      [1, 2].map(() => start({ resumeWindowMs: 0, redisUrl: redis().url, leaseMs: LEASE_MS })),
    );
    const victim = await startServerProcess({ resumeWindowMs: 0, redisUrl: redis().url, leaseMs: LEASE_MS });
    try {
      const bea = await b!.register('Bea');
      const cid = await c!.register('Cid');
      for (const name of ['Alice', 'Ann']) await claim(await TestSocket.open(victim.url, { label: name }), name);
      for (const watcher of [bea, cid]) {
        const joins = await watcher.framesUntil((f) => f.type === 'join' && f.name === 'Ann', 5_000, 'the join of Ann');
        expect(joins.filter((f) => f.type === 'join' && (f.name === 'Alice' || f.name === 'Ann'))).toHaveLength(2);
      }

      process.kill(victim.pid, 'SIGKILL');
      const killedAt = Date.now();
      const timeLeft = () => Math.max(1, LEASE_MS + 1_000 - (Date.now() - killedAt));
      for (const watcher of [bea, cid]) {
        const left = [
          await watcher.nextFrame(timeLeft(), 'the first leave'),
          await watcher.nextFrame(timeLeft(), 'the second leave'),
        ];
        expect(left).toEqual(expect.arrayContaining([leave('Alice'), leave('Ann')]));
      }
      expect(Date.now() - killedAt).toBeLessThanOrEqual(LEASE_MS + 1_000);

      // The names are free; and the next frame after the two leaves is this join, so no
      // survivor announced a leave twice.
      const again = await c!.register('alice');
      for (const watcher of [bea, cid]) expect(await watcher.nextFrame()).toEqual(join('alice'));
      await again.expectQuiet();
      await b!.register('ANN');
    } finally {
      killQuietly(victim.pid); // if the test failed before the kill
    }
  });

  it('still announces them within LEASE_MS + 1 s when the only survivor lost Redis briefly meanwhile', async () => {
    const proxy = await TcpProxy.start(redis().port);
    const victim = await startServerProcess({ resumeWindowMs: 0, redisUrl: redis().url, leaseMs: LEASE_MS });
    try {
      const b = await start({ resumeWindowMs: 0, redisUrl: proxy.url, leaseMs: LEASE_MS });
      const bea = await b.register('Bea');
      await claim(await TestSocket.open(victim.url, { label: 'Vic' }), 'Vic');
      expect(await bea.nextFrame(5_000, 'the join of Vic')).toEqual(join('Vic'));

      process.kill(victim.pid, 'SIGKILL');
      const killedAt = Date.now();
      // Late in the victim's lease (over a second after the kill), a blip far shorter than a
      // lease: b's own lease survives it, so nobody's can have run out, and b need not wait
      // a whole lease before it reaps.
      // Live nodes renew theirs every LEASE_MS/3: only the dead node's lease gets this low.
      const ttls = async (r: Redis) => Promise.all((await r.keys('chat:lease:*')).map((key) => r.pttl(key)));
      await untilRedis(
        redis().url,
        async (r) => (await ttls(r)).some((ttl) => ttl >= 0 && ttl < 800),
        LEASE_MS,
        'a lease about to run out',
      );
      expect(Date.now() - killedAt).toBeGreaterThan(1_000);
      await proxy.cut();
      await waitReadyz(b, 503);
      await proxy.mend();
      await waitReadyz(b, 200);
      expect(await bea.nextFrame(Math.max(1, LEASE_MS + 1_000 - (Date.now() - killedAt)), 'the leave of Vic')).toEqual(
        leave('Vic'),
      );
      expect(Date.now() - killedAt).toBeLessThanOrEqual(LEASE_MS + 1_000);
    } finally {
      killQuietly(victim.pid);
      await proxy.cut();
    }
  });
});

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}
