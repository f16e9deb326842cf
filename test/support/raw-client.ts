/**
 * A WebSocket client written by hand over a bare TCP socket, for hostile clients below the
 * JSON level: hand-made upgrade requests and frames a `ws` client would never send.
 *
 *   const client = await RawClient.open(port);
 *   client.send(clientFrame(OPCODE.text, '{"sender":"Eve","text":""}'));
 *   await client.nextJson();                       // the welcome
 *   client.send(clientFrame(OPCODE.ping, 'x', { fin: false }));   // a fragmented ping: illegal
 *   await client.closeCode();                      // 1002
 */
import { connect, type Socket } from 'node:net';
import { assertServerFrame } from './frame-contract.js';
import { DEFAULT_WAIT_MS, nextEvent, withTimeout } from './ws-client.js';

/** A TCP connection to the server, open. */
export async function rawSocket(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {}); // a reset by the server shows as 'close'
  await nextEvent(socket, 'connect');
  return socket;
}

/** Sends `head` (the request line and headers, CRLF each) and resolves with the HTTP status answered. */
export async function upgradeStatus(port: number, head: string[]): Promise<number> {
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

export const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
/** An upgrade request's head, one line each; a header given as '' is left out, and `Host` replaces 127.0.0.1. */
export const upgradeHead = (headers: Record<string, string>, requestLine = 'GET /ws HTTP/1.1') => [
  requestLine,
  ...Object.entries({
    Host: '127.0.0.1',
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': KEY,
    ...headers,
  })
    .filter(([, value]) => value !== '')
    .map(([name, value]) => `${name}: ${value}`),
];

export const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** One client frame (RFC 6455 §5.2), masked unless told otherwise; `fin: false` starts or continues a fragmented message. */
export function clientFrame(
  opcode: number,
  payload: Buffer | string,
  options: { fin?: boolean; masked?: boolean } = {},
): Buffer {
  const data = Buffer.from(payload);
  const masked = options.masked ?? true;
  const lengthBytes = data.length <= 125 ? 0 : data.length <= 0xffff ? 2 : 8;
  const header = Buffer.alloc(2 + lengthBytes + (masked ? 4 : 0));
  header[0] = ((options.fin ?? true) ? 0x80 : 0) | opcode;
  header[1] = (masked ? 0x80 : 0) | (lengthBytes === 0 ? data.length : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) header.writeUInt16BE(data.length, 2);
  if (lengthBytes === 8) header.writeBigUInt64BE(BigInt(data.length), 2);
  if (!masked) return Buffer.concat([header, data]);
  const mask = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  mask.copy(header, header.length - 4);
  return Buffer.concat([header, data.map((byte, i) => byte ^ mask[i % 4]!)]);
}

/** A WebSocket client written by hand: the upgrade, then whatever frames the test sends. */
export class RawClient {
  private received = Buffer.alloc(0);
  private readonly frames: { opcode: number; payload: Buffer }[] = [];
  private wake: (() => void) | null = null;
  /** Until the 101 has been read, `received` holds HTTP, not frames. */
  private upgraded = false;
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      if (this.upgraded) this.parse();
      this.wake?.();
    });
  }

  static async open(port: number): Promise<RawClient> {
    const socket = await rawSocket(port);
    const client = new RawClient(socket);
    socket.write(`${upgradeHead({}).join('\r\n')}\r\n\r\n`);
    await client.until(() => client.received.includes('\r\n\r\n'), 'the handshake');
    const end = client.received.indexOf('\r\n\r\n') + 4;
    const status = client.received.subarray(0, end).toString('latin1');
    if (!status.startsWith('HTTP/1.1 101 ')) throw new Error(`upgrade refused: ${status}`);
    client.received = client.received.subarray(end);
    client.upgraded = true;
    client.parse();
    return client;
  }

  send(frame: Buffer): void {
    this.socket.write(frame);
  }

  /** The next text frame from the server, parsed; rejects if it breaks docs/asyncapi.yaml. */
  async nextJson(what = 'a text frame'): Promise<unknown> {
    await this.until(() => this.frames.some((frame) => frame.opcode === OPCODE.text), what);
    const index = this.frames.findIndex((frame) => frame.opcode === OPCODE.text);
    const frame: unknown = JSON.parse(
      this.frames
        .splice(0, index + 1)
        .at(-1)!
        .payload.toString('utf8'),
    );
    assertServerFrame(frame, 'raw client');
    return frame;
  }

  /**
   * Sends a ping and resolves once its pong is back, or the server has closed: the server
   * reads a socket in order, so by then it has taken in everything sent before.
   */
  async fence(): Promise<void> {
    const token = Buffer.from(`fence-${Math.random()}`);
    this.send(clientFrame(OPCODE.ping, token));
    await this.until(
      () =>
        this.frames.some(
          (frame) => (frame.opcode === OPCODE.pong && frame.payload.equals(token)) || frame.opcode === OPCODE.close,
        ),
      'the pong fence',
    ).catch((err: unknown) => {
      if (!this.socket.destroyed) throw err;
    });
  }

  /** The status code of the server's close frame. */
  async closeCode(): Promise<number> {
    await this.until(() => this.frames.some((frame) => frame.opcode === OPCODE.close), 'a close frame');
    return this.frames.find((frame) => frame.opcode === OPCODE.close)!.payload.readUInt16BE(0);
  }

  private async until(done: () => boolean, what: string): Promise<void> {
    let check = () => {};
    const reached = new Promise<void>((resolve, reject) => {
      check = () => {
        if (done()) resolve();
        else if (this.socket.destroyed) reject(new Error(`socket closed while waiting for ${what}`));
      };
      this.wake = check;
      this.socket.once('close', check);
      check();
    });
    try {
      await withTimeout(reached, DEFAULT_WAIT_MS, what);
    } finally {
      // Each wait takes its 'close' listener back, whatever its outcome: a test that waits
      // a dozen times on one client would otherwise pile them up on the socket.
      this.socket.off('close', check);
      if (this.wake === check) this.wake = null;
    }
  }

  /** Server frames are never masked and never longer than 64 KiB here. */
  private parse(): void {
    while (this.received.length >= 2) {
      const short = this.received[1]! & 0x7f;
      const header = short === 126 ? 4 : short === 127 ? 10 : 2;
      if (this.received.length < header) return;
      const length =
        short === 126
          ? this.received.readUInt16BE(2)
          : short === 127
            ? Number(this.received.readBigUInt64BE(2))
            : short;
      if (this.received.length < header + length) return;
      this.frames.push({ opcode: this.received[0]! & 0x0f, payload: this.received.subarray(header, header + length) });
      this.received = this.received.subarray(header + length);
    }
  }
}
