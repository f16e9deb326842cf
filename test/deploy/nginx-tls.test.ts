/**
 * deploy/nginx/chat-tls.conf, as an operator copies it (ports and paths replaced; a
 * certificate made here in place of Let's Encrypt's), in front of two nodes started with
 * deploy/chat.env: plain HTTP is sent to https; the page loads and chats in Chromium over
 * https and wss; a program's wss:// connection from the public origin is let in, another
 * page's is not.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificate, type Certificate } from '../support/certificate.js';
import { DeployNode, deployEnv } from '../support/deploy-node.js';
import { Nginx, nginxAvailable } from '../support/nginx.js';
import { freePort, redisPerFile, redisServerBinary } from '../support/redis-server.js';
import { TestSocket, UpgradeRefused } from '../support/ws-client.js';
import { chromiumAvailable, launchChromium, type Browser } from '../e2e/browser.js';
import { joinChat, say, waitForMessage } from '../e2e/chat-page.js';

const NAME = 'chat.example.com';
const available = nginxAvailable() && chromiumAvailable() && redisServerBinary !== null;

describe.skipIf(!available)('nginx with deploy/nginx/chat-tls.conf', () => {
  const redis = redisPerFile();
  let dir: string;
  let certificate: Certificate;
  let nodes: DeployNode[] = [];
  let nginx: Nginx;
  let browser: Browser;
  const pages: Page[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chat-tls-'));
    certificate = makeCertificate(dir, NAME);
    const settings = deployEnv(redis().url);
    nodes = await Promise.all([freePort(), freePort()].map(async (port) => DeployNode.start(await port, settings)));
    nginx = await Nginx.start({ site: 'chat-tls.conf', nodes: nodes.map((node) => node.port), certificate });
    // The public name leads to nginx, and the browser trusts the certificate made above.
    browser = await launchChromium([
      `--host-resolver-rules=MAP ${NAME} 127.0.0.1`,
      `--ignore-certificate-errors-spki-list=${certificate.spkiSha256}`,
    ]);
  }, 60_000);

  afterEach(async () => {
    await Promise.all(pages.splice(0).map((page) => page.close()));
    expect(browser.problems.splice(0), 'errors the pages logged').toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await nginx?.stop();
    await Promise.all(nodes.map((node) => node.stop()));
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('sends plain HTTP to https', async () => {
    const answer = await fetch(`${nginx.httpUrl}/?x=1`, { redirect: 'manual' });
    expect(answer.status).toBe(301);
    expect(answer.headers.get('location')).toBe(`https://${NAME}/?x=1`);
  });

  it('loads the chat page in Chromium over https, and two people chat over wss', async () => {
    const base = `https://${NAME}:${nginx.httpsPort}`;
    const [alice, bob] = [await browser.newPage(), await browser.newPage()];
    pages.push(alice, bob);
    await joinChat(alice, base, 'Alice');
    await joinChat(bob, base, 'Bob');
    await say(alice, 'Hello over TLS');
    await waitForMessage(bob, 'Hello over TLS');
    await waitForMessage(alice, 'Hello over TLS', true);
  }, 30_000);

  it("lets a program in from the public origin (ALLOWED_ORIGINS), and not another site's page", async () => {
    const url = `wss://127.0.0.1:${nginx.httpsPort}/ws`;
    const tls = { ca: certificate.certPem, servername: NAME };
    // The Host is 127.0.0.1:port, so the node's own origin is not this one: chat.env lets it in.
    const socket = await TestSocket.open(url, { tls, origin: `https://${NAME}` });
    socket.send({ sender: 'program', text: '' });
    expect((await socket.nextFrame()).type).toBe('welcome');
    socket.close();

    const refused = await TestSocket.open(url, { tls, origin: 'https://elsewhere.example' }).catch(
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(UpgradeRefused);
    expect((refused as UpgradeRefused).status).toBe(403);
  });
});
