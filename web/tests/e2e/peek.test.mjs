// "Peek inside" against the real slm-server (tiny random model): the toggle asks for
// logprobs, the reply is shown token by token, and hover, tap or keyboard focus shows the
// five likeliest alternatives.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ARTIFACTS, BASE_URL, eventually, FAST_SETTINGS, openPage, sendPrompt, useBrowser, waitForReply } from './harness.mjs';

useBrowser();

describe('peek inside', () => {
  test('tokens are shaded and explain themselves on focus, arrows, hover and tap', async () => {
    const { context, page, errors } = await openPage({ settings: FAST_SETTINGS });
    await page.goto(BASE_URL);
    const toggle = page.locator('#peek-toggle');
    assert.equal(await toggle.getAttribute('aria-pressed'), 'false');
    assert.equal(await page.locator('#peek-legend').isVisible(), false);
    await toggle.click();
    assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
    assert.ok(await page.locator('#peek-legend').isVisible());

    const request = page.waitForRequest('**/v1/chat/completions');
    await sendPrompt(page, 'Once upon a time');
    const body = (await request).postDataJSON();
    assert.equal(body.logprobs, true);
    assert.equal(body.top_logprobs, 5);
    const reply = await waitForReply(page);
    const tokens = reply.locator('.msg-text .ptok');
    const n = await tokens.count();
    assert.ok(n > 3, `reply shown as ${n} tokens`);
    const text = await reply.locator('.msg-text').textContent();
    const spelled = (await tokens.allTextContents()).join('');
    assert.ok(text.startsWith(spelled) && spelled.length > 0, 'the tokens spell the reply');
    const surprise = Number(await tokens.first().evaluate((s) => s.style.getPropertyValue('--surprise')));
    assert.ok(surprise >= 0 && surprise <= 1, `shade ${surprise}`);

    // Keyboard: one tab stop per reply, arrows move, the tooltip follows, Escape closes it.
    const tip = page.locator('#token-tip');
    assert.equal(await tokens.first().getAttribute('tabindex'), '0');
    assert.equal(await tokens.nth(1).getAttribute('tabindex'), '-1');
    await tokens.first().focus();
    await eventually(() => tip.isVisible(), { message: 'tooltip on focus' });
    assert.equal(await tip.locator('li').count(), 5);
    assert.equal(await tokens.first().getAttribute('aria-describedby'), 'token-tip');
    const firstTip = await tip.textContent();
    await page.keyboard.press('ArrowRight');
    assert.ok(await tokens.nth(1).evaluate((s) => s === document.activeElement), 'ArrowRight moves on');
    assert.notEqual(await tip.textContent(), firstTip);
    assert.match(await tip.locator('.tip-head').textContent(), /chance/);
    await page.keyboard.press('Escape');
    assert.equal(await tip.isVisible(), false);

    // Pointer: hover shows it, and so does a tap (which focuses the token).
    await page.mouse.click(5, 5);
    await tokens.nth(2).hover();
    await eventually(() => tip.isVisible(), { message: 'tooltip on hover' });
    await page.screenshot({ path: join(ARTIFACTS, 'peek-desktop.png') });

    // History keeps the probabilities; turning the view off shows plain text.
    await page.reload();
    await eventually(async () => (await page.locator('.msg-assistant .ptok').count()) === n, { message: 'tokens after reload' });
    await page.locator('#peek-toggle').click();
    assert.equal(await page.locator('.msg-assistant .ptok').count(), 0);
    assert.equal(await page.locator('.msg-assistant .msg-text').textContent(), text);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('on a phone a tap on a token shows its alternatives', async () => {
    const { context, page, errors } = await openPage({
      settings: { ...FAST_SETTINGS, peek: true },
      viewport: { width: 390, height: 844 },
      hasTouch: true,
      isMobile: true,
    });
    await page.goto(BASE_URL);
    await sendPrompt(page, 'A little dog');
    const reply = await waitForReply(page);
    const token = reply.locator('.msg-text .ptok').nth(1);
    await token.scrollIntoViewIfNeeded();
    await token.tap();
    const tip = page.locator('#token-tip');
    await eventually(() => tip.isVisible(), { message: 'tooltip on tap' });
    const box = await tip.boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 390, `tooltip inside the screen: ${JSON.stringify(box)}`);
    await page.screenshot({ path: join(ARTIFACTS, 'peek-mobile.png') });
    assert.deepEqual(errors, []);
    await context.close();
  });
});
