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

type ConnectionEffect = Parameters<Parameters<ConnectionActor['on']>[1]>[0];

/**
 * The actor and logger behind each bound socket. The socket listeners below are shared
 * functions that look their connection up here (`this` is the socket), rather than four
 * closures per connection: what every idle connection holds is the server's memory bill.
 */
const bindings = new WeakMap<WebSocket, { actor: ConnectionActor; log: Logger }>();

/** Wires `socket` and `actor` together until either ends. */
export function bindSocket(socket: WebSocket, actor: ConnectionActor, log: Logger): void {
  bindings.set(socket, { actor, log });
  socket.on('message', onMessage);
  socket.on('pong', onPong);
  socket.on('close', onClose);
  socket.on('error', onError);
  // One listener for every effect: each event type of its own would cost a Set.
  actor.on('*', (effect) => carryOut(socket, effect));
}

function runningActor(socket: WebSocket): ConnectionActor | undefined {
  const actor = bindings.get(socket)?.actor;
  return actor?.getSnapshot().status === 'active' ? actor : undefined;
}

function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  runningActor(this)?.send(readClientFrame(isBinary ? null : textOf(data), Date.now()));
}

function onPong(this: WebSocket): void {
  runningActor(this)?.send({ type: 'client.pong' });
}

function onClose(this: WebSocket, code: number): void {
  runningActor(this)?.send({ type: 'client.closed', code });
}

/**
 * Every error ws reports on a client's socket is a rule the client broke, after which ws
 * closes the socket itself: a message over MAX_PAYLOAD_BYTES or too long to count (1009),
 * too many fragments or reads for one message (admission.ts's MIN_FRAGMENTS and
 * MIN_BUFFERED_CHUNKS, 1008), or a frame RFC 6455 forbids (1002). The end is then the
 * server's, a policy leave, not the client's own close.
 */
function onError(this: WebSocket, err: Error & { code?: string }): void {
  bindings.get(this)?.log.debug({ err }, 'socket error');
  if (err.code?.startsWith('WS_ERR_')) runningActor(this)?.send({ type: 'client.brokeRule' });
}

function carryOut(socket: WebSocket, effect: ConnectionEffect): void {
  switch (effect.type) {
    case 'frame':
      return sendFrame(socket, effect.frame);
    case 'close':
      return socket.close(effect.code, effect.reason);
    case 'terminate':
      return socket.terminate();
    case 'ping':
      if (socket.readyState === socket.OPEN) socket.ping();
      return;
    case 'limited': // counted and logged by observe.ts
      return;
  }
}

/**
 * The frame's text, or null when its bytes are not UTF-8. The server skips ws's own check,
 * which would fail the whole connection with 1007: the protocol makes a frame that is not JSON
 * a bad_frame the client survives, and bytes that are not text are not JSON.
 */
function textOf(data: RawData): string | null {
  const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
  return isUtf8(bytes) ? bytes.toString('utf8') : null;
}
