/**
 * SPEC §7: a node killed with SIGKILL stops renewing its lease. Within LEASE_MS plus a
 * second, every other node announces a leave for each of its users (one per name, however
 * many nodes survive) and the names can be taken again.
 */
import { expect, it } from 'vitest';
import { join, leave } from '../support/expected.js';
import { describeWithRedis, redisPerFile } from '../support/redis-server.js';
import { startServerProcess } from '../support/server-process.js';
import { claim, serverPerTest, TestSocket } from '../support/ws-client.js';

const redis = redisPerFile();
const start = serverPerTest();
/** Short, so the test is quick; long enough that a busy machine does not miss a renewal. */
const LEASE_MS = 2_000;

describeWithRedis('cluster: a node that dies (SPEC §7)', () => {
  it('has its users announced as gone by both survivors, once each, within LEASE_MS + 1 s; the names are free again', async () => {
    const [b, c] = await Promise.all([1, 2].map(() => start({ redisUrl: redis().url, leaseMs: LEASE_MS })));
    const victim = await startServerProcess({ redisUrl: redis().url, leaseMs: LEASE_MS });
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
        const left = [await watcher.nextFrame(timeLeft(), 'the first leave'), await watcher.nextFrame(timeLeft(), 'the second leave')];
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
});

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}
