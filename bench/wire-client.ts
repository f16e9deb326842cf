/**
 * A minimal WebSocket client for load generation: the upgrade, masked text frames out,
 * unmasked text frames in, pings answered. Nothing else (no extensions, no fragments).
 *
 * Why not `ws`: on this 2-core machine the load shares the CPU with the server under test,
 * and ws's receiver (a stream per socket, an event per frame) costs the clients as much CPU
 * as the server spends. This parser costs a fraction of that, so more of the machine
 * measures the server. It is used for both servers, so the comparison stays fair.
 */
import { connect, type Socket } from 'node:net';

export interface WireHandlers {
  open(): void;
  /** One text frame, decoded as latin1: the bench's frames are ASCII. */
  frame(text: string): void;
  close(error: Error | null): void;
}

const HEADER_END = Buffer.from('\r\n\r\n');
/** A zero masking key leaves the payload as it is: the mask bit is what the RFC demands. */
const ZERO_MASK = Buffer.alloc(4);
const OP_TEXT = 0x1;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

export class WireClient {
  private readonly socket: Socket;
  private upgraded = false;
  /** Bytes received and not yet parsed (a frame split across reads). */
  private pending: Buffer | null = null;
  private closed = false;

  constructor(url: string, handlers: WireHandlers, localAddress?: string) {
    const { hostname, port, pathname } = new URL(url);
    this.socket = connect({
      host: hostname,
      port: Number(port),
      ...(localAddress === undefined ? {} : { localAddress }),
    });
    this.socket.setNoDelay(true);
    this.socket.on('connect', () => {
      this.socket.write(
        `GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: YmVuY2hiZW5jaGJlbmNoIQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk, handlers));
    this.socket.on('error', (err) => this.end(handlers, err));
    this.socket.on('close', () => this.end(handlers, null));
  }

  send(text: string): void {
    const length = Buffer.byteLength(text);
    if (length > 0xffff) throw new Error('bench frames stay under 64 KiB');
    const header = length < 126 ? 2 : 4;
    const frame = Buffer.allocUnsafe(header + 4 + length);
    frame[0] = 0x80 | OP_TEXT;
    if (length < 126) frame[1] = 0x80 | length;
    else {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(length, 2);
    }
    ZERO_MASK.copy(frame, header);
    frame.write(text, header + 4, 'latin1');
    this.socket.write(frame);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private end(handlers: WireHandlers, error: Error | null): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    handlers.close(error);
  }

  private control(opcode: number, payload: Buffer): void {
    const frame = Buffer.allocUnsafe(6 + payload.length);
    frame[0] = 0x80 | opcode;
    frame[1] = 0x80 | payload.length;
    ZERO_MASK.copy(frame, 2);
    payload.copy(frame, 6);
    this.socket.write(frame);
  }

  private receive(chunk: Buffer, handlers: WireHandlers): void {
    let data = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = null;
    if (!this.upgraded) {
      const end = data.indexOf(HEADER_END);
      if (end < 0) {
        this.pending = data;
        return;
      }
      if (!data.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 101')) {
        return this.end(
          handlers,
          new Error(`upgrade refused: ${data.subarray(0, data.indexOf('\r\n')).toString('latin1')}`),
        );
      }
      this.upgraded = true;
      data = data.subarray(end + 4);
      handlers.open();
    }
    let at = 0;
    while (data.length - at >= 2) {
      const opcode = data[at]! & 0x0f;
      let length = data[at + 1]! & 0x7f;
      let start = at + 2;
      if (length === 126) {
        if (data.length - at < 4) break;
        length = data.readUInt16BE(at + 2);
        start = at + 4;
      } else if (length === 127) {
        if (data.length - at < 10) break;
        length = Number(data.readBigUInt64BE(at + 2));
        start = at + 10;
      }
      if (data.length < start + length) break;
      const end = start + length;
      if (opcode === OP_TEXT) handlers.frame(data.toString('latin1', start, end));
      else if (opcode === OP_PING) this.control(OP_PONG, data.subarray(start, end));
      else if (opcode === OP_CLOSE) return this.end(handlers, null);
      at = end;
    }
    if (at < data.length) this.pending = data.subarray(at);
  }
}
