/**
 * SPEC §1 (endpoint and frames), the parts of §5 a client meets first (bad frames, too-big
 * frames, upgrade refusals) and §6's HTTP endpoints, over real sockets on 127.0.0.1.
 * The harness itself fails any test in which the server sends something other than one
 * JSON object in a text frame.
 */
import { describe, expect, it } from 'vitest';
import { error, welcome } from '../support/expected.js';
import { LOGGED_CHARS } from '../../src/log.js';
import { LogCapture } from '../support/log-capture.js';
import { upgradeHead, upgradeStatus } from '../support/raw-client.js';
import { TestSocket, UpgradeRefused } from '../support/ws-client.js';
import { serverPerTest } from '../support/test-server.js';

const start = serverPerTest();

async function refusal(url: string, origin?: string): Promise<number> {
  const opened = TestSocket.open(url, origin === undefined ? {} : { origin });
  await expect(opened).rejects.toBeInstanceOf(UpgradeRefused);
  return ((await opened.catch((err: unknown) => err)) as UpgradeRefused).status;
}

describe('endpoint (SPEC §1)', () => {
  it.each(['/', '/chat', '/ws/more', '/WS'])('refuses an upgrade on %s with HTTP 404', async (path) => {
    const server = await start();
    expect(await refusal(`ws://127.0.0.1:${server.port}${path}`)).toBe(404);
  });

  it('accepts an upgrade on /ws with a query string', async () => {
    const server = await start();
    const client = await TestSocket.open(`${server.url}?room=main`);
    client.send({ sender: 'Alice', text: '' });
    expect(await client.nextFrame()).toEqual(welcome('Alice', ['Alice']));
    client.close();
  });

  it('ignores unknown fields in client frames', async () => {
    const server = await start();
    const client = await server.connect();
    client.send({ sender: 'Alice', text: '', color: 'red', type: 'admin' });
    expect(await client.nextFrame()).toEqual(welcome('Alice', ['Alice']));
  });
});

describe('HTTP on the same port (SPEC §6)', () => {
  it.each([
    ['/healthz', 200],
    ['/readyz', 200],
    ['/nope', 404],
  ])('answers GET %s with %i', async (path, status) => {
    const server = await start();
    const res = await server.get(path);
    expect(res.status).toBe(status);
    await res.arrayBuffer();
  });

  it('answers a plain GET /ws (the endpoint opened in a browser) with 426 and how to connect', async () => {
    const server = await start();
    const res = await server.get('/ws?room=main');
    expect(res.status).toBe(426);
    expect(res.headers.get('upgrade')).toBe('websocket');
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect((await res.text()).trim()).toBe(
      `This is a WebSocket endpoint: connect with a WebSocket client to ws://127.0.0.1:${server.port}/ws`,
    );
  });
});

describe('request targets', () => {
  // A proxy that routes by path prefix (only /ws to the chat, say) passes these on as
  // something other than the route; read as URLs, they used to reach it.
  const plainGet = (target: string) => [`GET ${target} HTTP/1.1`, 'Host: 127.0.0.1'];

  it.each(['//x/metrics', '//127.0.0.1/metrics', '/x/../metrics', 'http://127.0.0.1/metrics', '//x/healthz'])(
    'answers GET %s with 404: only a target whose path is exactly the route serves it',
    async (target) => {
      const server = await start();
      expect(await upgradeStatus(server.port, plainGet(target))).toBe(404);
    },
  );

  it.each(['//evil.example/ws', '//evil.example/ws?x=1', '/x/../ws', 'http://evil.example/ws'])(
    'refuses an upgrade on %s with 404',
    async (target) => {
      const server = await start();
      expect(await upgradeStatus(server.port, upgradeHead({}, `GET ${target} HTTP/1.1`))).toBe(404);
    },
  );

  it('still serves /metrics with a query, and upgrades /ws with one', async () => {
    const server = await start();
    expect(await upgradeStatus(server.port, plainGet('/metrics?name[]=chat_connections'))).toBe(200);
    expect(await upgradeStatus(server.port, upgradeHead({}, 'GET /ws?room=main HTTP/1.1'))).toBe(101);
  });
});

describe('bad input (SPEC §5)', () => {
  it.each([
    ['not JSON', 'hello'],
    ['a JSON array', '[1,2]'],
    ['a JSON string', '"Alice"'],
    ['JSON null', 'null'],
    ['a number as sender', '{"sender":5,"text":""}'],
    ['an object as text', '{"sender":"Alice","text":{}}'],
    ['a binary frame', Buffer.from('{"sender":"Alice","text":""}')],
    ['a text frame that is not UTF-8', { utf8: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }],
  ])('answers %s with bad_frame before registering, and the client stays usable', async (_, frame) => {
    const server = await start();
    const client = await server.connect();
    if (typeof frame === 'object' && 'utf8' in frame) client.ws.send(frame.utf8, { binary: false });
    else client.send(frame);
    expect(await client.nextFrame()).toEqual(error('bad_frame'));
    client.send({ sender: 'Alice', text: '' });
    expect(await client.nextFrame()).toEqual(welcome('Alice', ['Alice']));
  });

  it('answers bad frames with bad_frame after registering, and the client can still chat', async () => {
    const server = await start();
    const alice = await server.register('Alice');
    const bob = await server.register('Bob');
    await alice.nextFrame(); // Bob's join
    alice.send('{"text":');
    expect(await alice.nextFrame()).toEqual(error('bad_frame'));
    alice.send(Buffer.from([0xff, 0x00]));
    expect(await alice.nextFrame()).toEqual(error('bad_frame'));
    alice.send({ text: 'still fine' });
    expect((await bob.nextFrame()).text).toBe('still fine');
  });

  it('closes with 1008 after the 10th bad frame, not before', async () => {
    const server = await start();
    const client = await server.connect();
    for (let i = 0; i < 9; i++) client.send('nope');
    for (let i = 0; i < 9; i++) expect(await client.nextFrame()).toEqual(error('bad_frame'));
    await client.expectQuiet(); // still open
    client.send('nope');
    expect(await client.nextFrame()).toEqual(error('bad_frame'));
    expect((await client.waitClose()).code).toBe(1008);
  });

  it('closes with 1009 on a frame over maxPayloadBytes, and takes one of exactly that size', async () => {
    const server = await start({ maxPayloadBytes: 1024 });
    const exact = await server.connect();
    const frame = JSON.stringify({ sender: 'Alice', text: '' });
    exact.send(frame + ' '.repeat(1024 - frame.length)); // JSON allows trailing whitespace
    expect(await exact.nextFrame()).toEqual(welcome('Alice', ['Alice']));

    const big = await server.connect();
    big.send(frame + ' '.repeat(1025 - frame.length));
    expect((await big.waitClose()).code).toBe(1009);
  });

  it('refuses an upgrade from an origin outside the allow-list with HTTP 403', async () => {
    const server = await start({ allowedOrigins: ['https://chat.example'] });
    expect(await refusal(server.url, 'https://evil.example')).toBe(403);
    const allowed = await server.connect({ origin: 'https://chat.example' });
    allowed.send({ sender: 'Alice', text: '' });
    expect(await allowed.nextFrame()).toEqual(welcome('Alice', ['Alice']));
  });

  /** Opens a socket with this Origin (none when undefined) and returns 101 or the HTTP status of the refusal. */
  async function statusFor(url: string, origin?: string): Promise<number> {
    try {
      (await TestSocket.open(url, origin === undefined ? {} : { origin })).close();
      return 101;
    } catch (err) {
      if (err instanceof UpgradeRefused) return err.status;
      throw err;
    }
  }

  it('with ALLOWED_ORIGINS unset, takes its own origin and clients without Origin, and refuses other pages with 403', async () => {
    const server = await start();
    const own = `http://127.0.0.1:${server.port}`;
    expect(server.config.allowedOrigins).toBeNull();
    expect(await statusFor(server.url)).toBe(101);
    expect(await statusFor(server.url, own)).toBe(101);
    expect(await statusFor(server.url, `https://127.0.0.1:${server.port}`)).toBe(101);
    expect(await statusFor(server.url, 'https://evil.example')).toBe(403);
    expect(await statusFor(server.url, 'http://127.0.0.1')).toBe(403); // another port is another origin
    expect(await statusFor(server.url, 'null')).toBe(403); // a sandboxed page or a file
  });

  it('adds the ALLOWED_ORIGINS to its own origin and to clients without Origin; * takes any', async () => {
    const listed = await start({ allowedOrigins: ['https://chat.example'] });
    expect(await statusFor(listed.url, 'https://chat.example')).toBe(101);
    expect(await statusFor(listed.url, `http://127.0.0.1:${listed.port}`)).toBe(101);
    expect(await statusFor(listed.url)).toBe(101);
    expect(await statusFor(listed.url, 'https://evil.example')).toBe(403);

    const any = await start({ allowedOrigins: '*' });
    expect(await statusFor(any.url, 'https://evil.example')).toBe(101);
    expect(await statusFor(any.url, 'null')).toBe(101);
  });

  it('refuses connections over maxConnections with HTTP 503', async () => {
    const server = await start({ maxConnections: 2 });
    await server.connect();
    await server.connect();
    expect(await refusal(server.url)).toBe(503);
  });
});

describe('logs', () => {
  it('copy at most LOGGED_CHARS characters of a header a client chose, and say how many were left out', async () => {
    const logs = new LogCapture();
    const server = await start({ allowedOrigins: '*' }, { log: logs.logger('info') });
    const origin = `https://${'a'.repeat(15_000)}.example`;
    const client = await server.connect({ origin });
    client.send({ sender: 'Alice', text: '' });
    expect(await client.nextFrame()).toEqual(welcome('Alice', ['Alice']));
    const opened = logs.lines
      .map((line) => JSON.parse(line) as { msg: string; origin?: string })
      .find((line) => line.msg === 'connection opened');
    expect(opened?.origin).toBe(`${origin.slice(0, LOGGED_CHARS)}…[${origin.length - LOGGED_CHARS} more characters]`);
    expect(Math.max(...logs.lines.map((line) => line.length))).toBeLessThan(1_000);
  });
});
