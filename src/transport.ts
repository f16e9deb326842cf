/**
 * Glue between one ws socket and one connection actor, both ways:
 *
 *   socket 'message' / 'pong' / 'close'  ──▶  actor events
 *   actor 'frame' / 'close' / 'terminate' / 'ping'  ──▶  socket calls
 *
 * Everything the client sends passes through `readClientFrame` first, so the actor only
 * ever sees typed events.
 */
import { isUtf8 } from 'node:buffer';
import type { WebSocket, RawData } from 'ws';
import type { Logger } from 'pino';
import type { Actor } from 'xstate';
import type { connectionMachine } from '../machines/connection.machine.js';
import { readClientFrame } from './protocol.js';
import { sendFrame } from './fanout.js';

export type ConnectionActor = Actor<typeof connectionMachine>;

/** Wires `socket` and `actor` together until either ends. */
export function bindSocket(socket: WebSocket, actor: ConnectionActor, log: Logger): void {
  const isRunning = (): boolean => actor.getSnapshot().status === 'active';

  socket.on('message', (data: RawData, isBinary: boolean) => {
    if (!isRunning()) return;
    actor.send(readClientFrame(isBinary ? null : textOf(data), Date.now()));
  });
  socket.on('pong', () => {
    if (isRunning()) actor.send({ type: 'client.pong' });
  });
  socket.on('close', () => {
    if (isRunning()) actor.send({ type: 'client.closed' });
  });
  // 'close' always follows 'error'; the actor learns of the end there.
  socket.on('error', (err) => log.debug({ err }, 'socket error'));

  actor.on('frame', ({ frame }) => sendFrame(socket, frame));
  actor.on('close', ({ code, reason }) => socket.close(code, reason));
  actor.on('terminate', () => socket.terminate());
  actor.on('ping', () => {
    if (socket.readyState === socket.OPEN) socket.ping();
  });
}

/**
 * The frame's text, or null when its bytes are not UTF-8. The server skips ws's own check,
 * which would fail the whole connection with 1007: SPEC §5 makes a frame that is not JSON
 * a bad_frame the client survives, and bytes that are not text are not JSON.
 */
function textOf(data: RawData): string | null {
  const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
  return isUtf8(bytes) ? bytes.toString('utf8') : null;
}
