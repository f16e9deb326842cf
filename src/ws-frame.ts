/**
 * A server-to-client WebSocket text frame, header and payload in one buffer (RFC 6455 §5.2):
 * FIN set, opcode 1, never masked. A server frame is the same bytes for every recipient, so
 * fanout encodes it once per broadcast and writes that one buffer to every socket.
 */
const FIN_TEXT = 0x81;
/** Payload lengths up to 125 fit the second byte; 126 and 127 announce 16- and 64-bit ones. */
const SHORT_MAX = 125;
const LENGTH_16 = 126;
const LENGTH_64 = 127;

export function encodeTextFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const header = length <= SHORT_MAX ? 2 : length <= 0xffff ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = FIN_TEXT;
  if (header === 2) frame[1] = length;
  else if (header === 4) {
    frame[1] = LENGTH_16;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = LENGTH_64;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame.write(text, header, 'utf8');
  return frame;
}
