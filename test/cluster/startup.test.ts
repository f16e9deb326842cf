/**
 * A node started while its Redis is out of reach, through the real command line: it
 * listens, is alive but not ready, answers registrations the way every node does during
 * an outage, keeps trying, and joins and serves once Redis is up, with no restart. SIGTERM
 * meanwhile stops it at once. Redis refusing its password, before or after that wait,
 * stops it with exit 1 and one line (src/cluster/refusal.ts says what counts as a refusal).
 */
import { expect, it } from 'vitest';
import { cliPerTest, listeningPort, logged, START_MS, type Cli } from '../support/cli.js';
import { waitReadyz } from '../support/cluster.js';
import { error, expectOwnCopy, join, message, welcome } from '../support/expected.js';
import { describeWithRedis, freePort, RedisProcess } from '../support/redis-server.js';
import { serverPerTest } from '../support/test-server.js';
import { TestSocket, withTimeout } from '../support/ws-client.js';

const runCli = cliPerTest();
const start = serverPerTest();
const LEASE_MS = 1_000;
const WAITING = 'redis unreachable at start; not ready, trying again until it answers';

/** The CLI with cluster mode on `redisUrl`, logging at info, on a free loopback port. */
function node(redisUrl: string): Cli {
  return runCli([], {
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    REDIS_URL: redisUrl,
    LEASE_MS: String(LEASE_MS),
  });
}

/** GET on a CLI's port. */
const httpOf = (port: number) => ({
  get: (path: string) => fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2_000) }),
});

describeWithRedis('cluster: a node started while Redis is out of reach', () => {
  it('listens but is not ready, refuses registrations as in an outage, then joins once Redis is up and serves with no restart', async () => {
    const redis = await RedisProcess.reserve({ password: 'hunter2' }); // a port with nothing on it, yet
    const cli = node(redis.url);
    try {
      const port = await listeningPort(cli);
      const http = httpOf(port);
      const waiting = await logged(cli, WAITING);
      expect(waiting).toMatchObject({ level: 40, redis: `redis://:***@127.0.0.1:${redis.port}` });
      expect((await http.get('/healthz')).status).toBe(200);
      const readyz = await http.get('/readyz');
      expect(readyz.status).toBe(503);
      expect(await readyz.json()).toEqual({ status: 'redis unavailable' });
      const alice = await TestSocket.open(`ws://127.0.0.1:${port}/ws`, { label: 'Alice' });
      alice.send({ sender: 'Alice', text: '' });
      expect(await alice.nextFrame()).toEqual(error('server_unavailable'));

      await redis.resume(); // empty: this node starts a grace of its lease, then reads the roster
      await waitReadyz(http, 200, 3 * LEASE_MS + 2_000);
      await logged(cli, 'joined the cluster', 1_000);
      // The client that was refused meanwhile is still connected, and may register now.
      alice.send({ sender: 'Alice', text: '' });
      expect(await alice.nextFrame()).toEqual(welcome('Alice', ['Alice']));

      const other = await start({ redisUrl: redis.url, leaseMs: LEASE_MS });
      const bob = await other.register('Bob');
      expect(await alice.nextFrame()).toEqual(join('Bob'));
      alice.send({ text: 'hello Bob' });
      expectOwnCopy(await alice.nextFrame(), 'hello Bob');
      expect(await bob.nextFrame()).toEqual(message('Alice', 'hello Bob'));
      bob.send({ text: 'hello Alice' });
      expect(await alice.nextFrame()).toEqual(message('Bob', 'hello Alice'));

      // One warning, not one per attempt; the password never in a line.
      expect(cli.logLines.filter((line) => line.msg === WAITING)).toHaveLength(1);
      expect(cli.stdout() + cli.stderr()).not.toContain('hunter2');
    } finally {
      cli.child.kill('SIGKILL');
      await redis.stop();
    }
  });

  it('on SIGTERM while waiting for Redis, closes its clients with 1001 and exits 0 within 5 s', async () => {
    const cli = node(`redis://127.0.0.1:${await freePort()}`);
    const port = await listeningPort(cli);
    await logged(cli, WAITING);
    const client = await TestSocket.open(`ws://127.0.0.1:${port}/ws`);

    const sentAt = Date.now();
    cli.child.kill('SIGTERM');
    expect((await client.waitClose(5_000)).code).toBe(1001);
    const exit = await withTimeout(cli.exited, 5_000 - (Date.now() - sentAt), 'the CLI to exit');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(cli.logLines.map((line) => line.msg)).toEqual(expect.arrayContaining(['shutting down', 'stopped']));
    expect(cli.stderr()).toBe('');
  });

  it('exits 1 at once, with one line naming REDIS_URL and no password, when Redis refuses its password', async () => {
    const redis = await RedisProcess.start({ password: 'right' });
    try {
      const cli = node(`redis://:wrong-one@127.0.0.1:${redis.port}`);
      const exit = await withTimeout(cli.exited, START_MS, 'the CLI to exit');
      expect(exit.code).toBe(1);
      expect(cli.stderr()).toMatch(
        new RegExp(
          `^chat-backend: REDIS_URL: cannot use redis://:\\*\\*\\*@127\\.0\\.0\\.1:${redis.port}: WRONGPASS .*\\n$`,
        ),
      );
      expect(cli.stdout() + cli.stderr()).not.toContain('wrong-one');
      expect(cli.logLines.find((line) => line.msg === 'listening')).toBeUndefined();
    } finally {
      await redis.stop();
    }
  });

  it('exits 1 with that line when Redis, reached only after it started, refuses its password', async () => {
    const redis = await RedisProcess.reserve({ password: 'right' });
    try {
      const cli = node(`redis://:wrong-one@127.0.0.1:${redis.port}`);
      await listeningPort(cli);
      await logged(cli, WAITING);
      await redis.resume();
      const exit = await withTimeout(cli.exited, 5_000, 'the CLI to exit');
      expect(exit.code).toBe(1);
      expect(cli.stderr()).toMatch(
        /^chat-backend: REDIS_URL: cannot use redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: WRONGPASS .*\n$/,
      );
      expect(cli.logLines.map((line) => line.msg)).toEqual(
        expect.arrayContaining(['cannot go on; shutting down', 'stopped']),
      );
    } finally {
      await redis.stop();
    }
  });
});
