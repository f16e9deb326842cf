/**
 * The reconnect storm's proxy (bench/cut-proxy.ts) over real sockets: it hands connections
 * to its targets in turn, cut() drops every one at once and it accepts again, only() sends
 * every new connection to one target, and a target's connection that dies takes the
 * client's side with it (a killed node). The storm's figures rest on each of these.
 */
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CutProxy } from '../../bench/cut-proxy.js';

/** A target that greets every connection with its own name and keeps it, so that it can be closed. */
async function target(name: string): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    socket.write(name);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port, sockets };
}

/** Connects through `proxy` and resolves with the socket and the name of the target that answered. */
async function through(proxy: CutProxy): Promise<{ socket: Socket; name: string }> {
  const socket = connect(proxy.port, '127.0.0.1');
  socket.on('error', () => {});
  const [data] = (await once(socket, 'data')) as [Buffer];
  return { socket, name: data.toString() };
}

const closed = (socket: Socket) => (socket.destroyed ? Promise.resolve() : once(socket, 'close').then(() => undefined));

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const done of cleanup.splice(0)) done();
});

async function setUp() {
  const a = await target('A');
  const b = await target('B');
  const proxy = await CutProxy.start([a.port, b.port]);
  cleanup.push(() => {
    proxy.kill();
    for (const t of [a, b]) {
      for (const s of t.sockets) s.destroy();
      t.server.close();
    }
  });
  return { a, b, proxy };
}

describe('the reconnect storm proxy', () => {
  it('hands connections to its targets in turn', async () => {
    const { a, proxy } = await setUp();
    const names = [];
    for (let i = 0; i < 4; i++) names.push((await through(proxy)).name);
    expect(names).toEqual(['A', 'B', 'A', 'B']);
    expect(proxy.connections()).toBe(4);
    expect(proxy.connections(a.port)).toBe(2);
  });

  it('cut() drops every connection at once, on both sides, and accepts again', async () => {
    const { a, b, proxy } = await setUp();
    const clients = [await through(proxy), await through(proxy), await through(proxy)];
    expect(proxy.cut()).toBe(3);
    await Promise.all([...clients.map((c) => closed(c.socket)), ...[...a.sockets, ...b.sockets].map(closed)]);
    expect(proxy.connections()).toBe(0);
    expect((await through(proxy)).name).toMatch(/^[AB]$/);
    expect(proxy.connections()).toBe(1);
  });

  it('only() sends every new connection to one target; a target that dies drops its clients', async () => {
    const { a, b, proxy } = await setUp();
    const onA = await through(proxy);
    const onB = await through(proxy);
    expect([onA.name, onB.name]).toEqual(['A', 'B']);
    proxy.only(b.port);
    const later = [await through(proxy), await through(proxy), await through(proxy)];
    expect(later.map((c) => c.name)).toEqual(['B', 'B', 'B']);
    // A dies: the kernel closes its sockets.
    for (const socket of a.sockets) socket.destroy();
    await closed(onA.socket);
    expect(proxy.connections(a.port)).toBe(0);
    expect(proxy.connections(b.port)).toBe(4);
    expect(onB.socket.destroyed).toBe(false);
  });
});
