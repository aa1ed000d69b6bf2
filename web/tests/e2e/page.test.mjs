// Page-level behaviour in a real browser: sections and live numbers, layout at
// phone width, keyboard access, and the background's motion modes.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describeInfo } from '../../js/format.js';
import { ARTIFACTS, BASE_URL, eventually, FAST_SETTINGS, openPage, sendPrompt, sleep, useBrowser, waitForReply } from './harness.mjs';

useBrowser();

const frames = (page) => page.locator('#bg').getAttribute('data-frames').then(Number);

describe('page', () => {
  test('loads with every section, live numbers from /api/info and no console errors', async () => {
    const { context, page, errors } = await openPage();
    try {
      const info = await (await page.request.get(`${BASE_URL}/api/info`)).json();
      await page.goto(BASE_URL + '/');
      for (const id of ['#hero-title', '#about', '#how', '#chat']) {
        assert.ok(await page.locator(id).isVisible(), `${id} is visible`);
      }
      const nav = await page.locator('.site-nav a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
      assert.deepEqual(nav, ['#about', '#how', '#chat']);
      assert.match(await page.locator('h1').innerText(), /story writer/i);
      assert.equal(await page.locator('.pipeline .stage h3').allInnerTexts().then((t) => t.join(',')), 'Tokenizer,Transformer,Sampling');

      // The about numbers are the server's, formatted; nulls read "measuring…".
      const expected = describeInfo(info);
      const stat = page.locator('#about [data-info="parameters"]');
      await eventually(async () => (await stat.getAttribute('data-raw')) === String(info.parameters), { message: 'parameters from /api/info' });
      assert.equal(await stat.innerText(), expected.parameters);
      assert.equal(await page.locator('#about [data-info="weights_bytes"]').innerText(), expected.weights_bytes);
      assert.equal(await page.locator('#about [data-info="architecture"]').innerText(), expected.architecture);
      assert.equal(await page.locator('#about [data-info="context_length"]').innerText(), expected.context_length);
      // The load-dependent recent average is a caption that says so (review m2).
      assert.equal(await page.locator('#about [data-info="recent_decode"]').innerText(), expected.recent_decode);
      // The headline speed is the single-stream figure the server measured at start-up,
      // labelled as such (not the load-dependent recent average).
      for (const where of ['.hero', '#about']) {
        const single = page.locator(`${where} [data-info="single_stream_decode_tokens_per_s"]`);
        assert.equal(await single.innerText(), expected.single_stream_decode_tokens_per_s);
      }
      assert.match(await page.locator('.hero-facts').innerText(), /one user/i);
      await eventually(async () => (await page.locator('#server-status').getAttribute('data-state')) === 'ready', { message: 'server status ready' });

      await page.screenshot({ path: join(ARTIFACTS, 'desktop-home.png') });
      await page.screenshot({ path: join(ARTIFACTS, 'desktop-full.png'), fullPage: true });
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('when /api/info fails, the hero and the About section say the numbers are unavailable', async () => {
    const { context, page, errors } = await openPage();
    try {
      await page.route('**/api/info', (route) => route.fulfill({ status: 500, json: { error: { message: 'boom' } } }));
      await page.goto(BASE_URL + '/');
      await eventually(() => page.locator('#info-error').isVisible(), { message: 'the About error line' });
      assert.match(await page.locator('#info-error').innerText(), /unavailable right now/);
      assert.equal(await page.locator('.hero [data-info="single_stream_decode_tokens_per_s"]').innerText(), 'unavailable');
      // The failed request itself is the only console error.
      assert.ok(errors.every((e) => /500/.test(e)), errors.join('\n'));
    } finally {
      await context.close();
    }
  });

  test('360 px wide phone: no horizontal scroll, chat usable', async () => {
    const { context, page, errors } = await openPage({
      viewport: { width: 360, height: 740 },
      isMobile: true,
      hasTouch: true,
      deviceScaleFactor: 2,
      settings: FAST_SETTINGS,
    });
    try {
      await page.goto(BASE_URL + '/');
      const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.equal(await overflow(), 0, 'page is not wider than the screen');
      await page.screenshot({ path: join(ARTIFACTS, 'mobile-home.png') });

      // A long unbroken opening must wrap inside its bubble, not widen the page.
      await sendPrompt(page, `Once upon a time ${'wonderful'.repeat(6)}`);
      await waitForReply(page);
      await page.locator('#settings-toggle').click();
      assert.equal(await overflow(), 0, 'still no horizontal scroll with messages and settings open');
      for (const sel of ['#prompt', '#send', '#new-chat', '#settings-toggle']) {
        const box = await page.locator(sel).boundingBox();
        assert.ok(box && box.x >= 0 && box.x + box.width <= 360, `${sel} fits on screen`);
      }
      await page.locator('#settings-toggle').click();
      await page.locator('.chat-shell').screenshot({ path: join(ARTIFACTS, 'mobile-chat.png') });
      await page.screenshot({ path: join(ARTIFACTS, 'mobile-full.png'), fullPage: true });
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('320 px with text zoomed to 200 %: the page still reflows (review n4)', async () => {
    const { context, page, errors } = await openPage({ viewport: { width: 320, height: 640 }, settings: FAST_SETTINGS });
    try {
      await page.goto(BASE_URL + '/');
      await page.addStyleTag({ content: 'html { font-size: 200% !important; }' });
      const wider = await page.evaluate(() =>
        [...document.querySelectorAll('body *')]
          .filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1 && el.closest('.backdrop, .visually-hidden, .skip-link') === null)
          .map((el) => el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : '')),
      );
      assert.deepEqual(wider, [], 'nothing sticks out of the 320 px screen');
      assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), 320, 'no horizontal scroll');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('the copy follows the model: continue stories (base model) or ask for them (chat model)', async () => {
    for (const chat of [false, true]) {
      const { context, page, errors } = await openPage();
      try {
        if (chat) {
          // The test server runs a base model; a chat model's /api/info differs only in this flag.
          await page.route('**/api/info', async (route) => {
            const info = await (await route.fetch()).json();
            await route.fulfill({ json: { ...info, chat_format: true } });
          });
        }
        await page.goto(BASE_URL + '/');
        const mode = chat ? 'chat' : 'story';
        await eventually(async () => (await page.locator('body').getAttribute('data-mode')) === mode, { message: `mode ${mode}` });
        assert.equal(await page.locator('#chat-title').innerText(), chat ? 'Ask for a story.' : 'Start a story.');
        const visible = await page.locator('.suggestion:visible').allInnerTexts();
        assert.equal(visible.length, 3);
        assert.equal(visible.every((t) => /^(Tell me|Write|Continue)/.test(t)), chat, visible.join(' | '));
        assert.equal(await page.locator('#prompt').getAttribute('placeholder'), chat ? 'Tell me a story about…' : 'Once upon a time…');
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    }
  });

  test('the calls to action and the skip link land on the text box, in view', async () => {
    for (const [viewport, target] of [
      [{ width: 1366, height: 900 }, '.hero .btn-primary'],
      [{ width: 1366, height: 768 }, '.nav-cta'],
      [{ width: 390, height: 844 }, '.hero .btn-primary'],
      [{ width: 1366, height: 768 }, '.skip-link'],
    ]) {
      const { context, page } = await openPage({ settings: FAST_SETTINGS, viewport });
      try {
        await page.goto(BASE_URL + '/');
        if (target === '.skip-link') {
          await page.keyboard.press('Tab');
          await page.keyboard.press('Enter');
        } else {
          await page.locator(target).click();
        }
        const where = `${target} at ${viewport.width}x${viewport.height}`;
        await eventually(async () => page.evaluate(() => document.activeElement?.id === 'prompt'), {
          message: `${where}: the text box has the focus`,
        });
        await eventually(
          async () => {
            const box = await page.locator('#prompt').boundingBox();
            return box && box.y >= 0 && box.y + box.height <= viewport.height;
          },
          { message: `${where}: the text box is in view` },
        );
      } finally {
        await context.close();
      }
    }
  });

  test('keyboard: skip link, visible focus, Shift+Enter adds a line, Enter sends', async () => {
    const { context, page } = await openPage({ settings: FAST_SETTINGS });
    try {
      await page.goto(BASE_URL + '/');
      await page.keyboard.press('Tab');
      const skip = page.locator('.skip-link');
      assert.equal(await skip.evaluate((el) => el === document.activeElement), true, 'first Tab reaches the skip link');
      const box = await skip.boundingBox();
      assert.ok(box && box.y >= 0, 'skip link is on screen when focused');

      await page.keyboard.press('Tab');
      const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
      assert.notEqual(outline, 'none', 'focused element shows an outline');

      let requests = 0;
      page.on('request', (r) => {
        if (r.url().endsWith('/v1/chat/completions')) requests += 1;
      });
      const prompt = page.locator('#prompt');
      await prompt.focus();
      await page.keyboard.type('The cat sat.');
      await page.keyboard.press('Shift+Enter');
      await page.keyboard.type('Then it ran.');
      assert.equal(await prompt.inputValue(), 'The cat sat.\nThen it ran.');
      await sleep(200);
      assert.equal(requests, 0, 'Shift+Enter does not send');
      await page.keyboard.press('Enter');
      await waitForReply(page);
      assert.equal(requests, 1, 'Enter sends once');
      assert.equal(await page.locator('.msg-user .msg-text').innerText(), 'The cat sat.\nThen it ran.');
      assert.equal(await prompt.inputValue(), '');
      // Live region for replies and a labelled log.
      assert.equal(await page.locator('#messages').getAttribute('role'), 'log');
      assert.equal(await page.locator('#messages').getAttribute('aria-live'), 'polite');
    } finally {
      await context.close();
    }
  });

  test('background animates, pauses when the tab is hidden', async () => {
    const { context, page, errors } = await openPage();
    try {
      await page.goto(BASE_URL + '/');
      const bg = page.locator('#bg');
      assert.equal(await bg.getAttribute('data-renderer'), 'webgl');
      assert.equal(await bg.getAttribute('data-motion'), 'on');
      const first = await eventually(() => frames(page), { message: 'first frames' });
      await eventually(async () => (await frames(page)) > first, { message: 'frame count to grow' });

      await page.evaluate(() => {
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
        document.dispatchEvent(new Event('visibilitychange'));
      });
      assert.equal(await bg.getAttribute('data-motion'), 'paused');
      const paused = await frames(page);
      await sleep(400);
      assert.equal(await frames(page), paused, 'no frames drawn while hidden');

      await page.evaluate(() => {
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
        document.dispatchEvent(new Event('visibilitychange'));
      });
      assert.equal(await bg.getAttribute('data-motion'), 'on');

      // Scrolled to the chat, the hero is off screen: the scene holds still (review M7).
      await page.locator('#chat').scrollIntoViewIfNeeded();
      await eventually(async () => (await bg.getAttribute('data-motion')) === 'paused', { message: 'paused in the chat view' });
      const still = await frames(page);
      await page.mouse.move(300, 300);
      await page.mouse.move(600, 400);
      await sleep(600);
      assert.equal(await frames(page), still, 'no frames while the hero is out of view');
      await page.evaluate(() => window.scrollTo(0, 0));
      await eventually(async () => (await bg.getAttribute('data-motion')) === 'on', { message: 'motion back on the hero' });
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('prefers-reduced-motion: one still frame, no animation', async () => {
    const { context, page, errors } = await openPage({ reducedMotion: 'reduce' });
    try {
      await page.goto(BASE_URL + '/');
      const bg = page.locator('#bg');
      assert.equal(await bg.getAttribute('data-motion'), 'off');
      assert.equal(await bg.getAttribute('data-renderer'), 'webgl');
      const still = await frames(page);
      assert.equal(still, 1, 'exactly one still frame drawn');
      await sleep(500);
      assert.equal(await frames(page), still, 'no further frames');

      // Switching the preference off at run time starts the animation.
      await page.emulateMedia({ reducedMotion: 'no-preference' });
      await eventually(async () => (await bg.getAttribute('data-motion')) === 'on', { message: 'motion back on' });
      await eventually(async () => (await frames(page)) > still, { message: 'frames to grow' });
      await page.emulateMedia({ reducedMotion: 'reduce' });
      await eventually(async () => (await bg.getAttribute('data-motion')) === 'off', { message: 'motion off again' });
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('without WebGL the still fallback shows and nothing breaks', async () => {
    const { context, page, errors } = await openPage();
    try {
      await page.addInitScript(() => {
        const original = HTMLCanvasElement.prototype.getContext;
        HTMLCanvasElement.prototype.getContext = function (type, ...rest) {
          return /webgl/i.test(type) ? null : original.call(this, type, ...rest);
        };
      });
      await page.goto(BASE_URL + '/');
      const bg = page.locator('#bg');
      assert.equal(await bg.getAttribute('data-renderer'), 'fallback');
      assert.equal(await bg.getAttribute('data-motion'), 'off');
      assert.equal(await bg.isVisible(), false, 'canvas hidden');
      const still = await page.locator('.backdrop-still').evaluate((el) => getComputedStyle(el).backgroundImage);
      assert.match(still, /radial-gradient/);
      assert.ok(await page.locator('#chat').isVisible());
      await page.screenshot({ path: join(ARTIFACTS, 'desktop-no-webgl.png') });
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});
