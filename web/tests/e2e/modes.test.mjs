// The two ways to write a story with a chat model ("Ask for a story", "Continue my
// story"), the "One text" view of a continued story, readable story titles, and the
// phone layout (one scroller, composer kept in view, settings as a sheet).
// The test server runs the tiny base model; a chat model is simulated by its /api/info.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ARTIFACTS, BASE_URL, eventually, FAST_SETTINGS, openPage, sendPrompt, useBrowser, waitForReply } from './harness.mjs';

useBrowser();

/** Makes the page see a chat model (only /api/info's flag differs) and records chat request bodies. */
async function asChatModel(page) {
  await page.route('**/api/info', async (route) => {
    const info = await (await route.fetch()).json();
    await route.fulfill({ json: { ...info, chat_format: true } });
  });
  const bodies = [];
  page.on('request', (req) => {
    if (req.url().endsWith('/v1/chat/completions')) bodies.push(JSON.parse(req.postData()));
  });
  return bodies;
}

const mode = (page) => page.locator('body').getAttribute('data-mode');

describe('modes', () => {
  test('a chat model offers both modes; Continue sends the story format; each story keeps its mode', async () => {
    const { context, page, errors } = await openPage({ settings: FAST_SETTINGS });
    try {
      const bodies = await asChatModel(page);
      await page.goto(BASE_URL + '/');
      const switcher = page.locator('#mode-switch');
      await eventually(() => switcher.isVisible(), { message: 'the mode switch appears for a chat model' });
      assert.equal(await mode(page), 'chat');
      assert.equal(await page.locator('#mode-switch input[value="chat"]').isChecked(), true);
      assert.match(await page.locator('.mode-help').innerText(), /tells a new one/);

      // Ask: the request goes in the model's own (chat) format.
      await sendPrompt(page, 'Tell me a story about a brave cat.');
      await waitForReply(page);
      assert.equal(bodies.length, 1);
      assert.equal('prompt_format' in bodies[0], false);
      assert.equal(await page.locator('#prompt').getAttribute('placeholder'), 'Ask for another story…');

      // Switching with a story under way starts a new one in the other mode (keyboard: arrows).
      await page.locator('#mode-switch input[value="chat"]').focus();
      await page.keyboard.press('ArrowRight');
      await eventually(async () => (await mode(page)) === 'story', { message: 'continue mode' });
      assert.equal(await page.locator('.msg').count(), 0, 'a new, empty story');
      assert.equal(await page.locator('#prompt').getAttribute('placeholder'), 'Once upon a time…');
      assert.match(await page.locator('#chat-status').innerText(), /New story: write its beginning/);
      assert.equal(await page.locator('#chat-title').innerText(), 'Start a story.');

      await sendPrompt(page, 'Tom had a red ball.');
      await waitForReply(page);
      assert.equal(bodies[1].prompt_format, 'story', 'a chat model is asked to continue the text');
      assert.equal(await page.locator('#prompt').getAttribute('placeholder'), 'What happens next?');
      await page.locator('#mode-switch').screenshot({ path: join(ARTIFACTS, 'mode-switch.png') });

      // Opening the first story brings its mode back; a reload keeps both.
      const openStory = (title) => page.locator('.conversation-open', { hasText: title }).click();
      await openStory('A brave cat.');
      assert.equal(await mode(page), 'chat');
      await page.reload();
      await eventually(() => switcher.isVisible(), { message: 'switch after reload' });
      assert.equal(await mode(page), 'chat');
      await openStory('Tom had a red ball.');
      assert.equal(await mode(page), 'story');
      assert.equal(await page.locator('#mode-switch input[value="story"]').isChecked(), true);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('a base model only continues stories: no mode switch, no prompt_format', async () => {
    const { context, page, errors } = await openPage({ settings: FAST_SETTINGS });
    try {
      const bodies = [];
      page.on('request', (req) => {
        if (req.url().endsWith('/v1/chat/completions')) bodies.push(JSON.parse(req.postData()));
      });
      await page.goto(BASE_URL + '/');
      await eventually(async () => (await page.locator('#about [data-info="parameters"]').getAttribute('data-raw')) !== null, { message: 'info loaded' });
      assert.equal(await page.locator('#mode-switch').isVisible(), false);
      assert.equal(await mode(page), 'story');
      await sendPrompt(page, 'Lily found a key.');
      await waitForReply(page);
      assert.equal('prompt_format' in bodies[0], false);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('"One text" shows a continued story as one text, the visitor\'s parts highlighted', async () => {
    const { context, page, errors } = await openPage({ settings: FAST_SETTINGS });
    try {
      await page.goto(BASE_URL + '/');
      await sendPrompt(page, 'Once upon a time, there was a little fox.');
      await waitForReply(page);
      await sendPrompt(page, 'Then it began to rain.');
      await waitForReply(page);
      const toggle = page.locator('#story-view-toggle');
      assert.equal(await toggle.getAttribute('aria-pressed'), 'false');
      const display = (sel) => page.locator(sel).first().evaluate((n) => getComputedStyle(n).display);
      assert.equal(await display('.msg'), 'flex', 'bubbles by default');
      await toggle.click();
      assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
      for (const sel of ['.msg', '.msg-body', '.msg-text']) assert.equal(await display(sel), 'inline', `${sel} flows inline`);
      assert.equal(await display('.msg-avatar'), 'none');
      const userBg = await page.locator('.msg-user .msg-text').first().evaluate((n) => getComputedStyle(n).backgroundColor);
      const replyBg = await page.locator('.msg-assistant .msg-text').first().evaluate((n) => getComputedStyle(n).backgroundColor);
      assert.notEqual(userBg, replyBg, 'the visitor\'s parts stand out');
      // The text reads as one story: pieces joined by single spaces, in order.
      const pieces = await page.locator('.msg-text').allTextContents();
      const shown = await page.locator('#messages').evaluate((n) => n.innerText.replace(/\s+/g, ' ').trim());
      assert.ok(shown.includes(pieces.join(' ').replace(/\s+/g, ' ').trim()), shown);
      // The last reply still offers its actions (Regenerate) below the text.
      assert.equal(await page.locator('.msg-assistant').last().locator('.msg-regenerate').isVisible(), true);
      await page.locator('.chat-shell').screenshot({ path: join(ARTIFACTS, 'story-one-text.png') });
      await page.reload();
      assert.equal(await page.locator('#story-view-toggle').getAttribute('aria-pressed'), 'true', 'the choice persists');
      assert.equal(await display('.msg'), 'inline');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('story titles skip the shared opening; the full title is in the tooltip', async () => {
    const { context, page, errors } = await openPage({ settings: FAST_SETTINGS });
    try {
      await page.goto(BASE_URL + '/');
      await sendPrompt(page, 'Once upon a time, there was a dragon who loved to bake.');
      await waitForReply(page);
      const item = page.locator('.conversation-open').first();
      assert.equal(await item.locator('.conversation-title').innerText(), 'There was a dragon who loved to bake.');
      assert.equal(await item.getAttribute('title'), 'There was a dragon who loved to bake.');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('phone: the page is the only scroller, the composer stays in view, settings open as a sheet', async () => {
    const { context, page, errors } = await openPage({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
      deviceScaleFactor: 2,
      settings: { ...FAST_SETTINGS, max_tokens: 160 },
    });
    try {
      await page.goto(BASE_URL + '/');
      for (const text of ['Once upon a time, there was a cat.', 'The cat went out.', 'It saw a bird.']) {
        await sendPrompt(page, text);
        await waitForReply(page, ['done']);
      }
      const messages = page.locator('#messages');
      const nested = await messages.evaluate((n) => ({ scroll: n.scrollHeight, client: n.clientHeight, overflow: getComputedStyle(n).overflowY }));
      assert.equal(nested.overflow, 'visible', 'the story is not a scroller of its own');
      assert.ok(nested.scroll <= nested.client + 1, JSON.stringify(nested));
      // The story is taller than the screen, and the composer is on screen while reading it.
      const story = await messages.boundingBox();
      assert.ok(story.height > 844, `story height ${story.height}`);
      await page.evaluate(() => document.querySelector('.msg').scrollIntoView({ block: 'start', behavior: 'instant' }));
      const inView = async () => {
        const box = await page.locator('#prompt').boundingBox();
        return box && box.y >= 0 && box.y + box.height <= 844;
      };
      assert.ok(await inView(), 'the composer sticks to the bottom of the screen');
      await page.screenshot({ path: join(ARTIFACTS, 'mobile-story-sticky-composer.png') });

      // Settings open over the chat without pushing it; Done closes them.
      const before = await page.locator('#prompt').boundingBox();
      await page.locator('#settings-toggle').click();
      const sheet = await page.locator('#settings').boundingBox();
      assert.ok(sheet.y + sheet.height <= 844 + 1 && sheet.y > 844 * 0.2, `a sheet at the bottom: ${JSON.stringify(sheet)}`);
      const after = await page.locator('#prompt').boundingBox();
      assert.ok(Math.abs(after.y - before.y) < 2, 'the composer did not move');
      await page.screenshot({ path: join(ARTIFACTS, 'mobile-settings-sheet.png') });
      await page.locator('#settings-done').click();
      assert.equal(await page.locator('#settings').isVisible(), false);
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'settings-toggle');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});
