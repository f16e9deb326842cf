/**
 * A node started while its Redis is out of reach, through the real command line: it
 * listens, is alive but not ready, refuses upgrades with 503 (it has not joined), keeps
 * trying, and joins and serves once Redis is up, with no restart. SIGTERM meanwhile stops
 * it at once. A node started on an empty Redis listens at once too, and is ready once its
 * grace is over. Redis refusing its password, before or after that wait,
 * stops it with exit 1 and one line (src/cluster/refusal.ts says what counts as a refusal).
 */
import { expect, it } from 'vitest';
import { cliPerTest, listeningPort, logged, START_MS, type Cli } from '../support/cli.js';
import { waitReadyz } from '../support/cluster.js';
import { expectOwnCopy, join, message, welcome } from '../support/expected.js';
import { describeWithRedis, freePort, RedisProcess } from '../support/redis-server.js';
import { serverPerTest } from '../support/test-server.js';
import { parseMetrics, sample } from '../support/metrics-text.js';
import { upgradeHead, upgradeStatus } from '../support/raw-client.js';
import { TestSocket, withTimeout } from '../support/ws-client.js';

const runCli = cliPerTest();
const start = serverPerTest();
const LEASE_MS = 1_000;
const WAITING = 'redis unreachable at start; not ready, trying again until it answers';

/** The CLI with cluster mode on `redisUrl`, logging at info, on a free loopback port. */
function node(redisUrl: string, leaseMs = LEASE_MS): Cli {
  return runCli([], {
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    REDIS_URL: redisUrl,
    LEASE_MS: String(leaseMs),
  });
}

/** The series of `chat_cluster_state` that is 1. */
async function clusterState(http: { get(path: string): Promise<Response> }): Promise<string> {
  const samples = parseMetrics(await (await http.get('/metrics')).text());
  const states = ['serving', 'starting', 'grace', 'unavailable'];
  return states.filter((state) => sample(samples, `chat_cluster_state{state="${state}"}`) === 1).join();
}

/** GET on a CLI's port. */
const httpOf = (port: number) => ({
  get: (path: string) => fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2_000) }),
});

describeWithRedis('cluster: a node started while Redis is out of reach', () => {
  it('listens but is not ready, refuses upgrades with 503, then joins once Redis is up and serves with no restart', async () => {
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
      // Not joined: a client could only wait here, and a balancer's next try goes elsewhere.
      expect(await upgradeStatus(port, upgradeHead({}))).toBe(503);
      expect((await http.get('/')).status).toBe(200); // the chat page meanwhile

      await redis.resume(); // empty: this node starts a grace of its lease, then reads the roster
      await waitReadyz(http, 200, 3 * LEASE_MS + 2_000);
      await logged(cli, 'joined the cluster', 1_000);
      const alice = await TestSocket.open(`ws://127.0.0.1:${port}/ws`, { label: 'Alice' });
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

  it('on an empty Redis, listens at once and answers /readyz 503 until its grace is over, then 200', async () => {
    const redis = await RedisProcess.start(); // empty: the first node waits out a grace of one lease
    try {
      const leaseMs = 3_000;
      const cli = node(redis.url, leaseMs);
      const port = await listeningPort(cli);
      const http = httpOf(port);
      const listeningAt = Date.now();
      await logged(cli, 'a grace is running (redis was found empty): waiting it out before serving');
      const readyz = await http.get('/readyz');
      expect(readyz.status).toBe(503);
      expect(await readyz.json()).toEqual({ status: 'starting' });
      expect(await clusterState(http)).toBe('starting');
      expect((await http.get('/healthz')).status).toBe(200);
      expect((await http.get('/')).status).toBe(200);
      expect(await upgradeStatus(port, upgradeHead({}))).toBe(503);
      expect(await logged(cli, 'upgrade refused', 2_000)).toMatchObject({ reason: 'starting', status: 503 });

      await waitReadyz(http, 200, 2 * leaseMs);
      expect(Date.now() - listeningAt).toBeGreaterThan(leaseMs / 2); // it listened well before the grace ended
      expect(await clusterState(http)).toBe('serving');
      const alice = await TestSocket.open(`ws://127.0.0.1:${port}/ws`, { label: 'Alice' });
      alice.send({ sender: 'Alice', text: '' });
      expect(await alice.nextFrame()).toEqual(welcome('Alice', ['Alice']));
    } finally {
      await redis.stop();
    }
  });

  it('on SIGTERM while waiting for Redis, exits 0 within 5 s', async () => {
    const cli = node(`redis://127.0.0.1:${await freePort()}`);
    await listeningPort(cli);
    await logged(cli, WAITING);

    const sentAt = Date.now();
    cli.child.kill('SIGTERM');
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
      expect(cli.logLines.map((line) => line.msg)).toEqual(
        expect.arrayContaining(['cannot go on; shutting down', 'stopped']),
      );
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
