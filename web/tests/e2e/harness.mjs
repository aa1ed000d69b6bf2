// Shared setup for the browser tests: Debian's Chromium through
// playwright-core, a server URL from the environment, console-error capture
// and a place for screenshots. scripts/web-test.sh starts the real slm-server
// and sets SLM_BASE_URL (tiny random model) and SLM_CHAT_BASE_URL (the bundled
// chat model).

import { mkdirSync } from 'node:fs';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

/**
 * The URL of a test server from the environment variable `variable`, without a
 * trailing slash; throws a clear message when it is not set.
 */
export function serverUrl(variable, what = 'slm-server') {
  const url = process.env[variable];
  if (!url) {
    throw new Error(`${variable} is not set: run scripts/web-test.sh, or start ${what} and export ${variable}=http://127.0.0.1:PORT`);
  }
  return url.replace(/\/$/, '');
}

export const BASE_URL = serverUrl('SLM_BASE_URL');

export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
mkdirSync(ARTIFACTS, { recursive: true });

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The calling test file's browser (see `useBrowser`). */
let browser;

/**
 * One browser for the calling test file: launched before its tests, closed
 * after them; `openPage` opens pages in it. Each launch gets a fresh temporary
 * profile (user-data-dir) from Playwright.
 */
export function useBrowser() {
  before(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  });
  after(async () => {
    await browser?.close();
  });
}

/** The glob of the chat endpoint, for waiting on or holding its requests. */
export const CHAT = '**/v1/chat/completions';

/**
 * A fresh context and page in the file's browser. `errors` collects console
 * errors and uncaught exceptions so tests can assert the page stayed clean.
 */
export async function openPage({ viewport = { width: 1366, height: 860 }, settings, ...contextOptions } = {}) {
  const context = await browser.newContext({ viewport, ...contextOptions });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const errors = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  if (settings) {
    // Preload sampling settings (seeded, short) the way the UI stores them.
    await page.addInitScript((s) => {
      if (!localStorage.getItem('slm.settings.v1')) localStorage.setItem('slm.settings.v1', JSON.stringify(s));
    }, settings);
  }
  return { context, page, errors };
}

/**
 * Seeded, short generations keep the tiny model's runs quick and repeatable
 * (seed 1 makes tiny-random write the full 48 tokens rather than stop early).
 */
export const FAST_SETTINGS = { temperature: 1, top_k: 0, top_p: 1, max_tokens: 48, seed: 1 };

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or the timeout passes. */
export async function eventually(fn, { timeout = 15_000, interval = 50, message = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await sleep(interval);
  }
  throw new Error(`timed out after ${timeout} ms waiting for ${message} (last value: ${JSON.stringify(last)})`);
}

/** Types a story opening and sends it with Enter, as a visitor would. */
export async function sendPrompt(page, text) {
  await page.locator('#prompt').fill(text);
  await page.locator('#prompt').press('Enter');
}

/**
 * Waits until the latest model reply has finished (or stopped / failed). A real
 * model on a debug-built server needs a longer `timeout` than the tiny one.
 */
export async function waitForReply(page, states = ['done'], { timeout = 30_000 } = {}) {
  const last = page.locator('.msg-assistant').last();
  await eventually(async () => states.includes(await last.getAttribute('data-state')), {
    message: `reply state in ${states.join('/')}`,
    timeout,
  });
  return last;
}

/**
 * Holds requests to `pattern` until `release()` is called, then lets them
 * through to the real server. The tiny test model writes a whole reply in
 * tens of milliseconds, too fast to press Stop mid-stream; holding the
 * request gives Stop a deterministic window.
 */
export async function holdRequests(page, pattern) {
  let release;
  const released = new Promise((r) => {
    release = r;
  });
  await page.route(pattern, async (route) => {
    await released;
    // The page may have aborted it meanwhile; that is the point of Stop.
    await route.continue().catch(() => {});
  });
  return () => release();
}
