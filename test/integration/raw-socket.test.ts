/**
 * Hostile clients below the JSON level: hand-written HTTP upgrades and WebSocket frames
 * over a bare TCP socket, where a `ws` client would never let us go wrong.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join, leave, message, welcome } from '../support/expected.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { parseMetrics, sample } from '../support/metrics-text.js';
import { clientFrame, OPCODE, RawClient, rawSocket, upgradeHead, upgradeStatus } from '../support/raw-client.js';
import { DEFAULT_WAIT_MS, withTimeout, type TestSocket } from '../support/ws-client.js';
import { serverPerTest, type TestServer } from '../support/test-server.js';

const start = serverPerTest();
/** §4 as it was: a lost connection's leave at once, no session kept (RESUME_WINDOW_MS=0; SPEC §8). */
const LEAVE_AT_ONCE = { resumeWindowMs: 0 };

/** A raw client registered as `name` beside Bob, who has heard its join. */
async function rawMember(server: TestServer, bob: TestSocket, name = 'Eve'): Promise<RawClient> {
  const client = await RawClient.open(server.port);
  client.send(clientFrame(OPCODE.text, JSON.stringify({ sender: name, text: '' })));
  expect(await client.nextJson('the welcome')).toEqual(welcome(name, ['Bob', name]));
  expect(await bob.nextFrame()).toEqual(join(name));
  return client;
}

describe('upgrades ws itself refuses', () => {
  it.each([
    ['no Sec-WebSocket-Key', 400, upgradeHead({ 'Sec-WebSocket-Key': '' })],
    ['a Sec-WebSocket-Key that is not 16 bytes', 400, upgradeHead({ 'Sec-WebSocket-Key': 'short' })],
    ['an unknown Sec-WebSocket-Version', 400, upgradeHead({ 'Sec-WebSocket-Version': '12' })],
    ['an Upgrade to another protocol', 400, upgradeHead({ Upgrade: 'h2c' })],
    ['a POST', 405, upgradeHead({}, 'POST /ws HTTP/1.1')],
  ])('answer %s with HTTP %i and do not count against maxConnections', async (_, status, head) => {
    const server = await start({ maxConnections: 2 });
    // As many refused handshakes as the cap: each must give its place back.
    expect(await upgradeStatus(server.port, head)).toBe(status);
    expect(await upgradeStatus(server.port, head)).toBe(status);
    const alice = await server.connect();
    await server.connect();
    alice.send({ sender: 'Alice', text: '' });
    expect(await alice.nextFrame()).toEqual(welcome('Alice', ['Alice']));
  });
});

describe('connections that never upgrade', () => {
  it.each([
    ['sends nothing at all', ''],
    ['stops halfway through its upgrade request', upgradeHead({}).join('\r\n').slice(0, 60)],
  ])('drops a TCP connection that %s, within REGISTER_TIMEOUT_MS', async (_, sent) => {
    const server = await start({ registerTimeoutMs: 300 });
    const socket = await rawSocket(server.port);
    if (sent !== '') socket.write(sent);
    // Nothing counts these against MAX_CONNECTIONS: left open, they would pile up for good.
    await withTimeout(once(socket, 'close'), 5_000, 'the server to drop the silent connection');
  });

  // The idle time restarts with every byte: a request trickled a byte at a time was held
  // for as long as the client liked (84 s at one byte every 4 s, in issue 14).
  it.each([
    ['a plain GET', ['GET /healthz HTTP/1.1', 'Host: 127.0.0.1', 'X-Slow: ' + 'a'.repeat(200)]],
    ['an upgrade', upgradeHead({ 'X-Slow': 'a'.repeat(200) })],
  ])('drops %s whose headers trickle in a byte at a time, once REGISTER_TIMEOUT_MS has passed', async (_, head) => {
    const server = await start({ registerTimeoutMs: 1000 });
    const socket = await rawSocket(server.port);
    const bytes = Buffer.from(`${head.join('\r\n')}\r\n\r\n`);
    let sent = 0;
    const startedAt = Date.now();
    // Not once(): it would reject on the EPIPE of a byte written as the server hangs up.
    const closed = new Promise((resolve) => socket.once('close', resolve));
    // A byte every 100 ms: ten times inside the idle time; the whole request would take 30 s.
    const trickle = setInterval(() => {
      if (sent < bytes.length && !socket.destroyed) socket.write(bytes.subarray(sent, ++sent));
    }, 100);
    try {
      await withTimeout(closed, 4 * DEFAULT_WAIT_MS, 'the server to drop the trickling connection');
    } finally {
      clearInterval(trickle);
    }
    expect(sent).toBeLessThan(bytes.length);
    // The header time (1 s) plus Node's check interval (250 ms here), with room for a busy machine.
    expect(Date.now() - startedAt).toBeLessThan(3_000);
  });

  it.each([
    ['404, a path other than /ws', 'GET /nope HTTP/1.1'],
    ['403, an origin off the allow-list', 'GET /ws HTTP/1.1'],
  ])(
    'drops the socket of an upgrade refused with %s, though the client never closes its side',
    async (_, requestLine) => {
      const server = await start({ allowedOrigins: ['https://chat.example'] });
      const socket = connect({ port: server.port, host: '127.0.0.1', allowHalfOpen: true });
      socket.on('error', () => {}); // the reset below
      await once(socket, 'connect');
      socket.write(`${upgradeHead({ Origin: 'https://elsewhere.example' }, requestLine).join('\r\n')}\r\n\r\n`);
      socket.resume();
      await withTimeout(once(socket, 'end'), DEFAULT_WAIT_MS, 'the answer and its FIN');
      // Our side stays open. A socket the server still holds, half-open, takes these bytes in
      // silence; a dropped one answers with a reset, which shows on the write after.
      const closed = new Promise((resolve) => socket.once('close', resolve)); // once() would reject on the reset's error
      const prober = setInterval(() => socket.write('still here'), 10);
      try {
        await withTimeout(closed, DEFAULT_WAIT_MS, 'the server to have dropped the socket');
      } finally {
        clearInterval(prober);
      }
    },
  );
});

/** A masked text frame's header announcing `length` bytes in the 64-bit length field; no payload follows. */
const header64 = (length: bigint) => {
  const header = Buffer.from([0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
  header.writeBigUInt64BE(length, 2);
  return header;
};

describe('hostile frames', () => {
  it.each([
    ['2^53 bytes', 2n ** 53n],
    ['2^64 - 1 bytes', 2n ** 64n - 1n],
  ])('closes 1009 on a frame announcing %s, more than ws can count, and counts a policy leave', async (_, length) => {
    const server = await start({ maxPayloadBytes: 1024 });
    const bob = await server.register('Bob');
    const eve = await rawMember(server, bob);

    eve.send(header64(length));
    expect(await eve.closeCode()).toBe(1009);
    expect(await bob.nextFrame()).toEqual(leave('Eve'));
    const samples = parseMetrics(await (await server.get('/metrics')).text());
    expect(sample(samples, 'chat_leaves_total{cause="policy"}')).toBe(1);
    expect(sample(samples, 'chat_leaves_total{cause="close"}')).toBe(0);
  });

  /** Frames RFC 6455 forbids, each closed by ws with 1002. */
  const setRsv1 = (frame: Buffer) => (frame.writeUInt8(frame[0]! | 0x40, 0), frame);
  it.each([
    ['an unmasked frame', () => clientFrame(OPCODE.text, '{"text":"hi"}', { masked: false })],
    ['a reserved opcode', () => clientFrame(0x3, 'x')],
    ['a reserved control opcode', () => clientFrame(0xb, 'x')],
    ['RSV1 set without an extension', () => setRsv1(clientFrame(OPCODE.text, '{"text":"hi"}'))],
    ['a ping of 126 bytes', () => clientFrame(OPCODE.ping, Buffer.alloc(126))],
    ['a fragmented ping', () => clientFrame(OPCODE.ping, 'x', { fin: false })],
    ['a continuation with nothing to continue', () => clientFrame(OPCODE.continuation, 'x')],
    [
      'a new text frame inside a fragmented message',
      () => Buffer.concat([clientFrame(OPCODE.text, '{"te', { fin: false }), clientFrame(OPCODE.text, 'xt":"hi"}')]),
    ],
    ['a close frame with a one-byte payload', () => clientFrame(OPCODE.close, Buffer.from([3]))],
    ['a close frame with code 999', () => clientFrame(OPCODE.close, Buffer.from([0x03, 0xe7]))],
  ])('closes 1002 on %s, with exactly one policy leave and the name free', async (_, frame) => {
    const server = await start();
    const bob = await server.register('Bob');
    const eve = await rawMember(server, bob);

    eve.send(frame());
    expect(await eve.closeCode()).toBe(1002);
    expect(await bob.nextFrame()).toEqual(leave('Eve'));
    const samples = parseMetrics(await (await server.get('/metrics')).text());
    expect(sample(samples, 'chat_leaves_total{cause="policy"}')).toBe(1);
    await server.register('eve');
    expect(await bob.nextFrame()).toEqual(join('eve')); // no second leave came first
  });

  it('closes 1009 on a message over MAX_PAYLOAD_BYTES in fragments each under it, and counts a policy leave', async () => {
    const server = await start({ maxPayloadBytes: 1024 });
    const bob = await server.register('Bob');
    const eve = await rawMember(server, bob);

    eve.send(clientFrame(OPCODE.text, `{"text":"${'a'.repeat(600)}`, { fin: false }));
    eve.send(clientFrame(OPCODE.continuation, `${'a'.repeat(600)}"}`));
    expect(await eve.closeCode()).toBe(1009);
    expect(await bob.nextFrame()).toEqual(leave('Eve'));
    expect(sample(parseMetrics(await (await server.get('/metrics')).text()), 'chat_leaves_total{cause="policy"}')).toBe(
      1,
    );
  });

  it.each([
    ['the default MAX_PAYLOAD_BYTES', 128, 65_536],
    ['a MAX_PAYLOAD_BYTES of 256 KiB (one per 512 bytes)', 512, 262_144],
  ])(
    'with %s, takes a message in %i fragments, and closes 1008 on one more with a policy leave',
    async (_, allowed, maxPayloadBytes) => {
      const server = await start({ maxPayloadBytes });
      const bob = await server.register('Bob');
      const eve = await rawMember(server, bob);
      const inPieces = (text: string) =>
        [...text].map((char, i, all) =>
          clientFrame(i === 0 ? OPCODE.text : OPCODE.continuation, char, { fin: i === all.length - 1 }),
        );

      const json = JSON.stringify({ text: 'hi' });
      eve.send(Buffer.concat(inPieces(json + ' '.repeat(allowed - json.length))));
      expect(await bob.nextFrame()).toEqual(message('Eve', 'hi'));
      eve.send(Buffer.concat(inPieces(json + ' '.repeat(allowed + 1 - json.length))));
      expect(await eve.closeCode()).toBe(1008);
      expect(await bob.nextFrame()).toEqual(leave('Eve'));
      expect(
        sample(parseMetrics(await (await server.get('/metrics')).text()), 'chat_leaves_total{cause="policy"}'),
      ).toBe(1);
    },
  );

  it('drops a client that floods pings and never reads the pongs, with exactly one leave', async () => {
    const server = await start(LEAVE_AT_ONCE);
    const bob = await server.register('Bob');
    const flooder = await rawMember(server, bob, 'Flood');

    // Every ping earns a pong of the same size; a reader that never reads them would make
    // the server hold them all. ws terminates a socket with 60 pongs unsent (its
    // maxPendingAutoPongs), once the loopback buffers (a few MB) are full; the cap is far beyond.
    flooder.socket.pause();
    const pings = Buffer.concat(Array.from({ length: 1_000 }, () => clientFrame(OPCODE.ping, Buffer.alloc(125, 0x70))));
    const CAP = 48 << 20;
    let sent = 0;
    while (sent < CAP && !flooder.socket.destroyed) {
      sent += pings.length;
      if (!flooder.socket.write(pings))
        await Promise.race([once(flooder.socket, 'drain').catch(() => {}), flooder.closed]);
    }
    expect(await bob.nextFrame(5_000, 'the flooder to be ended')).toEqual(leave('Flood'));
    expect(sent).toBeLessThan(CAP);
    await server.register('Dave');
    expect(await bob.nextFrame()).toEqual(join('Dave')); // no second leave came first
  });
});

describe('half-closed clients', () => {
  // No slow-consumer kick in these: the backlog is what stays after the kernel buffers fill.
  const roomy = { rateBurst: 0, addressRateBurst: 0, maxBufferedBytes: 64 << 20, textMaxLength: 10_000 };
  const text = 'x'.repeat(8_000);
  const count = 1_504;

  /** Bob sends `count` texts, 12 MB: more than loopback buffers hold for a client that does not read. */
  async function flood(bob: TestSocket): Promise<void> {
    for (let i = 0; i < count; i++) {
      bob.send({ text });
      if (i % 16 === 15) for (let j = 0; j < 16; j++) await bob.nextFrame(); // Bob's own copies
    }
  }

  it('delivers every frame still due to a client that half-closes and keeps reading', async () => {
    const server = await start({ ...roomy, ...LEAVE_AT_ONCE });
    const bob = await server.register('Bob');
    const eve = await rawMember(server, bob);

    // Some of it is still in the server's hands at her FIN.
    eve.socket.pause();
    await flood(bob);
    eve.socket.end(); // FIN, then she reads again: a slow reader, not a gone one
    eve.socket.resume();
    for (let i = 0; i < count; i++)
      expect(await eve.nextJson(`message ${i + 1} of ${count}`)).toMatchObject({
        type: 'message',
        sender: 'Bob',
        text,
      });
    expect(await bob.nextFrame(5_000, "Eve's leave")).toEqual(leave('Eve'));
  }, 30_000);

  it('announces the leave of a client that half-closes with frames still unsent to it, without waiting for heartbeats', async () => {
    const server = await start({ ...roomy, ...LEAVE_AT_ONCE });
    const bob = await server.register('Bob');
    const eve = await rawMember(server, bob);

    eve.socket.pause(); // Eve stops reading
    await flood(bob);
    eve.socket.end(); // FIN: Eve is done, though the server still holds frames for her
    expect(await bob.nextFrame(5_000, "Eve's leave")).toEqual(leave('Eve')); // heartbeats: 30 to 60 s
    await server.register('eve');
    expect(await bob.nextFrame()).toEqual(join('eve'));
  }, 30_000);
});

describe('an unfinished message costs about what its bytes do', () => {
  let server: ServerProcess;
  let port: number;
  beforeAll(async () => {
    server = await startServerProcess(); // MAX_PAYLOAD_BYTES 64 KiB
    port = Number(new URL(server.url).port);
  });
  afterAll(async () => server?.stop());

  /** The server's heap after GC grows by less than this per hostile connection. */
  const PER_CONNECTION_BOUND = 256 * 1024;
  const CONNECTIONS = 4;

  /** Opens CONNECTIONS clients that each run `attack`, and returns the heap growth per client. */
  async function heapGrowthPerClient(attack: (client: RawClient) => Promise<void>): Promise<number> {
    await attack(await RawClient.open(port)); // warm-up: first-use compilation is not growth
    const before = await server.memory();
    const clients = await Promise.all(Array.from({ length: CONNECTIONS }, () => RawClient.open(port)));
    for (const client of clients) await attack(client);
    const after = await server.memory();
    for (const client of clients) client.socket.destroy();
    return (after.heapAfterGcBytes - before.heapAfterGcBytes) / CONNECTIONS;
  }

  it('a text message sent as thousands of one-byte fragments, never finished', async () => {
    // 16,000 fragments is 16 KB of text in 112 KB of frames: far under MAX_PAYLOAD_BYTES.
    const fragments = Buffer.concat([
      clientFrame(OPCODE.text, ' ', { fin: false }),
      ...Array.from({ length: 15_999 }, () => clientFrame(OPCODE.continuation, ' ', { fin: false })),
    ]);
    const growth = await heapGrowthPerClient(async (client) => {
      client.send(fragments);
      await client.fence(); // a ping between fragments is allowed (RFC 6455 §5.4)
    });
    expect(growth).toBeLessThan(PER_CONNECTION_BOUND);
  });

  it('a frame whose payload comes one byte per TCP segment, never finished', async () => {
    const growth = await heapGrowthPerClient(async (client) => {
      client.socket.setNoDelay(true);
      client.send(header64(60_000n).subarray(0, 10)); // masked, 60,000 bytes to come
      client.send(Buffer.from([1, 2, 3, 4]));
      for (let i = 0; i < 20_000 && !client.socket.destroyed; i++) {
        client.send(Buffer.from([0x20]));
        await new Promise((resolve) => setImmediate(resolve)); // one segment each, read apart
      }
    });
    expect(growth).toBeLessThan(PER_CONNECTION_BOUND);
  });
});
