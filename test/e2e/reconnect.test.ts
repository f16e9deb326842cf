/**
 * The chat page through a lost connection, in Chromium: Alice's page (the page and its
 * WebSocket alike) goes through a TCP proxy that is cut and then mended, while Bob, connected
 * directly, goes on talking. Alice's page says it is reconnecting, keeps what she types as
 * pending, and once back shows everything once, in the server's order; what she typed reaches
 * Bob once. The page is the real one, on the client library; the server and the cut are real.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { TcpProxy } from '../support/cluster.js';
import type { Config } from '../../src/config.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { chromiumAvailable, launchChromium, type Browser } from './browser.js';
import { joinChat, REFUSED_CONNECTION, say, waitForMessage, WAIT_MS } from './chat-page.js';

const available = chromiumAvailable();

/** After a cut the library's backoff may wait some seconds before it tries again: bounded, but longer. */
const BACK_MS = 20_000;

describe.skipIf(!available)('the chat page through a lost connection', () => {
  let browser: Browser;
  let server: TestServer | null = null;
  let proxy: TcpProxy | null = null;
  const pages: Page[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  afterEach(async () => {
    await Promise.all(pages.splice(0).map((page) => page.close()));
    await proxy?.cut();
    await server?.close();
    const problems = browser.problems.splice(0).filter((problem) => !REFUSED_CONNECTION.test(problem));
    expect(problems, 'errors the pages logged').toEqual([]);
  });

  async function tab(): Promise<Page> {
    const page = await browser.newPage();
    pages.push(page);
    return page;
  }

  /** Alice's page reaches the server through `aliceLink`, which the test cuts, Bob's directly; each has seen the other join. */
  async function aliceThroughProxy(
    overrides: Partial<Config> = {},
  ): Promise<{ alice: Page; bob: Page; aliceLink: TcpProxy }> {
    server = await startTestServer(overrides);
    proxy = await TcpProxy.start(server.port);
    const alice = await tab();
    const bob = await tab();
    await joinChat(alice, `http://127.0.0.1:${proxy.port}`, 'Alice');
    await joinChat(bob, `http://127.0.0.1:${server.port}`, 'Bob');
    await alice.locator('.event.join', { hasText: 'Bob joined' }).waitFor({ timeout: WAIT_MS });
    return { alice, bob, aliceLink: proxy };
  }

  /** The texts of the message bubbles, in the order shown. */
  const texts = (page: Page) => page.locator('.message .text').allTextContents();

  it('shows every message once and in order after a cut, and sends what was typed meanwhile once', async () => {
    const { alice, bob, aliceLink } = await aliceThroughProxy();
    await say(bob, 'before the cut');
    await waitForMessage(alice, 'before the cut');

    await aliceLink.cut();
    const status = alice.locator('#status');
    await alice.locator('#status', { hasText: 'reconnecting…' }).waitFor({ timeout: WAIT_MS });
    expect(await alice.locator('#chat-error-text').textContent()).toContain('Reconnecting…');
    expect(await alice.locator('#rejoin').isHidden(), 'nothing to do but wait').toBe(true);
    expect(await alice.locator('#online-list .name').count(), 'no stale list while away').toBe(0);

    for (const text of ['while away 1', 'while away 2', 'while away 3']) {
      await say(bob, text);
      await waitForMessage(bob, text, true);
    }
    await say(alice, 'typed while cut');
    const pending = alice.locator('.message.own.pending', { hasText: 'typed while cut' });
    await pending.waitFor({ timeout: WAIT_MS });
    expect(await pending.locator('time').textContent()).toBe('sending…');
    expect(await status.textContent(), 'still cut').toBe('reconnecting…');

    await aliceLink.mend();
    await alice.locator('#status', { hasText: /^online$/ }).waitFor({ timeout: BACK_MS });
    await alice.locator('.message.own:not(.pending)', { hasText: 'typed while cut' }).waitFor({ timeout: WAIT_MS });
    await waitForMessage(bob, 'typed while cut');
    // A fence: once this shows on both, everything before it has been drawn.
    await say(bob, 'after the cut');
    await waitForMessage(alice, 'after the cut');
    await waitForMessage(bob, 'after the cut', true);

    const everything = [
      'before the cut',
      'while away 1',
      'while away 2',
      'while away 3',
      'typed while cut',
      'after the cut',
    ];
    expect(await texts(alice)).toEqual(everything);
    expect(await texts(bob)).toEqual(everything);
    expect(await alice.locator('.message.pending, .message.failed').count()).toBe(0);
    expect(await alice.locator('.event.gap').count(), 'the session was resumed: nothing missed').toBe(0);
    expect(await bob.locator('.event.leave').count(), 'a resumed session is no leave').toBe(0);
    expect(await alice.locator('#online-list .name').allTextContents()).toEqual(['Alice (you)', 'Bob']);
    expect(await alice.locator('#chat-error').isHidden(), 'the reconnecting notice goes').toBe(true);
  });

  it('says messages may be missing when the session could not be resumed', async () => {
    // A resume window of 0: a lost connection ends the session at once, so the page comes back
    // to a new one, and what was said meanwhile is out of its reach.
    const { alice, bob, aliceLink } = await aliceThroughProxy({ resumeWindowMs: 0 });

    await aliceLink.cut();
    await alice.locator('#status', { hasText: 'reconnecting…' }).waitFor({ timeout: WAIT_MS });
    await bob.locator('.event.leave', { hasText: 'Alice left' }).waitFor({ timeout: WAIT_MS });
    await say(bob, 'said while Alice was gone');
    await waitForMessage(bob, 'said while Alice was gone', true);
    await aliceLink.mend();

    const gap = alice.locator('.event.gap');
    await gap.waitFor({ timeout: BACK_MS });
    expect(await gap.textContent()).toBe('You may have missed messages while you were away.');
    await alice.locator('#status', { hasText: /^online$/ }).waitFor({ timeout: WAIT_MS });
    await bob.locator('.event.join', { hasText: 'Alice joined' }).waitFor({ timeout: WAIT_MS });
    expect(await alice.locator('.event', { hasText: 'You joined again as Alice' }).count()).toBe(1);
    expect(await texts(alice)).toEqual([]);
  });
});
