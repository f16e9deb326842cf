/**
 * deploy/nginx/chat.conf, as an operator copies it (ports and paths replaced), in front of two
 * nodes started with deploy/chat.env and a private Redis: the page and its files come
 * through, nothing else of a node does; the nodes see the client's own address, from nginx
 * and from nobody else; a node killed, its clients carry on through nginx on the other.
 * The browser over TLS is nginx-tls.test.ts; an idle connection, nginx-idle.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { connect, type ChatClient } from '../../client/index.js';
import type { LogLine } from '../support/cli.js';
import { DeployNode, deployEnv } from '../support/deploy-node.js';
import { Nginx, nginxAvailable } from '../support/nginx.js';
import { freePort, redisPerFile, redisServerBinary } from '../support/redis-server.js';
import { TestSocket, withTimeout } from '../support/ws-client.js';

const WAIT_MS = 10_000;
const available = nginxAvailable() && redisServerBinary !== null;

/** The first line any of `nodes` logged that `match` accepts, once logged (asked every 20 ms; bounded). */
async function loggedLine(nodes: DeployNode[], match: (line: LogLine) => boolean, what: string): Promise<LogLine> {
  const find = async () => {
    for (;;) {
      const line = nodes.flatMap((node) => node.logLines).find(match);
      if (line !== undefined) return line;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  return withTimeout(find(), WAIT_MS, what);
}

/** The `connection opened` line of the connection that registered `name`. */
async function openedLineOf(nodes: DeployNode[], name: string): Promise<LogLine> {
  const registered = await loggedLine(
    nodes,
    (l) => l.msg === 'registered' && l.name === name,
    `${name}'s registration`,
  );
  return loggedLine(nodes, (l) => l.msg === 'connection opened' && l.conn === registered.conn, `${name}'s connection`);
}

async function register(socket: TestSocket, name: string): Promise<void> {
  socket.send({ sender: name, text: '' });
  expect((await socket.nextFrame(WAIT_MS, 'the welcome')).type).toBe('welcome');
}

describe.skipIf(!available)('nginx with deploy/nginx/chat.conf in front of two nodes', () => {
  const redis = redisPerFile();
  let nodes: DeployNode[] = [];
  let nginx: Nginx;
  const sockets: TestSocket[] = [];
  const clients: ChatClient[] = [];

  beforeAll(async () => {
    const settings = deployEnv(redis().url);
    nodes = await Promise.all([freePort(), freePort()].map(async (port) => DeployNode.start(await port, settings)));
    nginx = await Nginx.start({ site: 'chat.conf', nodes: nodes.map((node) => node.port) });
  }, 30_000);

  afterAll(async () => {
    for (const client of clients) client.close();
    for (const socket of sockets) socket.terminate();
    await nginx?.stop();
    await Promise.all(nodes.map((node) => node.stop()));
  });

  const wsUrl = () => `ws://127.0.0.1:${nginx.httpPort}/ws`;

  async function open(url: string, options: Parameters<typeof TestSocket.open>[1]): Promise<TestSocket> {
    const socket = await TestSocket.open(url, options);
    sockets.push(socket);
    return socket;
  }

  it('serves the chat page and its files, and nothing else of a node', async () => {
    const page = await fetch(`${nginx.httpUrl}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('/assets/chat.js');
    for (const asset of ['/assets/chat.js', '/assets/chat.css', '/assets/base.css'])
      expect((await fetch(`${nginx.httpUrl}${asset}`)).status, asset).toBe(200);

    for (const path of ['/healthz', '/readyz', '/metrics', '/inspect', '/assets/../metrics', '/favicon.ico']) {
      expect((await fetch(`${nginx.httpUrl}${path}`)).status, path).toBe(404);
    }
    // They are there, at each node's own address.
    for (const node of nodes) expect((await node.get('/readyz')).status).toBe(200);
  });

  it('sees the client that connected to nginx, whatever its X-Forwarded-For says', async () => {
    const forged = { 'X-Forwarded-For': '203.0.113.9' };
    const viaNginx = await open(wsUrl(), { localAddress: '127.0.0.2', headers: forged, label: 'via nginx' });
    await register(viaNginx, 'via-nginx');
    const opened = await openedLineOf(nodes, 'via-nginx');
    expect(opened.ip).toBe('127.0.0.2');
    expect(opened.peer).toBe('127.0.0.1');

    // A client that reaches a node without nginx is not a trusted proxy: its header is ignored.
    const direct = await open(`ws://127.0.0.1:${nodes[0]!.port}/ws`, { localAddress: '127.0.0.2', headers: forged });
    await register(direct, 'direct');
    const directOpened = await openedLineOf(nodes, 'direct');
    expect(directOpened.ip).toBe('127.0.0.2');
    expect(directOpened.peer).toBeUndefined();
  });

  // Last: a node stays dead.
  it("keeps a killed node's clients in the chat through the other node", async () => {
    const join = (name: string) => {
      const client = connect(wsUrl(), name, { WebSocket });
      clients.push(client);
      return client;
    };
    const alice = join('alice');
    const bob = join('bob');
    const online = (client: ChatClient) =>
      withTimeout(
        new Promise<void>((resolve) => {
          if (client.state === 'online') return resolve();
          const stop = client.on('state', ({ state }) => state === 'online' && (stop(), resolve()));
        }),
        WAIT_MS,
        `${client.name} online`,
      );
    await Promise.all([online(alice), online(bob)]);
    const bobHeard: string[] = [];
    let bobHeardAfter: () => void = () => {};
    const heardAfter = new Promise<void>((resolve) => (bobHeardAfter = resolve));
    bob.on('message', (m) => {
      bobHeard.push(m.text);
      if (m.text === 'after') bobHeardAfter();
    });
    const bobSawLeave: string[] = [];
    bob.on('leave', (leave) => bobSawLeave.push(leave.name));
    await alice.send('before');

    const registered = await loggedLine(nodes, (l) => l.msg === 'registered' && l.name === 'alice', "alice's node");
    const alicesNode = nodes.find((node) => node.logLines.includes(registered))!;
    const lost = new Promise<void>((resolve) => {
      const stop = alice.on('state', ({ state }) => state === 'reconnecting' && (stop(), resolve()));
    });
    await alicesNode.signal('SIGKILL');
    await withTimeout(lost, WAIT_MS, 'alice to notice her node is gone');
    await online(alice);

    const reply = await withTimeout(alice.send('after'), WAIT_MS, "the server's copy of 'after'");
    expect(reply.text).toBe('after');
    await withTimeout(heardAfter, WAIT_MS, "bob to hear 'after'");
    expect(bobHeard).toEqual(['before', 'after']);
    expect(bobSawLeave).toEqual([]);
    const survivor = nodes.find((node) => node !== alicesNode)!;
    expect(survivor.running).toBe(true);
  }, 30_000);
});
