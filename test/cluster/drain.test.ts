/**
 * A node drained (DRAIN_MS) through the real command line, in a cluster: SIGTERM makes it
 * not ready and refuse upgrades at once, while its clients keep chatting with the other
 * node's; after DRAIN_MS they get 1001, nobody is told they left (their sessions wait), and
 * they resume on the other node without a leave or a join shown to anyone.
 */
import { expect, it } from 'vitest';
import { cliPerTest, listeningPort, logged } from '../support/cli.js';
import { join, message } from '../support/expected.js';
import { waitReadyz } from '../support/cluster.js';
import { upgradeHead, upgradeStatus } from '../support/raw-client.js';
import { describeWithRedis, redisPerTest } from '../support/redis-server.js';
import { resumeSession } from '../support/session-client.js';
import { serverPerTest } from '../support/test-server.js';
import { DEFAULT_WAIT_MS, TestSocket, withTimeout } from '../support/ws-client.js';

const runCli = cliPerTest();
const start = serverPerTest();
const redis = redisPerTest();
const LEASE_MS = 2_000;
const DRAIN_MS = 2_000;

describeWithRedis('cluster: a node drained on SIGTERM', () => {
  it('keeps serving its clients for DRAIN_MS, then closes them with 1001 and nobody sees them leave; they resume elsewhere', async () => {
    const cli = runCli([], {
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      REDIS_URL: redis().url,
      LEASE_MS: String(LEASE_MS),
      DRAIN_MS: String(DRAIN_MS),
    });
    const port = await listeningPort(cli);
    const http = { get: (path: string) => fetch(`http://127.0.0.1:${port}${path}`) };
    await waitReadyz(http, 200, 3 * LEASE_MS);
    const other = await start({ redisUrl: redis().url, leaseMs: LEASE_MS });

    const alice = await TestSocket.open(`ws://127.0.0.1:${port}/ws`, { label: 'Alice' });
    alice.send({ sender: 'Alice', text: '' });
    const welcome = await alice.nextFrame(DEFAULT_WAIT_MS, "Alice's welcome");
    const bob = await other.register('Bob');
    expect(await alice.nextFrame()).toEqual(join('Bob'));

    const sentAt = Date.now();
    cli.child.kill('SIGTERM');
    await logged(cli, 'draining: not ready, refusing new clients', 2_000);
    expect((await http.get('/readyz')).status).toBe(503);
    expect(await upgradeStatus(port, upgradeHead({}))).toBe(503);
    bob.send({ text: 'still there, Alice?' });
    expect(await bob.nextFrame()).toMatchObject({ type: 'message', text: 'still there, Alice?' });
    expect(await alice.nextFrame()).toEqual(message('Bob', 'still there, Alice?'));

    expect((await alice.waitClose(DRAIN_MS + 5_000)).code).toBe(1001);
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(DRAIN_MS);
    const exit = await withTimeout(cli.exited, DRAIN_MS + 5_000 - (Date.now() - sentAt), 'the node to exit');
    expect(exit).toEqual({ code: 0, signal: null });

    // Her session waited: she comes back on the other node, and Bob sees neither a leave nor a join.
    const { socket, reply } = await resumeSession(other, welcome.session as string, {}, 'Alice again');
    expect(reply).toMatchObject({ type: 'welcome', resumed: true, name: 'Alice' });
    socket.send({ text: 'back' });
    expect(await bob.nextFrame()).toEqual(message('Alice', 'back'));
    await bob.expectQuiet();
  }, 30_000);
});
