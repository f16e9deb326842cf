/**
 * Hostile clients below the JSON level: hand-written HTTP upgrades and WebSocket frames
 * over a bare TCP socket, where a `ws` client would never let us go wrong.
 */
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { welcome } from '../support/expected.js';
import { nextEvent, serverPerTest, withTimeout, DEFAULT_WAIT_MS } from '../support/ws-client.js';

const start = serverPerTest();

/** A TCP connection to the server, open. */
async function rawSocket(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {}); // a reset by the server shows as 'close'
  await nextEvent(socket, 'connect');
  return socket;
}

/** Sends `head` (the request line and headers, CRLF each) and resolves with the HTTP status answered. */
async function upgradeStatus(port: number, head: string[]): Promise<number> {
  const socket = await rawSocket(port);
  let received = '';
  const status = new Promise<number>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const match = /^HTTP\/1\.1 (\d{3}) /.exec(received);
      if (match !== null) resolve(Number(match[1]));
    });
    socket.on('close', () => reject(new Error(`closed without a status line: ${JSON.stringify(received)}`)));
  });
  socket.write(`${head.join('\r\n')}\r\n\r\n`);
  try {
    return await withTimeout(status, DEFAULT_WAIT_MS, 'the status line');
  } finally {
    socket.destroy();
  }
}

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const upgradeHead = (headers: Record<string, string>, requestLine = 'GET /ws HTTP/1.1') => [
  requestLine,
  'Host: 127.0.0.1',
  ...Object.entries({ Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': KEY, ...headers })
    .filter(([, value]) => value !== '')
    .map(([name, value]) => `${name}: ${value}`),
];

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
