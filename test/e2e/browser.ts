/**
 * Debian's Chromium driven by playwright-core, for the browser tests and the screenshot
 * script. Each launch gets a fresh profile directory, removed on close.
 *
 * Without /usr/bin/chromium the browser tests skip with a loud message on a developer
 * machine, and fail the run under CI=true (`.ci/run` installs it).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-quic',
  '--disable-sync',
];

/** True when the browser is installed; otherwise warns loudly, or throws under CI=true. */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  const why = `${CHROMIUM} is missing; the browser tests need Debian's Chromium: apt-get install -y chromium`;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${why}`);
  const bar = '!'.repeat(88);
  console.warn(`\n${bar}\n!! SKIPPING THE BROWSER TESTS: ${why}\n${bar}\n`);
  return false;
}

export interface Browser {
  /** A new tab; page errors and console errors are collected in `problems`. */
  newPage(viewport?: { width: number; height: number }): Promise<Page>;
  /** Uncaught page errors and console errors (a blocked script, a CSP refusal…) so far. */
  readonly problems: string[];
  close(): Promise<void>;
}

/** `extraArgs`: more command-line switches (a host mapping, a certificate to trust). */
export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'chat-e2e-profile-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [...ARGS, ...extraArgs],
      viewport: { width: 1100, height: 720 },
      timeout: 30_000,
    });
  } catch (err) {
    await rm(profile, { recursive: true, force: true });
    throw err;
  }
  const problems: string[] = [];
  // The persistent context opens with one blank tab; it is not used.
  const [blank] = context.pages();
  return {
    problems,
    async newPage(viewport) {
      const page = await context.newPage();
      if (viewport !== undefined) await page.setViewportSize(viewport);
      page.on('pageerror', (err) => problems.push(`${page.url()}: ${err.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`${page.url()}: ${message.text()}`);
      });
      return page;
    },
    async close() {
      await blank?.close();
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
