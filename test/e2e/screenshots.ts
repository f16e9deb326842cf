/**
 * `npm run screenshots`: fills a chat with a short conversation, then saves the pages the
 * README shows: docs/chat.png, docs/chat-phone.png, docs/chat-name-taken.png and docs/inspect.png.
 */
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startServer } from '../../src/server.js';
import { launchChromium } from './browser.js';
import { askForName, joinChat, say, waitForMessage, WAIT_MS } from './chat-page.js';

const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url));

const config = { ...loadConfig([], {}), port: 0, host: '127.0.0.1', logLevel: 'silent', inspectPage: true };
const server = await startServer(config, { log: createLogger('silent') });
const base = `http://127.0.0.1:${server.port}`;
const browser = await launchChromium();
try {
  await mkdir(DOCS, { recursive: true });
  const inspect = await browser.newPage({ width: 1360, height: 1000 });
  await inspect.goto(`${base}/inspect`);

  const alice = await browser.newPage({ width: 1100, height: 700 });
  const bob = await browser.newPage({ width: 390, height: 780 });
  const carol = await browser.newPage();
  await joinChat(alice, base, 'Alice');
  await joinChat(bob, base, 'Bob');
  await joinChat(carol, base, 'Carol');

  const lines: Array<[typeof alice, string]> = [
    [alice, 'Morning! Is the release still on for 3 pm?'],
    [bob, 'Yes. I will post the checklist here at 2.'],
    [carol, 'I can watch the dashboards while it rolls out.'],
    [alice, 'Perfect, thanks both.'],
  ];
  for (const [page, text] of lines) {
    await say(page, text);
    await waitForMessage(alice, text, page === alice);
  }

  // Someone tries a name already in use, picks another, says hello and leaves.
  const dave = await browser.newPage({ width: 390, height: 640 });
  await dave.goto(`${base}/`);
  await askForName(dave, 'alice');
  await dave.locator('#join-error').waitFor({ timeout: WAIT_MS });
  await dave.screenshot({ path: `${DOCS}chat-name-taken.png` });
  await askForName(dave, 'Dave');
  await dave.locator('#room-view').waitFor({ timeout: WAIT_MS });
  await say(dave, 'Hi all, just passing through.');
  await waitForMessage(alice, 'just passing through');
  await dave.close();
  await alice.locator('.event.leave', { hasText: 'Dave left' }).waitFor({ timeout: WAIT_MS });
  await say(bob, 'Checklist is up in the wiki.');
  await waitForMessage(alice, 'Checklist is up');

  // A client that has connected but not chosen a name yet.
  const lurker = new WebSocket(`ws://127.0.0.1:${server.port}/ws`);
  await new Promise((resolve) => lurker.once('open', resolve));
  await inspect.locator('#tile-awaiting', { hasText: /^1$/ }).waitFor({ timeout: WAIT_MS });

  // One whose connection was lost: its session waits for a resume.
  const lost = new WebSocket(`ws://127.0.0.1:${server.port}/ws`);
  await new Promise((resolve) => lost.once('open', resolve));
  lost.send(JSON.stringify({ sender: 'Erin', text: '' }));
  await new Promise((resolve) => lost.once('message', resolve));
  lost.terminate();
  await inspect.locator('#tile-detached', { hasText: /^1$/ }).waitFor({ timeout: WAIT_MS });

  await alice.screenshot({ path: `${DOCS}chat.png` });
  await bob.screenshot({ path: `${DOCS}chat-phone.png` });
  await inspect.screenshot({ path: `${DOCS}inspect.png`, fullPage: true });
  lurker.terminate();
  if (browser.problems.length > 0) throw new Error(`the pages reported problems:\n${browser.problems.join('\n')}`);
  console.log('saved docs/chat.png, docs/chat-phone.png, docs/chat-name-taken.png and docs/inspect.png');
} finally {
  await browser.close();
  await server.close();
}
