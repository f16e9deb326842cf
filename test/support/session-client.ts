/**
 * Sessions over real sockets (PROTOCOL.md, Sessions): register and keep the welcome's
 * secret, then resume it from another socket.
 *
 *   const alice = await registerForSession(server, 'Alice');
 *   alice.socket.terminate();                       // a lost connection keeps the session
 *   const again = await resumeSession(server, alice.secret, { epoch: alice.epoch, since: '0' });
 */
import { DEFAULT_WAIT_MS, type Frame, type TestSocket } from './ws-client.js';
import type { TestServer } from './test-server.js';

export interface Registered {
  socket: TestSocket;
  /** The welcome's `session`: the one way to resume, which must never be logged or shown. */
  secret: string;
  epoch: string;
}

/** Connects and claims `name`; the welcome is consumed, its session kept. */
export async function registerForSession(server: TestServer, name: string): Promise<Registered> {
  const socket = await server.connect({ label: name });
  socket.send({ sender: name, text: '' });
  const welcome = await socket.nextFrame(DEFAULT_WAIT_MS, `the welcome for ${name}`);
  if (welcome.type !== 'welcome' || typeof welcome.session !== 'string' || typeof welcome.epoch !== 'string') {
    throw new Error(`${name} was not welcomed with a session: ${JSON.stringify(welcome)}`);
  }
  return { socket, secret: welcome.session, epoch: welcome.epoch };
}

/** Connects and names the session `secret`; returns the socket and the server's first answer. */
export async function resumeSession(
  server: TestServer,
  secret: string,
  position: { epoch?: string; since?: string } = {},
  label = 'resumer',
): Promise<{ socket: TestSocket; reply: Frame }> {
  const socket = await server.connect({ label });
  socket.send({ session: secret, ...position });
  return { socket, reply: await socket.nextFrame(DEFAULT_WAIT_MS, `the answer to ${label}'s resume`) };
}
