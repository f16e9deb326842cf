/**
 * The frame fanout writes straight to TCP sockets must be what any WebSocket client reads:
 * checked with ws's own receiver (the client side, which expects unmasked frames).
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import * as ws from 'ws';
import { encodeTextFrame } from '../../src/ws-frame.js';

/** ws exports its frame parser at run time; @types/ws does not declare it. */
const { Receiver } = ws as unknown as {
  Receiver: new (options: { isServer: boolean; maxPayload: number }) => EventEmitter & { write(chunk: Buffer): void };
};

function decode(frame: Buffer): Promise<string> {
  const receiver = new Receiver({ isServer: false, maxPayload: 0 });
  return new Promise((resolve, reject) => {
    receiver.on('message', (data: Buffer, isBinary: boolean) =>
      isBinary ? reject(new Error('binary')) : resolve(data.toString('utf8')),
    );
    receiver.on('error', reject);
    receiver.write(frame);
  });
}

describe('encodeTextFrame', () => {
  // Each length form of RFC 6455 §5.2 at its edges: 7-bit, 16-bit, 64-bit.
  it.each([0, 1, 125, 126, 127, 65_535, 65_536, 200_000])(
    'encodes a %i-byte text so a client reads it back',
    async (length) => {
      const text = 'x'.repeat(length);
      const frame = encodeTextFrame(text);
      expect(frame[0]).toBe(0x81); // FIN, text, no RSV bits
      expect(frame[1]! & 0x80).toBe(0); // server frames are never masked
      expect(await decode(frame)).toBe(text);
    },
  );

  it('counts the length in UTF-8 bytes, not UTF-16 units', async () => {
    const text = JSON.stringify({ text: 'é😀'.repeat(40) }); // 240 bytes of payload, 120 units of text
    const frame = encodeTextFrame(text);
    expect(frame.length).toBe(4 + Buffer.byteLength(text));
    expect(await decode(frame)).toBe(text);
  });
});
