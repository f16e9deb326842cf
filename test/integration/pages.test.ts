/**
 * The pages over HTTP: the chat page and its assets, the /inspect page (off by default,
 * optionally behind a token) and its live feed, which carries lifecycles of connections and
 * sessions, and never text nor a session's secret.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connectionMachine } from '../../machines/connection.machine.js';
import { sessionMachine } from '../../machines/session.machine.js';
import type { LiveUpdate } from '../../src/live-view.js';
import { statePathsOf } from '../../src/statechart.js';
import { LogCapture } from '../support/log-capture.js';
import { upgradeStatus } from '../support/raw-client.js';
import { registerForSession, resumeSession } from '../support/session-client.js';
import { DEFAULT_WAIT_MS, withTimeout } from '../support/ws-client.js';
import { serverPerTest, type TestServer } from '../support/test-server.js';

const start = serverPerTest();

/** GET with the options fetch takes, bounded. */
function get(server: TestServer, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`http://127.0.0.1:${server.port}${path}`, {
    redirect: 'manual',
    signal: AbortSignal.timeout(DEFAULT_WAIT_MS),
    ...init,
  });
}

/** Reads /inspect/events as a browser's EventSource would, one update at a time. */
class FeedReader {
  readonly seen: string[] = [];
  private buffer = '';
  private constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly controller: AbortController,
  ) {}

  static async open(server: TestServer, headers: Record<string, string> = {}): Promise<FeedReader> {
    const controller = new AbortController();
    const res = await fetch(`http://127.0.0.1:${server.port}/inspect/events`, { headers, signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    return new FeedReader(res.body!.getReader(), controller);
  }

  /** The next update (skipping other SSE fields such as `retry:`). */
  async next(): Promise<LiveUpdate> {
    const decoder = new TextDecoder();
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end !== -1) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        this.seen.push(block);
        const data = block.split('\n').find((line) => line.startsWith('data: '));
        if (data !== undefined) return JSON.parse(data.slice('data: '.length)) as LiveUpdate;
        continue;
      }
      const { value, done } = await withTimeout(this.reader.read(), DEFAULT_WAIT_MS, 'the next feed update');
      if (done) throw new Error('the feed ended');
      this.buffer += decoder.decode(value, { stream: true });
    }
  }

  /** Updates until one satisfies `matches`; that one. */
  async until(what: string, matches: (update: LiveUpdate) => boolean): Promise<LiveUpdate> {
    const deadline = Date.now() + DEFAULT_WAIT_MS;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`no feed update with ${what}`);
      const update = await this.next();
      if (matches(update)) return update;
    }
  }

  close(): void {
    this.controller.abort();
  }
}

/** The status of a GET sent from `localAddress` (127.0.0.0/8 is all loopback), read off a raw socket. */
async function statusFrom(port: number, localAddress: string, target: string, ...headers: string[]): Promise<number> {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => {});
  await once(socket, 'connect');
  const status = new Promise<number>((resolve) => {
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const match = /^HTTP\/1\.1 (\d{3}) /.exec(received);
      if (match !== null) resolve(Number(match[1]));
    });
  });
  socket.write([`GET ${target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...headers, '', ''].join('\r\n'));
  try {
    return await withTimeout(status, DEFAULT_WAIT_MS, `the answer to ${target} from ${localAddress}`);
  } finally {
    socket.destroy();
  }
}

describe('chat page', () => {
  it('serves the page and its assets, each with its type and a strict content policy', async () => {
    const server = await start();
    const page = await get(server, '/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('<script type="module" src="/assets/chat.js"></script>');
    for (const [path, type] of [
      ['/assets/chat.js', 'text/javascript; charset=utf-8'],
      ['/assets/inspect.js', 'text/javascript; charset=utf-8'],
      ['/assets/base.css', 'text/css; charset=utf-8'],
      ['/assets/chat.css', 'text/css; charset=utf-8'],
    ]) {
      const res = await get(server, path!);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toBe(type);
      expect((await res.text()).length, path).toBeGreaterThan(100);
    }
  });

  it.each([
    '/assets/',
    '/assets/../package.json',
    '/assets/%2e%2e/package.json',
    '/web/index.html',
    '/dist/web/chat.js',
    '/index.html',
    // Bundled into chat.js and inspect.js (tools/bundle.ts): no longer files of their own.
    '/assets/dom.js',
    '/assets/wording.js',
  ])('serves nothing but its list: %s is 404', async (path) => {
    const server = await start();
    const res = await get(server, path);
    expect(res.status).toBe(404);
    await res.arrayBuffer();
  });

  it('answers other methods with 405', async () => {
    const server = await start();
    const res = await get(server, '/', { method: 'POST', body: 'x' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('/inspect page', () => {
  it('is off unless INSPECT_PAGE is on', async () => {
    const server = await start();
    for (const path of ['/inspect', '/inspect/events']) expect((await get(server, path)).status, path).toBe(404);
  });

  it('answers HEAD /inspect/events at once, and a HEAD takes no viewer place', async () => {
    const server = await start({ inspectPage: true });
    for (let i = 0; i < 20; i++) {
      const res = await get(server, '/inspect/events', { method: 'HEAD' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    }
    const feed = await FeedReader.open(server); // 16 viewers at most; HEADs are not viewers
    expect((await feed.next()).reset).toBe(true);
    feed.close();
  });

  it('keeps a quiet feed open past REGISTER_TIMEOUT_MS, the idle limit of other HTTP connections', async () => {
    const server = await start({ inspectPage: true, registerTimeoutMs: 300 });
    const feed = await FeedReader.open(server);
    expect((await feed.next()).reset).toBe(true);
    // Opened after the feed, so dropped after the feed would have timed out, were it subject to it.
    // (The idle limit is 1 s at least; the bound is long because under a full parallel run it
    // once took over 5 s to be noticed.)
    const silent = connect(server.port, '127.0.0.1');
    silent.on('error', () => {});
    await withTimeout(once(silent, 'close'), 10_000, 'the server to drop a silent connection');
    await server.register('Alice');
    await feed.until('Alice registered', (u) => u.states['open.registered'] === 1);
    feed.close();
  });

  it('shows the connection and session machines, each drawn from its definition', async () => {
    const server = await start({ inspectPage: true });
    const res = await get(server, '/inspect');
    expect(res.status).toBe(200);
    const html = await res.text();
    for (const machine of [connectionMachine, sessionMachine]) {
      const name = machine.root.key;
      const start = html.indexOf(`<svg xmlns="http://www.w3.org/2000/svg" class="statechart" data-machine="${name}"`);
      expect(start, name).toBeGreaterThan(-1);
      const svg = html.slice(start, html.indexOf('</svg>', start));
      for (const path of statePathsOf(machine)) expect(svg, name).toContain(`data-state="${path}"`);
    }
    expect(html).not.toContain('statechart -->');
  });

  it('streams lifecycles and counts per state, and never message text', async () => {
    const server = await start({ inspectPage: true });
    const feed = await FeedReader.open(server);
    const first = await feed.next();
    expect(first).toMatchObject({
      reset: true,
      states: { 'open.awaitingName': 0, 'open.registered': 0 },
      sessions: { attached: 0, detached: 0, ended: 0 },
      totals: { opened: 0, closed: 0, resumed: 0, ended: 0 },
    });

    const alice = await server.register('Alice');
    const joined = await feed.until(
      'Alice registered, her session attached',
      (u) => u.states['open.registered'] === 1 && u.sessions.attached === 1,
    );
    const entries = joined.entries.map(({ at: _at, ...entry }) => entry);
    expect(entries).toContainEqual({ kind: 'opened', conn: 'c1' });
    expect(entries).toContainEqual({ kind: 'joined', conn: 'c1', name: 'Alice' });

    const bob = await server.connect();
    bob.send({ sender: 'alice', text: '' });
    await bob.nextFrame();
    const refused = await feed.until('the refusal', (u) => u.entries.some((e) => e.kind === 'error'));
    expect(refused.entries).toContainEqual(
      expect.objectContaining({ kind: 'error', conn: 'c2', name: null, code: 'name_taken' }),
    );
    expect(refused.states).toMatchObject({
      open: 2,
      'open.awaitingName': 1,
      'open.awaitingName.choosing': 1,
      'open.registered': 1,
    });

    alice.send({ text: 'secret words' });
    await alice.nextFrame();
    alice.close(1000); // her own clean close: her session ends with it
    const left = await feed.until(
      'Alice left, her session ended',
      (u) => u.states['open.registered'] === 0 && u.totals.closed === 1 && u.totals.ended === 1,
    );
    expect(left.entries).toContainEqual(
      expect.objectContaining({ kind: 'left', conn: 'c1', name: 'Alice', cause: 'close' }),
    );
    expect(left.entries).toContainEqual(expect.objectContaining({ kind: 'ended', name: 'Alice', cause: 'close' }));
    expect(left.sessions).toMatchObject({ attached: 0, detached: 0 });
    expect(left.leaves).toMatchObject({ close: 1 });
    expect(left.ends).toEqual({ close: 1 });
    expect(left.errors).toMatchObject({ name_taken: 1 });
    expect(feed.seen.join('\n')).not.toContain('secret words');
    feed.close();
  });

  it('follows a session through a lost connection, a resume and a take-over, and never shows its secret', async () => {
    const logs = new LogCapture();
    const server = await start({ inspectPage: true }, { log: logs.logger('trace') });
    const feed = await FeedReader.open(server);
    expect((await feed.next()).reset).toBe(true);
    const alice = await registerForSession(server, 'Alice');
    const guess = 'not-her-secret-but-one-like-it';
    const secrets = new Set([alice.secret]);

    alice.socket.terminate();
    const waiting = await feed.until('her session waiting for a resume', (u) => u.sessions.detached === 1);
    expect(waiting.sessions).toMatchObject({ attached: 0, detached: 1 });
    expect(waiting.entries).toContainEqual(
      expect.objectContaining({ kind: 'left', conn: 'c1', name: 'Alice', cause: 'dropped' }),
    );

    const back = await resumeSession(server, alice.secret, { epoch: alice.epoch, since: '0' }, 'Alice again');
    expect(back.reply).toMatchObject({ type: 'welcome', resumed: true, recovered: true });
    secrets.add(back.reply.session as string);
    const resumed = await feed.until('her resume', (u) => u.totals.resumed === 1 && u.sessions.attached === 1);
    expect(resumed.entries).toContainEqual(
      expect.objectContaining({ kind: 'resumed', conn: 'c2', name: 'Alice', recovered: true, replayed: 0 }),
    );
    expect(resumed.sessions).toMatchObject({ attached: 1, detached: 0 });

    const other = await resumeSession(server, alice.secret, {}, 'Alice elsewhere');
    expect(other.reply).toMatchObject({ type: 'welcome', resumed: true, recovered: false });
    secrets.add(other.reply.session as string);
    const takenOver = await feed.until('the take-over', (u) => u.totals.resumed === 2 && u.leaves.takenOver === 1);
    expect(takenOver.sessions).toMatchObject({ attached: 1, detached: 0 });
    const wrong = await resumeSession(server, guess, {}, 'a guesser');
    expect(wrong.reply).toMatchObject({ type: 'error', code: 'session_expired' });
    await feed.until('the closes so far', (u) => u.totals.closed === 2 && u.errors.session_expired === 1);
    const entries = feed.seen.join('\n');
    expect(entries).toContain('"kind":"closed","conn":"c2","code":4002');

    for (const secret of [...secrets, guess]) {
      expect(entries).not.toContain(secret);
      expect(logs.text()).not.toContain(secret);
    }
    expect(logs.messages()).toEqual(expect.arrayContaining(['registered', 'resumed', 'left']));
    feed.close();
  });

  it("tells a session's end when nobody resumes it in time", async () => {
    const server = await start({ inspectPage: true, resumeWindowMs: 100 });
    const feed = await FeedReader.open(server);
    expect((await feed.next()).reset).toBe(true);
    const bob = await registerForSession(server, 'Bob');
    bob.socket.terminate();
    const ended = await feed.until('his session ended', (u) => u.totals.ended === 1);
    expect(ended.entries).toContainEqual(expect.objectContaining({ kind: 'ended', name: 'Bob', cause: 'expired' }));
    expect(ended.sessions).toMatchObject({ attached: 0, detached: 0 });
    expect(ended.ends).toEqual({ expired: 1 });
    feed.close();
  });

  it('marks the cookie Secure when a proxy says the request came over https', async () => {
    const server = await start({ inspectPage: true, inspectToken: 's3cret' });
    const viaHttps: Array<Record<string, string>> = [
      { 'x-forwarded-proto': 'https' },
      { forwarded: 'for=192.0.2.1;proto=https' },
    ];
    for (const headers of viaHttps) {
      const swap = await get(server, '/inspect?token=s3cret', { headers });
      expect(swap.headers.get('set-cookie')).toMatch(/; Secure/);
    }
  });

  it('a cookie dies with the process that made it', async () => {
    const first = await start({ inspectPage: true, inspectToken: 's3cret' });
    const cookie = (await get(first, '/inspect?token=s3cret')).headers.get('set-cookie')!.split(';')[0]!;
    const second = await start({ inspectPage: true, inspectToken: 's3cret' });
    expect((await get(second, '/inspect', { headers: { cookie } })).status).toBe(401);
  });

  it('throttles wrong tokens per address: past 5 a minute, 429 even for the right one; another address goes on', async () => {
    const server = await start({ inspectPage: true, inspectToken: 's3cret' });
    const from = (localAddress: string, target: string) => statusFrom(server.port, localAddress, target);
    for (let i = 0; i < 5; i++) expect(await from('127.0.0.1', `/inspect?token=guess${i}`)).toBe(401);
    expect(await from('127.0.0.1', '/inspect?token=guess5')).toBe(429);
    expect(await from('127.0.0.1', '/inspect?token=s3cret')).toBe(429);
    expect(await from('127.0.0.2', '/inspect?token=s3cret')).toBe(303);
    // Requests without any token are not guesses.
    for (let i = 0; i < 10; i++) expect(await from('127.0.0.3', '/inspect')).toBe(401);
    expect(await from('127.0.0.3', '/inspect?token=s3cret')).toBe(303);
  });

  it('gives an event-stream place only to an authorised request, and one address at most 4 of the 16', async () => {
    const server = await start({ inspectPage: true, inspectToken: 's3cret' });
    const bearer = { authorization: 'Bearer s3cret' };
    // Held open, unauthorised requests would each take a place if they got one.
    for (let i = 0; i < 20; i++) expect((await get(server, '/inspect/events')).status).toBe(401);
    const feeds = [];
    for (let i = 0; i < 4; i++) feeds.push(await FeedReader.open(server, bearer));
    expect((await get(server, '/inspect/events', { headers: bearer })).status).toBe(503);
    expect(await statusFrom(server.port, '127.0.0.2', '/inspect/events', 'Authorization: Bearer s3cret')).toBe(200);
    feeds.pop()!.close();
    await withTimeout(
      (async () => {
        for (;;) {
          const res = await get(server, '/inspect/events', { headers: bearer });
          if (res.status === 200) return void (await res.body?.cancel());
        }
      })(),
      DEFAULT_WAIT_MS,
      'a place given back by a closed feed',
    );
    for (const feed of feeds) feed.close();
  });

  it('without a token, answers only requests addressed to it directly (no DNS rebinding), from its own pages', async () => {
    const server = await start({ inspectPage: true, host: '127.0.0.1' });
    const status = (path: string, ...headers: string[]) =>
      upgradeStatus(server.port, [`GET ${path} HTTP/1.1`, ...headers]);
    for (const path of ['/inspect', '/inspect/events']) {
      expect(await status(path, `Host: evil.example:${server.port}`), path).toBe(403);
      expect(await status(path, `Host: 127.0.0.1:${server.port}`, 'Origin: http://evil.example'), path).toBe(403);
    }
    expect(await status('/inspect', `Host: 127.0.0.1:${server.port}`)).toBe(200);
    expect(await status('/inspect', `Host: localhost:${server.port}`)).toBe(200);
    const own = `http://127.0.0.1:${server.port}`;
    expect(await status('/inspect/events', `Host: 127.0.0.1:${server.port}`, `Origin: ${own}`)).toBe(200);
    // The chat page itself is for everyone.
    expect(await status('/', `Host: evil.example:${server.port}`)).toBe(200);
  });

  it('with a token, answers a page on another site 403 and any other name by the token', async () => {
    const server = await start({ inspectPage: true, inspectToken: 's3cret' });
    const status = (...headers: string[]) =>
      upgradeStatus(server.port, ['GET /inspect HTTP/1.1', 'Authorization: Bearer s3cret', ...headers]);
    expect(await status(`Host: chat.example:${server.port}`)).toBe(200);
    expect(await status(`Host: chat.example:${server.port}`, 'Origin: http://evil.example')).toBe(403);
  });

  it('asks for INSPECT_TOKEN, then keeps a value derived from it in an HttpOnly cookie', async () => {
    const server = await start({ inspectPage: true, inspectToken: 's3cret' });
    for (const path of ['/inspect', '/inspect/events', '/inspect?token=wrong', '/inspect?token=s3cre']) {
      expect((await get(server, path)).status, path).toBe(401);
    }
    const swap = await get(server, '/inspect?token=s3cret');
    expect(swap.status).toBe(303);
    expect(swap.headers.get('location')).toBe('/inspect');
    const cookie = swap.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/inspect/);
    expect(cookie).not.toMatch(/Secure/); // plain http
    // A leaked cookie does not give the token away, and the token is no cookie.
    expect(cookie).not.toContain('s3cret');
    const name = cookie.split('=')[0]!;
    expect((await get(server, '/inspect', { headers: { cookie: `${name}=s3cret` } })).status).toBe(401);
    const withCookie = { cookie: cookie.split(';')[0]! };
    expect((await get(server, '/inspect', { headers: withCookie })).status).toBe(200);
    expect((await get(server, '/inspect', { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
    const feed = await FeedReader.open(server, withCookie);
    expect((await feed.next()).reset).toBe(true);
    feed.close();
  });
});
