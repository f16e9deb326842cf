/**
 * A private redis-server per test file: Debian's binary on a free loopback port, nothing
 * saved to disk, stopped after the file. Never the machine's shared Redis on 6379.
 *
 *   const redis = redisPerFile();          // started in beforeAll, stopped in afterAll
 *   describeWithRedis('...', () => { ... redis().url ... });
 *
 * Without redis-server the cluster suites skip with a loud warning on a developer's
 * machine, and fail under CI=true (.ci/run installs the package).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe } from 'vitest';
import { openCluster, RedisProcess, redisServerBinary } from './redis-process.js';

export { freePort, openCluster, RedisProcess, redisServerBinary } from './redis-process.js';

if (redisServerBinary === null) {
  if (process.env.CI === 'true') {
    throw new Error(
      'redis-server is not installed, and CI=true: the cluster tests must run (.ci/run installs it with apt-get)',
    );
  }
  console.warn(
    '\n**********\n* SKIPPED: redis-server not found; the cluster tests need it (apt-get install redis-server)\n**********\n',
  );
}

/** `describe`, or `describe.skip` when redis-server is missing on a developer's machine. */
export const describeWithRedis = redisServerBinary === null ? describe.skip : describe;

/** A private Redis for this test file, its cluster opened; call the returned function inside tests. */
export function redisPerFile(): () => RedisProcess {
  return privateRedis(beforeAll, afterAll);
}

/** A private Redis for each test of the file, its cluster opened; call the returned function inside tests. */
export function redisPerTest(): () => RedisProcess {
  return privateRedis(beforeEach, afterEach);
}

function privateRedis(
  before: (hook: () => Promise<void>) => void,
  after: (hook: () => Promise<void>) => void,
): () => RedisProcess {
  let redis: RedisProcess | null = null;
  before(async () => {
    if (redisServerBinary === null) return;
    redis = await RedisProcess.start();
    await openCluster(redis.url);
  });
  after(async () => {
    await redis?.stop();
    redis = null;
  });
  return () => {
    if (redis === null) throw new Error('redis-server is not running');
    return redis;
  };
}
