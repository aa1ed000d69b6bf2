// Screenshots of the UI's flows with a real model, committed next to this script:
//   SLM_BASE_URL=http://127.0.0.1:PORT node docs/screenshots.mjs
// with slm-server serving models/tinystories-15m-chat (the tiny test model writes
// gibberish). Sampling is seeded, so a rerun shows the same stories.

import { fileURLToPath } from 'node:url';
import { BASE_URL, FAST_SETTINGS, launch, openPage, sendPrompt, waitForReply } from '../tests/e2e/harness.mjs';

const OUT = fileURLToPath(new URL('./', import.meta.url));
const SETTINGS = { ...FAST_SETTINGS, temperature: 0.8, top_k: 40, top_p: 0.9, max_tokens: 96, seed: 7 };
const DESKTOP = { width: 1366, height: 900 };
const PHONE = { width: 390, height: 844 };

const browser = await launch();

/** Opens the page at `viewport`, runs `flow(page)` and saves what it returns a name for. */
async function shot(name, viewport, settings, flow) {
  const mobile = viewport === PHONE;
  const { context, page } = await openPage(browser, { viewport, settings, hasTouch: mobile, isMobile: mobile });
  await page.goto(BASE_URL);
  await page.locator('#mode-switch').waitFor({ state: 'visible' });
  const note = await flow(page);
  await page.screenshot({ path: `${OUT}${name}.png` });
  await context.close();
  console.log(`${name}.png${note ? `: ${note}` : ''}`);
}

const switchTo = (page, mode) => page.locator(`#mode-switch input[value="${mode}"]`).check();

/** "Peek inside": the token the model found least likely, with its alternatives. */
async function peek(page, mobile) {
  await sendPrompt(page, 'Tell me a story about a brave little cat.');
  const reply = await waitForReply(page, ['done']);
  const tokens = reply.locator('.msg-text .ptok');
  const n = await tokens.count();
  let pick = 0;
  let worst = -1;
  for (let i = 0; i < Math.min(n, 40); i++) {
    const s = Number(await tokens.nth(i).evaluate((t) => t.style.getPropertyValue('--surprise')));
    if (s > worst) [worst, pick] = [s, i];
  }
  await reply.scrollIntoViewIfNeeded();
  if (mobile) await tokens.nth(pick).tap();
  else await tokens.nth(pick).hover();
  await page.locator('#token-tip').waitFor({ state: 'visible' });
  return `${n} tokens, tooltip on token ${pick}`;
}

/** "Continue my story" in turns, shown as one text with the visitor's parts highlighted. */
async function continueStory(page) {
  await switchTo(page, 'story');
  await sendPrompt(page, 'Tom and his dog Max went to the park. Suddenly,');
  await waitForReply(page, ['done']);
  await sendPrompt(page, 'The next day, Max and Tom went back to the park and saw a little cat who');
  await waitForReply(page, ['done']);
  await page.locator('#story-view-toggle').click();
  await showChat(page);
}

/** Scrolls the chat to the top of the view, below the sticky header. */
const showChat = (page) =>
  page.evaluate(() => {
    const top = document.querySelector('.chat-shell').getBoundingClientRect().top + window.scrollY;
    window.scrollTo({ top: top - document.querySelector('.site-header').offsetHeight - 12, behavior: 'instant' });
  });

await shot('desktop-peek', DESKTOP, { ...SETTINGS, peek: true }, (page) => peek(page, false));
await shot('mobile-peek', PHONE, { ...SETTINGS, peek: true }, (page) => peek(page, true));
await shot('desktop-ask', DESKTOP, SETTINGS, async (page) => {
  await sendPrompt(page, 'Write a story about a girl named Mia with the words "moon" and "jump".');
  await waitForReply(page, ['done']);
  await showChat(page);
});
await shot('desktop-continue-one-text', DESKTOP, SETTINGS, continueStory);
await shot('desktop-undo', DESKTOP, SETTINGS, async (page) => {
  await sendPrompt(page, 'Tell me a story about a little dragon who was afraid of the dark.');
  await waitForReply(page, ['done']);
  await page.locator('.msg-regenerate').click();
  await waitForReply(page, ['done']);
  await showChat(page);
});
await shot('mobile-continue', PHONE, { ...SETTINGS, max_tokens: 160 }, async (page) => {
  await continueStory(page);
  // Reading from the top of the story: the composer stays at the bottom of the screen.
  await page.evaluate(() => document.querySelector('#messages').scrollIntoView({ block: 'start', behavior: 'instant' }));
});
await shot('mobile-settings', PHONE, SETTINGS, async (page) => {
  await page.locator('#chat').scrollIntoViewIfNeeded();
  await page.locator('#settings-toggle').click();
});
await browser.close();
