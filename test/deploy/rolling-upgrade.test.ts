/**
 * A rolling upgrade as docs/operations.md tells an operator to do it: behind nginx
 * (deploy/nginx/chat.conf), each node in turn gets SIGTERM, exits, and is started again,
 * while the chat page in Chromium and 20 library clients chat through nginx. Nobody may
 * see a leave or a join, and every message must reach everyone exactly once, in one order:
 * each client of the stopping node resumes its session on the other (SPEC §8).
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { connect } from '../../client/index.js';
import { chromiumAvailable, launchChromium, type Browser } from '../e2e/browser.js';
import { joinChat, REFUSED_CONNECTION, say } from '../e2e/chat-page.js';
import { Recorder } from '../support/client-recorder.js';
import { DeployNode, deployEnv } from '../support/deploy-node.js';
import { Nginx, nginxAvailable } from '../support/nginx.js';
import { freePort, redisPerFile, redisServerBinary } from '../support/redis-server.js';

const available = nginxAvailable() && redisServerBinary !== null && chromiumAvailable();
const CLIENTS = 20;
const SENDERS = 4;
/** Each sender's pace: four of them stay well inside one client address's 30 messages a second (all come through nginx). */
const SEND_EVERY_MS = 250;
const WAIT_MS = 20_000;

describe.skipIf(!available)('a rolling upgrade behind nginx', () => {
  const redis = redisPerFile();
  const nodes: DeployNode[] = [];
  let settings: Record<string, string>;
  let nginx: Nginx;
  let browser: Browser;
  const clients: Recorder[] = [];

  beforeAll(async () => {
    settings = deployEnv(redis().url);
    for (const port of await Promise.all([freePort(), freePort()])) nodes.push(await DeployNode.start(port, settings));
    nginx = await Nginx.start({ site: 'chat.conf', nodes: nodes.map((node) => node.port) });
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    for (const recorder of clients) recorder.client.close();
    await browser?.close();
    await nginx?.stop();
    await Promise.all(nodes.map((node) => node.stop()));
  });

  it('upgrades every node in turn while the page and 20 clients chat: no leave, no join, every message once and in order', async () => {
    for (let i = 0; i < CLIENTS; i++) {
      const chat = connect(`ws://127.0.0.1:${nginx.httpPort}/ws`, `user${i}`, {
        WebSocket,
        backoff: { initialMs: 50, maxMs: 500 },
      });
      clients.push(new Recorder(chat));
    }
    for (const recorder of clients) await recorder.untilState('online', WAIT_MS);
    const page: Page = await browser.newPage();
    await joinChat(page, nginx.httpUrl, 'page');
    // Everyone has seen everyone join: what follows is the upgrade's.
    for (const recorder of clients)
      await recorder.until(() => recorder.client.users.length === CLIENTS + 1, 'all joined', WAIT_MS);
    const before = clients.map((recorder) => recorder.log.length);

    // Four clients chat all along, one message at a time each.
    let chatting = true;
    const sent: string[] = [];
    const refused: string[] = [];
    const senders = clients.slice(0, SENDERS).map(async (recorder, s) => {
      for (let n = 0; chatting; n++) {
        const text = `sender ${s}: ${n}`;
        await recorder.client.send(text).then(
          () => sent.push(text),
          (error: Error) => refused.push(`${text}: ${error.message}`),
        );
        await new Promise((resolve) => setTimeout(resolve, SEND_EVERY_MS));
      }
    });

    for (const [i, node] of nodes.entries()) {
      expect(await node.signal('SIGTERM')).toBe(0);
      nodes[i] = await DeployNode.start(node.port, settings);
      // The next node only once every client is back: an operator waits for /readyz and the load to settle.
      for (const recorder of clients) await recorder.untilState('online', WAIT_MS);
      if (i === 0) await say(page, 'the page, between the two');
    }
    chatting = false;
    await Promise.all(senders);

    expect(refused).toEqual([]);
    const all = [...sent, 'the page, between the two'];
    const textsAfter = (recorder: Recorder, from: number) =>
      recorder.log.slice(from).flatMap((entry) => (entry.type === 'message' ? [entry.event.text] : []));
    for (const [i, recorder] of clients.entries()) {
      await recorder.until(() => all.every((text) => textsAfter(recorder, before[i]!).includes(text)), 'all', WAIT_MS);
    }
    const order = textsAfter(clients[0]!, before[0]!);
    expect(new Set(order).size).toBe(order.length);
    expect([...order].sort()).toEqual([...all].sort());
    for (const [i, recorder] of clients.entries()) {
      expect(textsAfter(recorder, before[i]!), recorder.client.name).toEqual(order);
      const presence = recorder.log.slice(before[i]).filter((entry) => entry.type === 'join' || entry.type === 'leave');
      expect(presence, recorder.client.name).toEqual([]);
      expect(recorder.of('gap'), recorder.client.name).toEqual([]);
    }

    // The page shows the same messages once each, in the same order, and no join or leave since its own.
    await page
      .locator('.message .text', { hasText: order.at(-1)! })
      .first()
      .waitFor({ timeout: WAIT_MS });
    const shown = await page.locator('.message .text').allTextContents();
    expect(shown.slice(-order.length)).toEqual(order);
    expect(await page.locator('.event.leave').count()).toBe(0);
    expect(await page.locator('.event.gap').count()).toBe(0);
    const problems = browser.problems.splice(0).filter((problem) => !REFUSED_CONNECTION.test(problem));
    expect(problems, 'errors the page logged').toEqual([]);
  }, 120_000);
});
