/**
 * SPEC §6 through the real command line: `node --import tsx src/main.ts` as a child
 * process (test/support/cli.ts). With PORT=0 the chosen port is read from the 'listening'
 * JSON log line. Every wait is bounded, and any child a failed test left running is killed.
 * Cluster mode through the command line (Redis out of reach, or refusing): test/cluster/startup.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { cliPerTest, envNameOf, listeningPort, SPEC_FLAGS, START_MS } from '../support/cli.js';
import { withTimeout } from '../support/ws-client.js';
import { aliceAndBob } from '../support/test-server.js';

const runCli = cliPerTest();

describe('the command line (SPEC §6)', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    'on %s closes every client with 1001, announces no leaves, flushes the log and exits 0 within 5 s',
    async (signal) => {
      const cli = runCli([], { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' });
      const port = await listeningPort(cli);
      expect(port).toBeGreaterThan(0);
      const [alice, bob] = await aliceAndBob(port);

      const sentAt = Date.now();
      cli.child.kill(signal);
      const [aliceClose, bobClose] = await Promise.all([alice.waitClose(5_000), bob.waitClose(5_000)]);
      expect(aliceClose.code).toBe(1001);
      expect(bobClose.code).toBe(1001);
      // The close frame came last: a leave would have been written before it.
      expect(alice.unread()).toEqual([]);
      expect(bob.unread()).toEqual([]);

      const exit = await withTimeout(cli.exited, 5_000 - (Date.now() - sentAt), 'the CLI to exit');
      expect(exit).toEqual({ code: 0, signal: null });
      expect(Date.now() - sentAt).toBeLessThan(5_000);
      // 'stopped' is logged just before the flush and exit: seeing it proves the flush. Its
      // place among the last lines is not checked; through a pipe it sometimes overtakes
      // the 'left' lines logged a few milliseconds earlier.
      expect(cli.logLines.map((line) => line.msg)).toEqual(
        expect.arrayContaining(['shutting down', 'left', 'stopped']),
      );
    },
    20_000,
  );

  it.each([
    ['PORT=abc', [], { PORT: 'abc' }, 'PORT'],
    ['--port abc', ['--port', 'abc'], {}, '--port'],
    ['HEARTBEAT_MS=-5', [], { HEARTBEAT_MS: '-5' }, 'HEARTBEAT_MS'],
    ['a HOST with a line break in it', [], { HOST: '127.0.0.1\nFAKE LOG LINE' }, 'HOST'],
    ['a REDIS_URL that is not one', [], { REDIS_URL: 'http://127.0.0.1:6379' }, 'REDIS_URL'],
  ])(
    '%s stops start-up with exit 1 and one stderr line naming it, no stack trace',
    async (_, args, settings, named) => {
      const cli = runCli(args, settings);
      const exit = await withTimeout(cli.exited, START_MS, 'the CLI to exit');
      expect(exit.code).toBe(1);
      const lines = cli.stderr().trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(named);
      expect(cli.stderr()).not.toMatch(/^\s+at /m);
      expect(cli.logLines.find((l) => l.msg === 'listening')).toBeUndefined();
    },
  );

  it('--help exits 0 and lists every flag of SPEC §6 with its environment variable', async () => {
    const cli = runCli(['--help']);
    const exit = await withTimeout(cli.exited, START_MS, 'the CLI to exit');
    expect(exit.code).toBe(0);
    const help = cli.stdout();
    for (const flag of SPEC_FLAGS) {
      expect(help).toMatch(new RegExp(`--${flag}\\b`));
      expect(help).toMatch(new RegExp(`\\b${envNameOf(flag)}\\b`));
    }
    expect(help).toMatch(/--port\b.*\bPORT\b.*\b8080\b/); // with its default
  });
});
