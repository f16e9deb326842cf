/**
 * The chat port's sockets before any WebSocket counts them (src/socket-limits.ts): a cap on
 * all of them, kept below the process's file-descriptor limit, and the operator told, once
 * per period, when connections are dropped. The server runs as a child process under a
 * small `ulimit -n`.
 */
import { describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { LOG_PERIOD_MS, socketCap } from '../../src/socket-limits.js';
import { parseMetrics, sample } from '../support/metrics-text.js';
import { rawSocket } from '../support/raw-client.js';
import { startServerProcess } from '../support/server-process.js';
import { DEFAULT_WAIT_MS, TestSocket, withTimeout } from '../support/ws-client.js';
import { claim, serverPerTest } from '../support/test-server.js';

const FD_LIMIT = 256;

/** Resolves once `check` holds, polling every 10 ms; rejects after `timeoutMs`, naming `what`. */
async function until(check: () => boolean, what: string, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
  const reached = new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (check()) {
        clearInterval(poll);
        resolve();
      }
    }, 10);
    setTimeout(() => clearInterval(poll), timeoutMs);
  });
  await withTimeout(reached, timeoutMs, what);
}

/** GET that retries while the server still drops connections (it learns of closed sockets a moment later). */
async function scrape(url: string): Promise<string> {
  const deadline = Date.now() + DEFAULT_WAIT_MS;
  for (;;) {
    try {
      return await (await fetch(url, { signal: AbortSignal.timeout(DEFAULT_WAIT_MS) })).text();
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
  }
}

describe('sockets on the chat port', () => {
  it('under a low file limit, drops what it cannot hold, says so once and counts it, and serves again after', async () => {
    const server = await startServerProcess({ logLevel: 'warn' }, { fdLimit: FD_LIMIT, captureLog: true });
    const base = server.url.replace(/^ws/, 'http').replace(/\/ws$/, '');
    const port = Number(new URL(base).port);
    const sockets: Socket[] = [];
    try {
      const lines = server.logLines;
      const warning = lines().find(
        (line) => line.msg === 'file descriptor limit too low for MAX_CONNECTIONS; raise it (ulimit -n)',
      );
      expect(warning).toMatchObject({ level: 40, fileLimit: FD_LIMIT, maxConnections: 10_000 });
      const cap = warning!.sockets as number;
      expect(cap).toBeGreaterThan(0);
      expect(cap).toBeLessThan(FD_LIMIT);

      // Past the cap, each new socket is dropped at once.
      const extra = 40;
      let dropped = 0;
      for (let i = 0; i < cap + extra; i++) {
        const socket = await rawSocket(port);
        socket.once('close', () => dropped++);
        sockets.push(socket);
      }
      await until(() => dropped >= extra, `${extra} sockets over the cap of ${cap} to be dropped (${dropped} so far)`);
      const droppedLine = 'connections dropped: too many sockets open';
      await until(() => lines().some((line) => line.msg === droppedLine), 'the log line about dropped connections');

      const droppedByServer = dropped;
      expect(droppedByServer).toBe(extra);
      for (const socket of sockets.splice(0)) socket.destroy();
      // With the sockets gone, the server answers again: a scrape, then a client.
      const text = await scrape(`${base}/metrics`);
      expect(sample(parseMetrics(text), 'chat_sockets_dropped_total{reason="socket_limit"}')).toBe(extra);
      expect(sample(parseMetrics(text), 'chat_sockets_limit')).toBe(cap);
      const alice = await TestSocket.open(server.url);
      await claim(alice, 'Alice');
      alice.close();

      // One line for the whole burst, well inside one period.
      expect(LOG_PERIOD_MS).toBeGreaterThanOrEqual(10_000);
      expect(lines().filter((line) => line.msg === droppedLine)).toHaveLength(1);
    } finally {
      for (const socket of sockets) socket.destroy();
      await server.stop();
    }
  });
});

describe('the socket cap', () => {
  const start = serverPerTest();

  it('holds MAX_CONNECTIONS plus 10 % (at least 64) sockets, and drops the next at once', async () => {
    const server = await start({ maxConnections: 1 });
    const cap = socketCap(1);
    expect(cap).toBe(65);
    const sockets: Socket[] = [];
    let dropped = 0;
    try {
      for (let i = 0; i < cap + 5; i++) {
        const socket = await rawSocket(server.port);
        socket.once('close', () => dropped++);
        sockets.push(socket);
      }
      await until(() => dropped >= 5, `5 sockets over the cap to be dropped (${dropped} so far)`);
      expect(dropped).toBe(5);
      for (const socket of sockets.splice(0, 10)) socket.destroy();
      // The scrape's own socket counts too; the server learns of the closed ones a moment later.
      const expected = cap - 10 + 1;
      let samples = parseMetrics(await scrape(`http://127.0.0.1:${server.port}/metrics`));
      const deadline = Date.now() + DEFAULT_WAIT_MS;
      while (sample(samples, 'chat_sockets_open') !== expected && Date.now() < deadline)
        samples = parseMetrics(await scrape(`http://127.0.0.1:${server.port}/metrics`));
      expect(sample(samples, 'chat_sockets_open')).toBe(expected);
      expect(sample(samples, 'chat_sockets_limit')).toBe(cap);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });
});
