/**
 * No one client address can deny service to another (SPEC §5), over real sockets. Each
 * limit: one source is refused, and a second source is unaffected while the first is at
 * its limit. Sources are told apart by the client socket's own address: Linux routes all
 * of 127/8 to the loopback interface, so a socket bound to 127.0.0.2 reaches the server on
 * 127.0.0.1 as another client would.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { ADDRESS_SOCKET_MARGIN } from '../../src/socket-limits.js';
import { addressLimitsOff } from '../support/address-limits-off.js';
import { LogCapture } from '../support/log-capture.js';
import { parseMetrics, sample } from '../support/metrics-text.js';
import { serverPerTest, type TestServer } from '../support/test-server.js';
import {
  DEFAULT_WAIT_MS,
  type Frame,
  type OpenOptions,
  type TestSocket,
  UpgradeRefused,
  withTimeout,
} from '../support/ws-client.js';

const FIRST = { localAddress: '127.0.0.2' } as const;
const SECOND = { localAddress: '127.0.0.3' } as const;

/** Every per-address limit off; each test turns on the one it is about. */
const noAddressLimits: Partial<Config> = addressLimitsOff;

/** The HTTP status an upgrade is refused with; fails if it opens. */
async function refusal(server: TestServer, options: OpenOptions): Promise<UpgradeRefused> {
  try {
    const socket = await server.connect(options);
    socket.terminate();
  } catch (err) {
    if (err instanceof UpgradeRefused) return err;
    throw err;
  }
  throw new Error(`the upgrade from ${JSON.stringify(options)} was not refused`);
}

/** A TCP connection from `localAddress` that sends nothing, once connected. */
async function silentSocket(port: number, localAddress: string): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => {}); // a drop by the server shows as 'close'
  await withTimeout(once(socket, 'connect'), DEFAULT_WAIT_MS, 'a TCP connection');
  return socket;
}

async function limitedCount(server: TestServer, limit: string): Promise<number> {
  return sample(parseMetrics(await (await server.get('/metrics')).text()), `chat_limited_total{limit="${limit}"}`);
}

async function claimRefused(socket: TestSocket, name: string): Promise<Frame> {
  socket.send({ sender: name, text: '' });
  return socket.nextFrame(DEFAULT_WAIT_MS, `the answer to ${name}'s claim`);
}

describe('per client address limits', () => {
  const start = serverPerTest();

  it('caps open connections per address with HTTP 503; another address still gets in', async () => {
    const server = await start({ ...noAddressLimits, addressMaxConnections: 2 });
    await server.register('A1', FIRST);
    const a2 = await server.register('A2', FIRST);
    expect((await refusal(server, FIRST)).status).toBe(503);
    await server.register('B1', SECOND);
    expect(await limitedCount(server, 'connections')).toBe(1);
    // A close gives the place back.
    a2.close(1000);
    await a2.waitClose();
    await server.register('A3', FIRST);
  });

  it('caps unregistered connections per address with HTTP 503; registering frees a place', async () => {
    const server = await start({ ...noAddressLimits, addressMaxUnregistered: 2 });
    const a1 = await server.connect(FIRST);
    await server.connect(FIRST);
    expect((await refusal(server, FIRST)).status).toBe(503);
    await server.register('B1', SECOND);
    a1.send({ sender: 'A1', text: '' });
    expect(await a1.nextFrame()).toMatchObject({ type: 'welcome', name: 'A1' });
    await server.connect(FIRST);
    expect(await limitedCount(server, 'unregistered')).toBe(1);
  });

  it('drops TCP sockets past an address’s share at once, before any request; another address still gets in', async () => {
    const server = await start({ ...noAddressLimits, addressMaxConnections: 2 });
    // Silent sockets that never send a request: the upgrade's checks never see them.
    const share = 2 + ADDRESS_SOCKET_MARGIN;
    const held: Socket[] = [];
    for (let i = 0; i < share; i++) held.push(await silentSocket(server.port, FIRST.localAddress));
    try {
      const over = await silentSocket(server.port, FIRST.localAddress);
      await withTimeout(once(over, 'close'), DEFAULT_WAIT_MS, 'the server to drop the socket over the share');
      await server.register('B1', SECOND);
      const metrics = parseMetrics(await (await server.get('/metrics')).text());
      expect(sample(metrics, 'chat_sockets_dropped_total{reason="address_limit"}')).toBe(1);
      // A socket closed gives its place back: once the server has closed its end too.
      const leaving = held.pop()!;
      leaving.end();
      await withTimeout(once(leaving, 'close'), DEFAULT_WAIT_MS, 'the server to close its end');
      await server.register('A1', FIRST);
    } finally {
      for (const socket of held) socket.destroy();
    }
  });

  it('limits connects per second per address with HTTP 429 and Retry-After', async () => {
    const server = await start({ ...noAddressLimits, addressConnectBurst: 3, addressConnectsPerSec: 1 });
    for (let i = 0; i < 3; i++) (await server.connect(FIRST)).terminate();
    const refused = await refusal(server, FIRST);
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    await server.register('B1', SECOND);
    expect(await limitedCount(server, 'connects')).toBe(1);
  });

  it('caps names held per address, sessions waiting for a resume included', async () => {
    const server = await start({ ...noAddressLimits, addressMaxNames: 2, resumeWindowMs: 60_000 });
    const a1 = await server.register('A1', FIRST);
    await server.register('A2', FIRST);
    const third = await server.connect(FIRST);
    expect(await claimRefused(third, 'A3')).toMatchObject({ type: 'error', code: 'too_many_names' });
    await server.register('B1', SECOND);
    // A1's connection drops: its session waits for a resume and still holds the name.
    a1.terminate();
    await a1.waitClose();
    expect(await claimRefused(third, 'A3')).toMatchObject({ type: 'error', code: 'too_many_names' });
    expect(await limitedCount(server, 'names')).toBe(2);
  });

  it('frees a name for its address when its session ends', async () => {
    const server = await start({ ...noAddressLimits, addressMaxNames: 1 });
    const a1 = await server.register('A1', FIRST);
    const second = await server.connect(FIRST);
    expect(await claimRefused(second, 'A2')).toMatchObject({ code: 'too_many_names' });
    a1.close(1000);
    await a1.waitClose();
    expect(await claimRefused(second, 'A2')).toMatchObject({ type: 'welcome', name: 'A2' });
  });

  it('limits registrations per minute per address', async () => {
    const server = await start({ ...noAddressLimits, addressRegistrationsPerMin: 2 });
    for (const name of ['A1', 'A2']) {
      const socket = await server.register(name, FIRST);
      socket.close(1000);
      await socket.waitClose();
    }
    const third = await server.connect(FIRST);
    expect(await claimRefused(third, 'A3')).toMatchObject({ type: 'error', code: 'too_many_registrations' });
    await server.register('B1', SECOND);
    expect(await limitedCount(server, 'registrations')).toBe(1);
  });

  it('limits messages per second across all of an address’s connections', async () => {
    const server = await start({ ...noAddressLimits, addressRateBurst: 3, addressRatePerSec: 1 });
    const watcher = await server.register('Watcher', SECOND);
    const a1 = await server.register('A1', FIRST);
    const a2 = await server.register('A2', FIRST);
    await watcher.framesUntil((f) => f.type === 'join' && f.name === 'A2');
    await a1.framesUntil((f) => f.type === 'join' && f.name === 'A2');
    // Three messages in all from the first address go through; each connection alone is far below its own limit.
    for (const text of ['one', 'two']) a1.send({ text });
    for (const text of ['three', 'four']) a2.send({ text });
    const a2Frames = await a2.framesUntil((f) => f.type === 'error');
    expect(a2Frames.at(-1)).toMatchObject({ code: 'rate_limited' });
    // The second address is not held back meanwhile.
    watcher.send({ text: 'still here' });
    const seen = await watcher.framesUntil((f) => f.type === 'message' && f.text === 'still here');
    const texts = seen.filter((f) => f.type === 'message' && f.sender !== undefined).map((f) => f.text);
    expect(texts).toEqual(['one', 'two', 'three']);
    expect(await limitedCount(server, 'messages')).toBe(1);
  });

  it('logs an offender once per period, not once per refusal', async () => {
    const logs = new LogCapture();
    const server = await start({ ...noAddressLimits, addressMaxConnections: 1 }, { log: logs.logger('warn') });
    await server.connect(FIRST);
    for (let i = 0; i < 5; i++) expect((await refusal(server, FIRST)).status).toBe(503);
    await server.connect(SECOND);
    expect((await refusal(server, SECOND)).status).toBe(503);
    const lines = logs.lines
      .map((line) => JSON.parse(line) as { msg: string; ip?: string; limit?: string })
      .filter((line) => line.msg === 'client address over its limit');
    expect(lines.map(({ ip, limit }) => ({ ip, limit }))).toEqual([
      { ip: '127.0.0.2', limit: 'connections' },
      { ip: '127.0.0.3', limit: 'connections' },
    ]);
    expect(await limitedCount(server, 'connections')).toBe(6);
  });
});

describe('the client address behind a trusted proxy (TRUST_PROXY)', () => {
  const start = serverPerTest();
  const via = (address: string, local = '127.0.0.1'): OpenOptions => ({
    localAddress: local,
    headers: { 'X-Forwarded-For': address },
  });

  it("counts X-Forwarded-For's client from a trusted proxy", async () => {
    const server = await start({ ...noAddressLimits, addressMaxConnections: 1, trustProxy: ['127.0.0.1/32'] });
    await server.connect(via('198.51.100.1'));
    expect((await refusal(server, via('198.51.100.1'))).status).toBe(503);
    // Another client behind the same proxy is not held back.
    await server.connect(via('198.51.100.2'));
    // Only the rightmost untrusted hop counts: what the client wrote further left is ignored.
    expect((await refusal(server, via('203.0.113.5, 198.51.100.1'))).status).toBe(503);
  });

  it('ignores a spoofed X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    const server = await start({ ...noAddressLimits, addressMaxConnections: 1, trustProxy: ['127.0.0.1/32'] });
    await server.connect(via('198.51.100.1', '127.0.0.2'));
    // A different forwarded address, but the same untrusted peer: the same client.
    expect((await refusal(server, via('198.51.100.2', '127.0.0.2'))).status).toBe(503);
  });

  it('logs the client address, and the proxy it came through', async () => {
    const logs = new LogCapture();
    const server = await start({ trustProxy: ['127.0.0.1/32'] }, { log: logs.logger('info') });
    await server.connect(via('198.51.100.7'));
    await server.connect(via('198.51.100.8', '127.0.0.2'));
    const opened = logs.lines
      .map((line) => JSON.parse(line) as { msg: string; ip?: string; peer?: string })
      .filter((line) => line.msg === 'connection opened')
      .map(({ ip, peer }) => ({ ip, peer }));
    expect(opened).toEqual([
      { ip: '198.51.100.7', peer: '127.0.0.1' },
      { ip: '127.0.0.2', peer: undefined },
    ]);
  });
});

/** Resolves once `done()` holds, polling each few ms; rejects after DEFAULT_WAIT_MS naming `what`. */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + DEFAULT_WAIT_MS;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('one source holding every unnamed socket it can (issue 14)', () => {
  const start = serverPerTest();

  it('can no longer keep a second source from registering, at the default per-address limits', async () => {
    // Per-address limits at their defaults; MAX_CONNECTIONS small enough that the attacker
    // alone would fill it without them, and a short registration timeout, so that the
    // attacker's sockets time out and are reopened several times during the test.
    const server = await start({ maxConnections: 100, registerTimeoutMs: 300 });
    let stopped = false;
    let held = 0;
    let refused = 0;
    const attack = async (): Promise<void> => {
      while (!stopped) {
        try {
          const socket = await server.connect(FIRST);
          held++;
          void socket.waitClose(5_000).then(
            () => held--,
            () => held--,
          );
        } catch (err) {
          if (!(err instanceof UpgradeRefused)) throw err;
          refused++;
          // Refused: wait for one of ours to time out, as a patient attacker would.
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    };
    const attacker = attack();
    try {
      // The attacker is at its limit before the bystander tries, and stays there throughout.
      await until(() => refused > 0, 'the attacker to be refused');
      // Five registrations, each once the attacker has been refused again: at its limit throughout.
      for (let i = 0; i < 5; i++) {
        const bystander = await server.register(`Bystander${i}`, SECOND);
        bystander.close(1000);
        await bystander.waitClose();
        const refusedSoFar = refused;
        await until(() => refused > refusedSoFar, 'the attacker to be refused again');
      }
      expect(refused).toBeGreaterThan(0);
      expect(held).toBeLessThanOrEqual(server.config.addressMaxUnregistered);
    } finally {
      stopped = true;
      await attacker;
    }
  });
});
