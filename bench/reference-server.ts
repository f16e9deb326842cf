/**
 * The reference: the thinnest correct `ws` server of our protocol, to measure against in
 * the same run. A Map of names to sockets, one JSON.stringify per broadcast, ws.send to
 * each. No actors, no logs, no rate limit, no heartbeat: what any server must pay at least.
 *
 * Started by bench/target.ts in its own process; answers `gc` and `stop` over IPC.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import { obeyParent, reportReady } from './server-control.js';

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  path: '/ws',
  maxPayload: 65_536,
  perMessageDeflate: false,
  clientTracking: false,
});

/** Folded name -> the online client holding it, in join order (the welcome's `users`). */
const online = new Map<string, { name: string; socket: WebSocket }>();
let seq = 0;

function broadcast(frame: object, except: WebSocket): void {
  const data = JSON.stringify(frame);
  for (const { socket } of online.values()) if (socket !== except) socket.send(data);
}

function error(socket: WebSocket, code: string, text: string): void {
  socket.send(JSON.stringify({ type: 'error', sender: 'Server', code, text }));
}

wss.on('connection', (socket) => {
  let name: string | null = null;

  socket.on('message', (data, isBinary) => {
    let frame: { sender?: unknown; text?: unknown };
    try {
      frame = JSON.parse(isBinary ? '' : (data as Buffer).toString()) as typeof frame;
    } catch {
      return error(socket, 'bad_frame', 'Each frame must be a JSON object');
    }
    if (typeof frame !== 'object' || frame === null)
      return error(socket, 'bad_frame', 'Each frame must be a JSON object');

    if (name === null) {
      const wanted = typeof frame.sender === 'string' ? frame.sender.normalize('NFC').trim() : '';
      if (wanted === '' || wanted.length > 32 || wanted.toLowerCase() === 'server') {
        return error(socket, 'invalid_name', 'That name cannot be used');
      }
      const key = wanted.toLowerCase();
      if (online.has(key)) return error(socket, 'name_taken', 'Username already taken');
      name = wanted;
      online.set(key, { name, socket });
      const users = Array.from(online.values(), (member) => member.name);
      socket.send(JSON.stringify({ type: 'welcome', sender: 'Server', text: `Welcome, ${name}!`, name, users }));
      broadcast({ type: 'join', sender: 'Server', text: `${name} has joined the chat`, name }, socket);
      return;
    }

    const text = frame.text;
    if (typeof text !== 'string' || text.trim() === '' || text.length > 4096) {
      return error(socket, 'invalid_message', 'Messages must be 1 to 4096 characters of text');
    }
    const id = String(++seq);
    const ts = Date.now();
    broadcast({ type: 'message', sender: name, text, id, ts }, socket);
    socket.send(JSON.stringify({ type: 'message', text, id, ts }));
  });

  socket.on('close', () => {
    if (name === null) return;
    online.delete(name.toLowerCase());
    broadcast({ type: 'leave', sender: 'Server', text: `${name} has left the chat`, name }, socket);
  });
  socket.on('error', () => undefined);
});

wss.on('listening', () => {
  const address = wss.address();
  reportReady(typeof address === 'object' && address !== null ? address.port : 0);
});
obeyParent(() => undefined);
