/**
 * The served pages in a real browser: Debian's Chromium through playwright-core, against a
 * real server on 127.0.0.1. Two people chat; a taken name and a too-fast sender see their
 * errors; a blank message gets a hint; a long name ends in an ellipsis; a server gone away
 * shows 'reconnecting…' and the online list empties until the page is back (a whole cut, in
 * order, is test/e2e/reconnect.test.ts); a close for a broken rule names it; /inspect
 * follows joins and leaves, and sessions waiting, resumed and ended; nothing overflows a
 * phone-sized window. Any error a page logs (a failed script, a refused content
 * policy) fails the test.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { connectionMachine } from '../../machines/connection.machine.js';
import { sessionMachine } from '../../machines/session.machine.js';
import type { Config } from '../../src/config.js';
import { statePathsOf } from '../../src/statechart.js';
import { registerForSession, resumeSession } from '../support/session-client.js';
import { TcpProxy } from '../support/cluster.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { chromiumAvailable, launchChromium, type Browser } from './browser.js';
import { askForName, joinChat, REFUSED_CONNECTION, say, waitForMessage, WAIT_MS } from './chat-page.js';

const available = chromiumAvailable();

describe.skipIf(!available)('pages in Chromium', () => {
  let browser: Browser;
  const pages: Page[] = [];
  const servers: TestServer[] = [];
  const proxies: TcpProxy[] = [];
  /** Page errors a test expects (a refused reconnect while its server is away), cleared after each. */
  const tolerated: RegExp[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  // Pages close before their server, so that no page sees its server vanish.
  afterEach(async () => {
    await Promise.all(pages.splice(0).map((page) => page.close()));
    await Promise.all(proxies.splice(0).map((proxy) => proxy.cut()));
    await Promise.all(servers.splice(0).map((server) => server.close()));
    const allowed = tolerated.splice(0);
    const problems = browser.problems.splice(0).filter((problem) => !allowed.some((pattern) => pattern.test(problem)));
    expect(problems, 'errors the pages logged').toEqual([]);
  });

  async function start(overrides: Partial<Config> = {}): Promise<TestServer> {
    const server = await startTestServer(overrides);
    servers.push(server);
    return server;
  }

  async function serve(overrides: Partial<Config> = {}): Promise<string> {
    return baseOf(await start(overrides));
  }

  const baseOf = (server: { port: number }) => `http://127.0.0.1:${server.port}`;

  async function tab(viewport?: { width: number; height: number }): Promise<Page> {
    const page = await browser.newPage(viewport);
    pages.push(page);
    return page;
  }

  const onlineNames = (page: Page) => page.locator('#online-list .name').allTextContents();

  /** The notice that stays once the connection is gone (it offers to join again). */
  async function stickyNotice(page: Page): Promise<string | null> {
    await page.locator('#rejoin').waitFor({ state: 'visible', timeout: WAIT_MS });
    expect(await page.locator('#status').textContent()).toBe('offline');
    return page.locator('#chat-error-text').textContent();
  }

  it('lets two people chat through the server', async () => {
    const base = await serve();
    const alice = await tab();
    const bob = await tab();
    await joinChat(alice, base, 'Alice');
    await joinChat(bob, base, 'Bob');
    await alice.locator('.event.join', { hasText: 'Bob joined' }).waitFor({ timeout: WAIT_MS });
    expect(await onlineNames(alice)).toEqual(['Alice (you)', 'Bob']);
    expect(await onlineNames(bob)).toEqual(['Alice', 'Bob (you)']);

    await say(bob, 'Hello Alice!');
    await waitForMessage(alice, 'Hello Alice!');
    await waitForMessage(bob, 'Hello Alice!', true);
    expect(await alice.locator('.message:not(.own) .sender').last().textContent()).toBe('Bob');

    await say(alice, 'Hi Bob, line one\nand line two');
    await waitForMessage(bob, 'line two');
    expect(await bob.locator('.message .text').last().textContent()).toBe('Hi Bob, line one\nand line two');

    await bob.close();
    await alice.locator('.event.leave', { hasText: 'Bob left' }).waitFor({ timeout: WAIT_MS });
    expect(await onlineNames(alice)).toEqual(['Alice (you)']);
  });

  it('shows a taken name as an error, then joins under another name', async () => {
    const base = await serve();
    await joinChat(await tab(), base, 'Alice');
    const second = await tab();
    await second.goto(`${base}/`);
    await askForName(second, 'ALICE');
    const error = second.locator('#join-error');
    await error.waitFor({ state: 'visible', timeout: WAIT_MS });
    expect(await error.textContent()).toBe('“ALICE” is already taken. Try another name.');
    expect(await second.locator('#room-view').isHidden()).toBe(true);

    await askForName(second, 'Alicia');
    await second.locator('#room-view').waitFor({ state: 'visible', timeout: WAIT_MS });
    expect(await error.isHidden()).toBe(true);
    expect(await onlineNames(second)).toEqual(['Alice', 'Alicia (you)']);
  });

  it('keeps a text with nothing visible in the box rather than sending it to be refused', async () => {
    const base = await serve();
    const page = await tab();
    await joinChat(page, base, 'Quiet');
    await say(page, ' \u200B\u3164 ');
    expect(await page.inputValue('#text')).toBe(' \u200B\u3164 ');
    // A fence: the next real message is the first and only one shown, and no error came.
    await say(page, 'now something');
    await waitForMessage(page, 'now something', true);
    expect(await page.locator('.message').count()).toBe(1);
    expect(await page.locator('#chat-error').isHidden()).toBe(true);
  });

  it('asks for a message first when a blank one is sent, and sends nothing', async () => {
    const base = await serve();
    const page = await tab();
    await joinChat(page, base, 'Hasty');
    const hint = page.locator('#composer-hint');
    expect(await hint.isHidden()).toBe(true);
    await page.click('#send', { timeout: WAIT_MS });
    await hint.waitFor({ state: 'visible', timeout: WAIT_MS });
    expect(await hint.textContent()).toBe('Type a message first.');
    await page.fill('#text', 'n', { timeout: WAIT_MS });
    expect(await hint.isHidden(), 'the hint goes once they type').toBe(true);
    await say(page, '  \n ');
    expect(await hint.isVisible(), 'only white space: the hint again').toBe(true);
    expect(await page.inputValue('#text')).toBe('  \n ');
    // A fence: the next real message is the first and only one shown, and no error came.
    await say(page, 'now something');
    await waitForMessage(page, 'now something', true);
    expect(await page.locator('.message').count()).toBe(1);
    expect(await hint.isHidden()).toBe(true);
    expect(await page.locator('#chat-error').isHidden()).toBe(true);
  });

  it('ends a long name with an ellipsis, and gives the whole name as its title', async () => {
    const long = 'Bartholomew Featherstonehaugh-Wu'; // 32 characters, the most NAME_MAX_LENGTH allows
    const base = await serve();
    const desk = await tab();
    const phone = await tab({ width: 360, height: 740 });
    const writer = await tab();
    await joinChat(desk, base, 'Ann');
    await joinChat(phone, base, 'Ben');
    await joinChat(writer, base, long);
    expect(await shown(writer.locator('#me'))).toMatchObject({ title: long, ellipsis: true });
    await say(writer, 'Hello from a long name');
    for (const page of [desk, phone]) {
      await waitForMessage(page, 'Hello from a long name');
      const cut = { title: long, ellipsis: true, clipped: true };
      expect(await shown(page.locator('#online-list .name', { hasText: 'Bartholomew' }))).toEqual(cut);
      // A wide window has room for the whole name above a message; a phone has not.
      const sender = await shown(page.locator('.message .sender').last());
      expect(sender).toEqual(page === phone ? cut : { ...cut, clipped: false });
    }
    expect(
      await phone.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth'),
    ).toBe(0);
  });

  it('keeps trying when the server goes away (1001), says so, and keeps what is typed meanwhile', async () => {
    // The page is on the client library now: a shutdown or a lost connection (1006) is no
    // longer the end, it reconnects (a cut and a resume: test/e2e/reconnect.test.ts).
    tolerated.push(REFUSED_CONNECTION);
    const server = await start();
    const page = await tab();
    await joinChat(page, baseOf(server), 'Alice');
    await server.close();
    await page.locator('#status', { hasText: 'reconnecting…' }).waitFor({ timeout: WAIT_MS });
    expect(await page.locator('#chat-error-text').textContent()).toBe(
      'The server is restarting or shutting down. Reconnecting… Messages you send meanwhile go once it is back.',
    );
    expect(await page.locator('#rejoin').isHidden()).toBe(true);
    await say(page, 'for later');
    await page.locator('.message.own.pending', { hasText: 'for later' }).waitFor({ timeout: WAIT_MS });
  });

  it('names the rule broken when the server closes for policy (1008)', async () => {
    const page = await tab();
    await joinChat(page, await serve(), 'Mallory');
    // From now on each send puts ten frames that are not JSON on the wire: the tenth bad frame closes.
    await page.evaluate(`{
      const send = WebSocket.prototype.send;
      WebSocket.prototype.send = function () { for (let i = 0; i < 10; i++) send.call(this, 'not json'); };
    }`);
    await say(page, 'anything');
    expect(await stickyNotice(page)).toBe(
      'The server closed the connection: too many bad frames. You are no longer in the chat.',
    );
  });

  it('empties the online list while the connection is gone, and fills it again once back', async () => {
    tolerated.push(REFUSED_CONNECTION);
    const server = await start();
    const proxy = await TcpProxy.start(server.port);
    proxies.push(proxy);
    const alice = await tab();
    const bob = await tab();
    await joinChat(alice, baseOf(proxy), 'Alice');
    await joinChat(bob, baseOf(server), 'Bob');
    await alice.locator('.event.join', { hasText: 'Bob joined' }).waitFor({ timeout: WAIT_MS });
    expect(await onlineNames(alice)).toEqual(['Alice (you)', 'Bob']);
    await proxy.cut();
    await alice.locator('#status', { hasText: 'reconnecting…' }).waitFor({ timeout: WAIT_MS });
    expect(await onlineNames(alice)).toEqual([]);
    expect(await alice.locator('#online-count').textContent()).toBe('0');
    await proxy.mend();
    await alice.locator('#status', { hasText: /^online$/ }).waitFor({ timeout: 20_000 });
    expect(await onlineNames(alice)).toEqual(['Alice (you)', 'Bob']);
  });

  it('tells a sender who is too fast that they are rate limited', async () => {
    const base = await serve({ rateBurst: 1, ratePerSec: 1 });
    const page = await tab();
    await joinChat(page, base, 'Speedy');
    await say(page, 'first');
    await say(page, 'second, too soon');
    const notice = page.locator('#chat-error');
    await notice.waitFor({ state: 'visible', timeout: WAIT_MS });
    expect(await notice.textContent()).toContain('You’re sending messages too fast');
    await waitForMessage(page, 'first', true);
    // The refused message stays on the page, marked as not sent (it was never confirmed).
    const refused = page.locator('.message.own.failed', { hasText: 'second' });
    expect(await refused.locator('time').textContent()).toBe('not sent');
    expect(await page.locator('.message .text', { hasText: 'second' }).count()).toBe(1);
  });

  it('/inspect counts a join and a leave as they happen', async () => {
    const base = await serve({ inspectPage: true });
    const inspect = await tab({ width: 1280, height: 900 });
    await inspect.goto(`${base}/inspect`);
    await inspect.locator('#status', { hasText: 'live' }).waitFor({ timeout: WAIT_MS });
    const registered = inspect.locator('#tile-registered');
    const badge = inspect.locator('svg[data-machine="connection"] [data-count="open.registered"]');
    expect(await registered.textContent()).toBe('0');
    // The charts are the generated ones: every state of either machine has its box, in its chart.
    for (const machine of [connectionMachine, sessionMachine]) {
      for (const state of statePathsOf(machine)) {
        const box = inspect.locator(`svg[data-machine="${machine.root.key}"] [data-state="${state}"]`);
        expect(await box.count(), state).toBe(1);
      }
    }

    const visitor = await tab();
    await joinChat(visitor, base, 'Visitor');
    await inspect.locator('#tile-registered', { hasText: /^1$/ }).waitFor({ timeout: WAIT_MS });
    expect(await badge.textContent()).toBe('1');
    await inspect.locator('#feed li', { hasText: 'joined as Visitor' }).waitFor({ timeout: WAIT_MS });

    await visitor.close();
    await inspect.locator('#tile-registered', { hasText: /^0$/ }).waitFor({ timeout: WAIT_MS });
    expect(await badge.textContent()).toBe('0');
    expect(await inspect.locator('svg.statechart [data-count="closed"]').textContent()).toBe('1');
    await inspect.locator('#feed li', { hasText: 'Visitor left: closed the connection' }).waitFor({ timeout: WAIT_MS });
  });

  it('/inspect follows a session: waiting, resumed, ended, its name shown as text', async () => {
    const server = await start({ inspectPage: true });
    const inspect = await tab({ width: 1280, height: 900 });
    await inspect.goto(`${baseOf(server)}/inspect`);
    await inspect.locator('#status', { hasText: 'live' }).waitFor({ timeout: WAIT_MS });
    /** Waits for the session chart's badge on `state` to read `count`. */
    const badgeShows = (state: string, count: number) =>
      inspect
        .locator(`svg[data-machine="session"] [data-count="${state}"]`, { hasText: new RegExp(`^${count}$`) })
        .waitFor({ timeout: WAIT_MS });

    const name = '<i>Eve</i>';
    const eve = await registerForSession(server, name);
    await badgeShows('attached', 1);

    eve.socket.terminate();
    await inspect.locator('#tile-detached', { hasText: /^1$/ }).waitFor({ timeout: WAIT_MS });
    await badgeShows('detached', 1);
    await badgeShows('attached', 0);
    await inspect
      .locator('#feed li', { hasText: `${name} left: connection dropped without a clean close` })
      .waitFor({ timeout: WAIT_MS });

    const back = await resumeSession(server, eve.secret, { epoch: eve.epoch, since: '0' });
    expect(back.reply).toMatchObject({ type: 'welcome', resumed: true });
    const resumed = inspect.locator('#feed li[data-kind="resumed"]');
    await resumed.waitFor({ timeout: WAIT_MS });
    expect(await resumed.textContent()).toContain(`c2 resumed the session of ${name} · 0 missed events replayed`);
    // The name is text: no element came out of it.
    expect(await resumed.locator('strong').textContent()).toBe(name);
    expect(await inspect.locator('#feed i').count()).toBe(0);
    await inspect.locator('#tile-resumed', { hasText: /^1$/ }).waitFor({ timeout: WAIT_MS });
    await badgeShows('detached', 0);
    await badgeShows('attached', 1);

    back.socket.close(1000);
    const ended = inspect.locator('#feed li[data-kind="ended"]');
    await ended.waitFor({ timeout: WAIT_MS });
    expect(await ended.textContent()).toContain(`session of ${name} ended: the client closed the connection`);
    await badgeShows('ended', 1);
    expect(await inspect.locator('#ends tr').textContent()).toContain('close');
    expect(await inspect.locator('#tile-detached').textContent()).toBe('0');
  });

  it('/inspect says why a session ended when nobody resumed it in time', async () => {
    const server = await start({ inspectPage: true, resumeWindowMs: 100 });
    const inspect = await tab({ width: 1280, height: 900 });
    await inspect.goto(`${baseOf(server)}/inspect`);
    await inspect.locator('#status', { hasText: 'live' }).waitFor({ timeout: WAIT_MS });
    const bob = await registerForSession(server, 'Bob');
    bob.socket.terminate();
    await inspect
      .locator('#feed li[data-kind="ended"]', {
        hasText: 'session of Bob ended: nobody resumed it within RESUME_WINDOW_MS',
      })
      .waitFor({ timeout: WAIT_MS });
    await inspect.locator('#ends tr', { hasText: 'expired' }).waitFor({ timeout: WAIT_MS });
  });

  it('fits a phone-sized window without sideways scrolling', async () => {
    const base = await serve({ inspectPage: true });
    const phone = { width: 360, height: 740 };
    const overflow = (page: Page) =>
      page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    const chat = await tab(phone);
    await chat.goto(`${base}/`);
    expect(await overflow(chat)).toBe(0);
    await joinChat(chat, base, 'Pocket');
    await say(chat, 'a'.repeat(300));
    await waitForMessage(chat, 'aaaa', true);
    expect(await overflow(chat)).toBe(0);
    expect((await chat.locator('#composer').boundingBox())!.width).toBeLessThanOrEqual(phone.width);
    const inspect = await tab(phone);
    await inspect.goto(`${base}/inspect`);
    await inspect.locator('#status', { hasText: 'live' }).waitFor({ timeout: WAIT_MS });
    expect(await overflow(inspect)).toBe(0);
  });
});

/** The DOM a name label is read through (these tests compile without the DOM library). */
type NameLabel = {
  title: string;
  scrollWidth: number;
  clientWidth: number;
  ownerDocument: { defaultView: { getComputedStyle(element: unknown): { textOverflow: string } } };
};

/** A name label as a reader sees it: its title, and whether an ellipsis cuts it short. */
function shown(label: Locator): Promise<{ title: string; ellipsis: boolean; clipped: boolean }> {
  return label.evaluate((element: NameLabel) => ({
    title: element.title,
    ellipsis: element.ownerDocument.defaultView.getComputedStyle(element).textOverflow === 'ellipsis',
    clipped: element.scrollWidth > element.clientWidth,
  }));
}
