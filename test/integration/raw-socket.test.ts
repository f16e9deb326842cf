/**
 * Hostile clients below the JSON level: hand-written HTTP upgrades and WebSocket frames
 * over a bare TCP socket, where a `ws` client would never let us go wrong.
 */
import { describe, expect, it } from 'vitest';
import { join, leave, welcome } from '../support/expected.js';
import { parseMetrics, sample } from '../support/metrics-text.js';
import { clientFrame, OPCODE, RawClient, upgradeHead, upgradeStatus } from '../support/raw-client.js';
import { serverPerTest } from '../support/ws-client.js';

const start = serverPerTest();

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
    const eve = await RawClient.open(server.port);
    eve.send(clientFrame(OPCODE.text, JSON.stringify({ sender: 'Eve', text: '' })));
    expect(await eve.nextJson('the welcome')).toEqual(welcome('Eve', ['Bob', 'Eve']));
    expect(await bob.nextFrame()).toEqual(join('Eve'));

    eve.send(header64(length));
    expect(await eve.closeCode()).toBe(1009);
    expect(await bob.nextFrame()).toEqual(leave('Eve'));
    const samples = parseMetrics(await (await server.get('/metrics')).text());
    expect(sample(samples, 'chat_leaves_total{cause="policy"}')).toBe(1);
    expect(sample(samples, 'chat_leaves_total{cause="close"}')).toBe(0);
  });
});
