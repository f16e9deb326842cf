/**
 * Draining (issue 15) through the real command line: on SIGTERM or SIGINT with DRAIN_MS set,
 * /readyz is 503 and new upgrades get 503 at once, while the clients already there keep
 * chatting for DRAIN_MS; then they are closed with 1001 and no leave is announced, and the
 * process exits 0 within DRAIN_MS + 5 s. A second signal ends the drain at once. Without
 * DRAIN_MS, SPEC §6's stop is unchanged (cli.test.ts). In cluster mode, where the sessions
 * wait for a resume on another node: test/cluster/drain.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { cliPerTest, listeningPort, logged, type Cli } from '../support/cli.js';
import { expectOwnCopy, message } from '../support/expected.js';
import { upgradeHead, upgradeStatus } from '../support/raw-client.js';
import { aliceAndBob } from '../support/test-server.js';
import { withTimeout } from '../support/ws-client.js';

const runCli = cliPerTest();

function server(drainMs: number): Cli {
  return runCli([], { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', DRAIN_MS: String(drainMs) });
}

const readyz = (port: number) => fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2_000) });

describe('draining on SIGTERM/SIGINT (DRAIN_MS)', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    'on %s: not ready and refusing upgrades at once, serving its clients for DRAIN_MS, then 1001 and no leave',
    async (signal) => {
      const DRAIN_MS = 2_000;
      const cli = server(DRAIN_MS);
      const port = await listeningPort(cli);
      const [alice, bob] = await aliceAndBob(port);
      expect((await readyz(port)).status).toBe(200);

      const sentAt = Date.now();
      cli.child.kill(signal);
      await logged(cli, 'draining: not ready, refusing new clients', 2_000);
      const notReady = await readyz(port);
      expect(notReady.status).toBe(503);
      expect(await notReady.json()).toEqual({ status: 'stopping' });
      expect(Date.now() - sentAt).toBeLessThan(DRAIN_MS / 2);
      expect(await upgradeStatus(port, upgradeHead({}))).toBe(503);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);

      // Those already here still chat.
      alice.send({ text: 'still here?' });
      expectOwnCopy(await alice.nextFrame(), 'still here?');
      expect(await bob.nextFrame()).toEqual(message('Alice', 'still here?'));

      const [aliceClose, bobClose] = await Promise.all([
        alice.waitClose(DRAIN_MS + 5_000),
        bob.waitClose(DRAIN_MS + 5_000),
      ]);
      expect(Date.now() - sentAt).toBeGreaterThanOrEqual(DRAIN_MS);
      expect([aliceClose.code, bobClose.code]).toEqual([1001, 1001]);
      expect(alice.unread()).toEqual([]); // no leave came before the close
      expect(bob.unread()).toEqual([]);
      const exit = await withTimeout(cli.exited, DRAIN_MS + 5_000 - (Date.now() - sentAt), 'the CLI to exit');
      expect(exit).toEqual({ code: 0, signal: null });
      const refused = cli.logLines.filter((line) => line.msg === 'upgrade refused');
      expect(refused).toEqual([expect.objectContaining({ reason: 'stopping', status: 503, count: 1 })]);
    },
    20_000,
  );

  it('ends the drain at once on a second signal', async () => {
    const DRAIN_MS = 60_000;
    const cli = server(DRAIN_MS);
    const port = await listeningPort(cli);
    const [alice, bob] = await aliceAndBob(port);

    cli.child.kill('SIGTERM');
    await logged(cli, 'draining: not ready, refusing new clients', 2_000);
    const secondAt = Date.now();
    cli.child.kill('SIGTERM');
    const [aliceClose, bobClose] = await Promise.all([alice.waitClose(5_000), bob.waitClose(5_000)]);
    expect([aliceClose.code, bobClose.code]).toEqual([1001, 1001]);
    const exit = await withTimeout(cli.exited, 5_000 - (Date.now() - secondAt), 'the CLI to exit');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(cli.logLines.map((line) => line.msg)).toEqual(
      expect.arrayContaining(['shutting down', 'shutting down now', 'drain cut short', 'stopped']),
    );
  });
});
