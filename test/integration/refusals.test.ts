/**
 * Every refused upgrade leaves a trace (issue 15): one `upgrade refused` log line per reason
 * and period, with the reason, the status and how many since the last line, and a count in
 * chat_upgrades_refused_total{reason}. Each reason is refused twice here: counted twice,
 * logged once. The per-address refusals are counted here too, and logged per address
 * (address-limits.test.ts). `stopping`: test/integration/drain.test.ts; `starting`:
 * test/cluster/startup.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { LogCapture } from '../support/log-capture.js';
import { parseMetrics, sample } from '../support/metrics-text.js';
import { upgradeHead, upgradeStatus } from '../support/raw-client.js';
import { serverPerTest, type TestServer } from '../support/test-server.js';

const start = serverPerTest();

interface LogLine {
  msg: string;
  reason?: string;
  status?: number;
  count?: number;
  ip?: string;
  sent?: string;
}

const refusedLines = (logs: LogCapture, reason: string): LogLine[] =>
  logs.lines
    .map((line) => JSON.parse(line) as LogLine)
    .filter((line) => line.msg === 'upgrade refused' && line.reason === reason);

async function refusedTotal(server: TestServer, reason: string): Promise<number> {
  const text = await (await server.get('/metrics')).text();
  return sample(parseMetrics(text), `chat_upgrades_refused_total{reason="${reason}"}`);
}

/** A server logging at info into `logs`, with `overrides`. */
async function serverLoggingTo(logs: LogCapture, overrides: Partial<Config> = {}): Promise<TestServer> {
  return start(overrides, { log: logs.logger('info') });
}

describe('refused upgrades are logged once per reason and period, and counted', () => {
  it.each([
    ['path', 404, upgradeHead({}, 'GET /chat HTTP/1.1'), '/chat'],
    ['origin', 403, upgradeHead({ Origin: 'https://evil.example' }), 'https://evil.example'],
    [
      'handshake',
      400,
      upgradeHead({ 'Sec-WebSocket-Key': 'not a key' }),
      'Missing or invalid Sec-WebSocket-Key header',
    ],
    ['handshake', 405, upgradeHead({}, 'POST /ws HTTP/1.1'), 'Invalid HTTP method'],
  ] as const)('%s (HTTP %i)', async (reason, status, head, sent) => {
    const logs = new LogCapture();
    const server = await serverLoggingTo(logs);
    expect(await refusedTotal(server, reason)).toBe(0);
    expect(await upgradeStatus(server.port, head)).toBe(status);
    expect(await upgradeStatus(server.port, head)).toBe(status);

    expect(await refusedTotal(server, reason)).toBe(2);
    const lines = refusedLines(logs, reason);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ status, count: 1, ip: '127.0.0.1', sent, level: 40 });
  });

  it('full (HTTP 503)', async () => {
    const logs = new LogCapture();
    const server = await serverLoggingTo(logs, { maxConnections: 1 });
    await server.connect();
    expect(await upgradeStatus(server.port, upgradeHead({}))).toBe(503);
    expect(await upgradeStatus(server.port, upgradeHead({}))).toBe(503);
    expect(await refusedTotal(server, 'full')).toBe(2);
    expect(refusedLines(logs, 'full')).toEqual([expect.objectContaining({ status: 503, count: 1 })]);
  });

  it("a client address's limit: counted here and in chat_limited_total, logged once per address", async () => {
    const logs = new LogCapture();
    const server = await serverLoggingTo(logs, { addressConnectBurst: 1, addressConnectsPerSec: 1 });
    await server.connect();
    expect(await upgradeStatus(server.port, upgradeHead({}))).toBe(429);
    expect(await upgradeStatus(server.port, upgradeHead({}))).toBe(429);
    expect(await refusedTotal(server, 'address_connects')).toBe(2);
    const text = await (await server.get('/metrics')).text();
    expect(sample(parseMetrics(text), 'chat_limited_total{limit="connects"}')).toBe(2);
    expect(refusedLines(logs, 'address_connects')).toEqual([]);
    expect(logs.messages().filter((msg) => msg === 'client address over its limit')).toHaveLength(1);
  });

  it('turns a flood of refusals into one line, not one each', async () => {
    const logs = new LogCapture();
    const server = await serverLoggingTo(logs);
    for (let i = 0; i < 5; i++) expect(await upgradeStatus(server.port, upgradeHead({}, 'GET / HTTP/1.1'))).toBe(404);
    // The first at once; the other four wait for the next line (LOG_PERIOD_MS later).
    expect(refusedLines(logs, 'path').map((line) => line.count)).toEqual([1]);
    expect(await refusedTotal(server, 'path')).toBe(5);
  });
});
