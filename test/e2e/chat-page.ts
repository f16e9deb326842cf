/**
 * What a person does on the chat page, for the browser tests and the screenshot script.
 * Every wait is bounded by WAIT_MS.
 */
import type { Page } from 'playwright-core';

/** Browsers share these two cores with other test runs: generous, but bounded. */
export const WAIT_MS = 10_000;

/** What Chromium logs for each refused connection attempt while a server is away or cut off: the test's doing, not a page error. */
export const REFUSED_CONNECTION = /WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/ws' failed/;

/** Types a name and presses Join (the outcome is for the caller to wait for). */
export async function askForName(page: Page, name: string): Promise<void> {
  await page.fill('#name', name, { timeout: WAIT_MS });
  await page.click('#join-button', { timeout: WAIT_MS });
}

/** Opens the chat page and joins as `name`, waiting until the room shows. */
export async function joinChat(page: Page, baseUrl: string, name: string): Promise<void> {
  await page.goto(`${baseUrl}/`, { timeout: WAIT_MS });
  await askForName(page, name);
  await page.locator('#room-view').waitFor({ state: 'visible', timeout: WAIT_MS });
}

/** Types a message and sends it with Enter. */
export async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text, { timeout: WAIT_MS });
  await page.press('#text', 'Enter', { timeout: WAIT_MS });
}

/** Waits until a message bubble holding `text` shows. */
export async function waitForMessage(page: Page, text: string, own = false): Promise<void> {
  await page
    .locator(own ? '.message.own .text' : '.message:not(.own) .text', { hasText: text })
    .first()
    .waitFor({ timeout: WAIT_MS });
}
