// Screenshots of the UI's flows with a real model, committed next to this script:
//   SLM_BASE_URL=http://127.0.0.1:PORT node docs/screenshots.mjs
// with slm-server serving models/tinystories-15m-chat (the tiny test model writes
// gibberish). Sampling is seeded, so a rerun shows the same stories.

import { fileURLToPath } from 'node:url';
import { BASE_URL, FAST_SETTINGS, launch, openPage, sendPrompt, waitForReply } from '../tests/e2e/harness.mjs';

const OUT = fileURLToPath(new URL('./', import.meta.url));
const SETTINGS = { ...FAST_SETTINGS, temperature: 0.8, top_k: 40, top_p: 0.9, max_tokens: 96, seed: 7, peek: true };

const browser = await launch();
for (const [name, viewport] of [
  ['desktop', { width: 1366, height: 900 }],
  ['mobile', { width: 390, height: 844 }],
]) {
  const mobile = name === 'mobile';
  const { context, page } = await openPage(browser, { viewport, settings: SETTINGS, hasTouch: mobile, isMobile: mobile });
  await page.goto(BASE_URL);
  await sendPrompt(page, 'Tell me a story about a brave little cat.');
  const reply = await waitForReply(page, ['done']);
  // The token the model found least likely, with its alternatives.
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
  await page.screenshot({ path: `${OUT}${name}-peek.png` });
  await context.close();
  console.log(`${name}-peek.png: ${n} tokens, tooltip on token ${pick}`);
}
await browser.close();
