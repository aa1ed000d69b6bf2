// The chat against the real slm-server (tiny random model, so only behaviour
// is asserted, never the words): streaming, Stop, history, settings, errors.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ARTIFACTS, BASE_URL, CHAT, eventually, FAST_SETTINGS, holdRequests, openPage, sendPrompt, sleep, useBrowser, waitForReply } from './harness.mjs';

useBrowser();

/**
 * Records, from inside the page, how the newest reply bubble changes: its
 * state transitions (with whether the typing indicator was displayed) and each
 * text append. Installed before the page's own scripts run.
 */
function recordTimeline(page) {
  return page.addInitScript(() => {
    window.__timeline = [];
    document.addEventListener('DOMContentLoaded', () => {
      const root = document.getElementById('messages');
      new MutationObserver((records) => {
        const stateOf = (bubble) => {
          const typing = bubble.querySelector('.typing');
          window.__timeline.push({
            kind: 'state',
            state: bubble.dataset.state,
            typingShown: typing ? getComputedStyle(typing).display !== 'none' : false,
          });
        };
        for (const r of records) {
          if (r.type === 'childList') {
            for (const added of r.addedNodes) {
              if (added.classList?.contains('msg-assistant')) stateOf(added);
            }
            if (r.target.classList?.contains('msg-meta')) window.__timeline.push({ kind: 'meta', text: r.target.textContent });
            continue;
          }
          const node = r.target.nodeType === Node.TEXT_NODE ? r.target.parentElement : r.target;
          const bubble = node?.closest?.('.msg-assistant');
          if (!bubble) continue;
          if (r.type === 'attributes') {
            stateOf(bubble);
          } else if (r.type === 'characterData') {
            window.__timeline.push({ kind: 'text', before: r.oldValue.length, after: r.target.data.length });
          }
        }
      }).observe(root, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'], characterData: true, characterDataOldValue: true });
    });
  });
}

describe('chat', () => {
  test('sending shows the typing indicator, then text streams in piece by piece', async () => {
    const { context, page, errors } = await openPage({ settings: FAST_SETTINGS });
    try {
      await recordTimeline(page);
      await page.goto(BASE_URL + '/');
      const requestSeen = page.waitForRequest(CHAT);
      await sendPrompt(page, 'Once upon a time, there was a little dragon');
      const request = await requestSeen;
      const body = request.postDataJSON();
      assert.equal(body.stream, true);
      assert.deepEqual(body.messages, [{ role: 'user', content: 'Once upon a time, there was a little dragon' }]);

      const reply = await waitForReply(page);
      const timeline = await page.evaluate(() => window.__timeline);
      const firstText = timeline.findIndex((e) => e.kind === 'text');
      const waiting = timeline.findIndex((e) => e.kind === 'state' && e.state === 'waiting');
      assert.ok(waiting >= 0 && timeline[waiting].typingShown, 'typing indicator shown while waiting');
      assert.ok(firstText > waiting, 'indicator appears before the first text');
      const texts = timeline.filter((e) => e.kind === 'text');
      assert.ok(texts.length >= 2, `text arrived in several pieces (got ${texts.length})`);
      for (const t of texts) assert.ok(t.after > t.before, 'each piece makes the text longer');
      // A word count shows while it writes (review n7), replaced by the figures at the end.
      const counts = timeline.filter((e) => e.kind === 'meta' && e.text.startsWith('writing…'));
      assert.ok(counts.length >= 1, JSON.stringify(timeline.filter((e) => e.kind === 'meta')));
      assert.match(counts[0].text, /^writing… \d+ words? so far$/);
      assert.equal(await reply.locator('.typing').isVisible(), false, 'indicator gone after the first token');
      assert.ok((await reply.locator('.msg-text').innerText()).length > 0);
      assert.equal(await reply.getAttribute('aria-busy'), 'false');
      assert.ok(await page.locator('#send').isVisible(), 'Send is back');
      assert.equal(await page.locator('#stop').isVisible(), false);
      // The reply's own size and speed, as the server measured them (review n1); kept on reload.
      const meta = await reply.locator('.msg-meta').innerText();
      assert.match(meta, /^(Stopped at the length limit · )?\d+ tokens · [\d.]+ tok\/s$/, meta);

      // Copy puts the reply on the clipboard.
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE_URL });
      await reply.locator('.msg-copy').click();
      await eventually(async () => (await reply.locator('.msg-copy').innerText()).includes('Copied'), { message: 'copied label' });
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), await reply.locator('.msg-text').innerText());

      // Regenerate replaces the last reply with a new request for the same history.
      const again = page.waitForRequest(CHAT);
      await reply.locator('.msg-regenerate').click();
      assert.deepEqual((await again).postDataJSON().messages, body.messages);
      await waitForReply(page);
      assert.equal(await page.locator('.msg-assistant').count(), 1, 'still one reply after regenerating');

      await page.locator('.chat-shell').screenshot({ path: join(ARTIFACTS, 'desktop-chat.png') });
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('a story longer than the model reads says which reply was written without its start (review n3)', async () => {
    const { context, page, errors } = await openPage({ settings: FAST_SETTINGS });
    try {
      await page.goto(BASE_URL + '/');
      // 22 prompt tokens + a 48-token reply; the test model reads 128 tokens, 48 of them kept for the reply.
      const opening = 'Tom and his dog went to the park and played with a big red ball.';
      await sendPrompt(page, opening);
      const first = await waitForReply(page, ['done']);
      assert.doesNotMatch(await first.locator('.msg-meta').innerText(), /Written without/);
      await sendPrompt(page, 'Then it started to rain and they ran home to their mom.');
      const second = await waitForReply(page, ['done']);
      const note = /Written without the first (message|\d+ messages): the story is now longer than the model can read at once\.$/;
      assert.match(await second.locator('.msg-meta').innerText(), note);
      await page.reload();
      assert.match(await page.locator('.msg-assistant .msg-meta').last().innerText(), note, 'kept with the story');
      assert.doesNotMatch(await page.locator('.msg-assistant .msg-meta').first().innerText(), /Written without/);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('a reply cut at the length limit says so and Continue carries it on in place', async () => {
    const { context, page, errors } = await openPage({ settings: { ...FAST_SETTINGS, max_tokens: 8 } });
    try {
      await page.goto(BASE_URL + '/');
      await sendPrompt(page, 'Tom and his dog went to the park.');
      const reply = await waitForReply(page);
      assert.equal(await reply.getAttribute('data-finish'), 'length', 'the tiny model writes past 8 tokens');
      assert.match(await reply.locator('.msg-meta').innerText(), /^Stopped at the length limit · 16 tokens · [\d.]+ tok\/s$/);
      const first = await reply.locator('.msg-text').innerText();
      const more = reply.locator('.msg-continue');
      assert.ok(await more.isVisible(), 'Continue offered');

      const requestSeen = page.waitForRequest(CHAT);
      await more.click();
      const messages = (await requestSeen).postDataJSON().messages;
      assert.deepEqual(messages.map((m) => m.role), ['user', 'assistant'], 'the reply is sent for the model to go on');
      assert.equal(messages[1].content, first);
      await eventually(async () => (await reply.getAttribute('data-state')) === 'done' && (await reply.getAttribute('data-finish')) !== null, {
        message: 'continued reply finished',
      });
      const after = await reply.locator('.msg-text').innerText();
      assert.ok(after.startsWith(first) && after.length > first.length, 'the text grew in place');
      assert.equal(await page.locator('.msg-assistant').count(), 1, 'still one reply');
      assert.doesNotMatch(await reply.locator('.msg-meta').innerText(), /tokens/, 'no figures of only the last piece');
      // Stored: a reload shows the whole continued reply.
      await page.reload();
      assert.equal(await page.locator('.msg-assistant .msg-text').innerText(), after);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('a message too long for the model warns while typing and goes back into the box', async () => {
    const { context, page, errors } = await openPage({ settings: FAST_SETTINGS });
    try {
      await page.goto(BASE_URL + '/');
      const prompt = page.locator('#prompt');
      const long = 'The cat sat on the mat and looked at the sun. '.repeat(110); // ~5,000 characters
      await prompt.fill(long);
      assert.match(await page.locator('#composer-hint').innerText(), /Long message: about \d+ of the 512 tokens/);
      await prompt.press('Enter');
      const notice = page.locator('#notice');
      await eventually(async () => notice.isVisible(), { message: 'the too-long notice' });
      assert.match(await page.locator('#notice-title').innerText(), /too long/);
      const text = await page.locator('#notice-text').innerText();
      assert.doesNotMatch(text, /max_tokens|prompt Lower/, text);
      assert.equal(await page.locator('#notice-retry').isVisible(), false, 'no Retry that would fail again');
      assert.equal(await prompt.inputValue(), long.trim(), 'the text is back in the box');
      assert.equal(await page.locator('.msg').count(), 0, 'nothing left stuck in the story');
      assert.equal(await page.locator('.conversation-open').count(), 0, 'no empty story in the list');
      // Shortened, it goes through, and the hint is back to the keyboard help.
      await prompt.fill('The cat sat on the mat.');
      assert.match(await page.locator('#composer-hint').innerText(), /Enter/);
      await prompt.press('Enter');
      await waitForReply(page);
      assert.equal(await page.locator('.msg-user').count(), 1);
      assert.deepEqual(errors.filter((e) => !/status of 400/.test(e)), []);
    } finally {
      await context.close();
    }
  });

  test('sending into a story only adds to the live log (screen readers do not re-read it)', async () => {
    const { context, page, errors } = await openPage({ settings: FAST_SETTINGS });
    try {
      await page.goto(BASE_URL + '/');
      await sendPrompt(page, 'Tom had a red ball.');
      await waitForReply(page);
      await page.evaluate(() => {
        window.__log = { added: 0, removed: 0 };
        new MutationObserver((records) => {
          for (const r of records) {
            window.__log.added += [...r.addedNodes].filter((n) => n.classList?.contains('msg')).length;
            window.__log.removed += [...r.removedNodes].filter((n) => n.classList?.contains('msg')).length;
          }
        }).observe(document.getElementById('messages'), { childList: true });
      });
      await sendPrompt(page, 'One day, it rolled away.');
      await waitForReply(page);
      assert.deepEqual(await page.evaluate(() => window.__log), { added: 2, removed: 0 });
      assert.equal(await page.locator('.msg').count(), 4);
      assert.equal(await page.locator('#messages [role="status"]').count(), 0, 'one "writing…" announcement, not two');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('Stop cancels the request and keeps what was written', async () => {
    const { context, page, errors } = await openPage({ settings: FAST_SETTINGS });
    try {
      await page.goto(BASE_URL + '/');
      const release = await holdRequests(page, CHAT);
      const failed = [];
      page.on('requestfailed', (r) => {
        if (r.url().endsWith('/v1/chat/completions')) failed.push(r.failure()?.errorText);
      });
      const requestSeen = page.waitForRequest(CHAT);
      await sendPrompt(page, 'Tom and his dog went to the park. Suddenly,');
      await requestSeen;
      assert.ok(await page.locator('#stop').isVisible(), 'Stop offered while writing');
      assert.ok(await page.locator('.msg-assistant .typing').isVisible(), 'typing indicator while waiting');
      // Keyboard: Stop is reachable and pressing it keeps the focus in the composer.
      await page.locator('#stop').focus();
      await page.keyboard.press('Enter');
      release();
      await eventually(async () => page.evaluate(() => document.activeElement?.id === 'prompt'), {
        message: 'focus back on the text box after Stop (not lost to <body>)',
      });

      const reply = await waitForReply(page, ['stopped']);
      assert.equal(await reply.locator('.msg-meta').innerText(), 'Stopped');
      await eventually(() => failed.length > 0, { message: 'the request to be aborted' });
      assert.match(failed[0], /ABORTED/i);
      const length = (await reply.locator('.msg-text').innerText()).length;
      await sleep(500);
      assert.equal((await reply.locator('.msg-text').innerText()).length, length, 'no text after Stop');
      assert.ok(await page.locator('#send').isVisible());
      assert.ok(await reply.locator('.msg-regenerate').isVisible(), 'Regenerate offered after Stop');

      // Regenerate after Stop goes to the real server and finishes.
      await page.unroute(CHAT);
      await reply.locator('.msg-regenerate').click();
      await waitForReply(page);
      assert.ok((await page.locator('.msg-assistant .msg-text').innerText()).length > 0);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('Enter while the model is writing says so and keeps the text (review m4)', async () => {
    const { context, page, errors } = await openPage({ settings: FAST_SETTINGS });
    try {
      await page.goto(BASE_URL + '/');
      const release = await holdRequests(page, CHAT);
      const requestSeen = page.waitForRequest(CHAT);
      await sendPrompt(page, 'Tom had a red ball.');
      await requestSeen;
      await sendPrompt(page, 'And then?');
      assert.equal(await page.locator('#composer-hint').innerText(), 'The model is still writing: wait for it, or press Stop (Esc).');
      assert.equal(await page.locator('#chat-status').innerText(), 'The model is still writing: wait for it, or press Stop (Esc).');
      assert.equal(await page.locator('#prompt').inputValue(), 'And then?', 'the text stays in the box');
      assert.equal(await page.locator('.msg-user').count(), 1, 'nothing was sent');
      release();
      await waitForReply(page);
      assert.match(await page.locator('#composer-hint').innerText(), /Enter to send/, 'the keyboard help is back');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('history survives a reload; new story and delete work', async () => {
    const { context, page, errors } = await openPage({ settings: FAST_SETTINGS });
    try {
      await page.goto(BASE_URL + '/');
      assert.ok(await page.locator('#conversation-empty').isVisible());
      await sendPrompt(page, 'Lily found a shiny red key under her bed.');
      const reply = await waitForReply(page);
      const replyText = await reply.locator('.msg-text').innerText();

      await page.reload();
      const items = page.locator('.conversation-open');
      assert.equal(await items.count(), 1);
      assert.equal(await items.first().locator('.conversation-title').innerText(), 'Lily found a shiny red key under her bed.');
      assert.equal(await items.first().getAttribute('aria-current'), 'true');
      assert.equal(await page.locator('.msg-user .msg-text').innerText(), 'Lily found a shiny red key under her bed.');
      assert.equal(await page.locator('.msg-assistant .msg-text').innerText(), replyText);

      await page.locator('#new-chat').click();
      assert.ok(await page.locator('#empty-state').isVisible(), 'new story starts empty');
      assert.equal(await page.locator('.msg').count(), 0);
      assert.equal(await items.first().getAttribute('aria-current'), null);
      await sendPrompt(page, 'A big bear lived in the woods.');
      await waitForReply(page);
      assert.equal(await items.count(), 2);
      assert.equal(await items.first().locator('.conversation-title').innerText(), 'A big bear lived in the woods.', 'newest first');

      // Going back to the first story shows it again.
      await items.nth(1).click();
      assert.equal(await page.locator('.msg-user .msg-text').innerText(), 'Lily found a shiny red key under her bed.');

      await page.locator('.conversation-delete').first().click();
      assert.equal(await items.count(), 1);
      await page.reload();
      assert.equal(await items.count(), 1, 'delete persisted');
      assert.equal(await items.first().locator('.conversation-title').innerText(), 'Lily found a shiny red key under her bed.');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('deleting a story while it is being written stops it cleanly', async () => {
    const { context, page, errors } = await openPage({ settings: FAST_SETTINGS });
    try {
      await page.goto(BASE_URL + '/');
      const release = await holdRequests(page, CHAT);
      const requestSeen = page.waitForRequest(CHAT);
      await sendPrompt(page, 'A fox lived under a tree.');
      await requestSeen;
      await page.locator('.conversation-delete').first().click();
      release();
      assert.equal(await page.locator('.conversation-open').count(), 0);
      await eventually(async () => page.locator('#send').isVisible(), { message: 'Send to come back' });
      assert.ok(await page.locator('#empty-state').isVisible());
      await sleep(300);
      assert.equal(await page.evaluate(() => JSON.parse(localStorage.getItem('slm.conversations.v1')).conversations.length), 0);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('settings change the request body and persist', async () => {
    const { context, page, errors } = await openPage();
    try {
      await page.goto(BASE_URL + '/');
      // Send is disabled while there is nothing to send; Esc closes the settings.
      assert.equal(await page.locator('#send').isDisabled(), true, 'empty box: Send disabled');
      await page.locator('#prompt').fill('   ');
      assert.equal(await page.locator('#send').isDisabled(), true, 'blank box: Send disabled');
      await page.locator('#prompt').fill('');
      await page.locator('#settings-toggle').click();
      await page.keyboard.press('Escape');
      assert.equal(await page.locator('#settings').isVisible(), false, 'Esc closes the panel');
      assert.equal(await page.locator('#settings-toggle').getAttribute('aria-expanded'), 'false');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'settings-toggle');
      await page.locator('#settings-toggle').click();
      assert.equal(await page.locator('#settings-toggle').getAttribute('aria-expanded'), 'true');
      // Temperature by keyboard, the rest by value.
      const temperature = page.locator('#set-temperature');
      await temperature.focus();
      const start = Number(await temperature.inputValue());
      for (let i = 0; i < 4; i++) await page.keyboard.press('ArrowRight');
      const expectedTemp = Number((start + 0.2).toFixed(2));
      assert.equal(await page.locator('#out-temperature').innerText(), String(expectedTemp));
      await page.locator('#set-top_k').fill('12');
      await page.locator('#set-top_p').fill('0.5');
      await page.locator('#set-max_tokens').fill('32');
      // A seed the server would refuse is flagged, not silently dropped (review m3).
      await page.locator('#set-seed').fill('-5');
      assert.equal(await page.locator('#set-seed').getAttribute('aria-invalid'), 'true');
      assert.match(await page.locator('#seed-help').innerText(), /whole number/);
      await page.locator('#set-seed').fill('1234');
      assert.equal(await page.locator('#set-seed').getAttribute('aria-invalid'), 'false');

      const requestSeen = page.waitForRequest(CHAT);
      await sendPrompt(page, 'Sam had a red ball.');
      const body = (await requestSeen).postDataJSON();
      assert.equal(body.temperature, expectedTemp);
      assert.equal(body.top_k, 12);
      assert.equal(body.top_p, 0.5);
      assert.equal(body.max_tokens, 32);
      assert.equal(body.seed, 1234);
      await waitForReply(page, ['done']);

      await page.reload();
      assert.equal(await page.locator('#set-top_k').inputValue(), '12', 'settings persisted');
      await page.locator('#settings-toggle').click();
      await page.locator('#settings-reset').click();
      await page.locator('#settings-toggle').click();
      const next = page.waitForRequest(CHAT);
      await sendPrompt(page, 'Sam had a blue ball.');
      const reset = (await next).postDataJSON();
      // Reset gives the server's own defaults (its generation.json), as /api/info reports them.
      const defaults = (await (await page.request.get(BASE_URL + '/api/info')).json()).defaults;
      assert.equal(reset.top_k, defaults.top_k ?? 0);
      assert.equal(reset.top_p, defaults.top_p);
      assert.equal(reset.temperature, defaults.temperature);
      assert.equal('seed' in reset, false, 'no seed after reset');
      await waitForReply(page);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('edit, remove and regenerate can be undone; Copy story copies the whole story', async () => {
    const { context, page, errors } = await openPage({ settings: FAST_SETTINGS });
    try {
      await page.goto(BASE_URL + '/');
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE_URL });
      await sendPrompt(page, 'Once upon a time');
      const first = await (await waitForReply(page)).locator('.msg-text').innerText();
      const undoBar = page.locator('#undo-bar');
      assert.equal(await undoBar.isVisible(), false);

      // Regenerate keeps the earlier reply one click away.
      await page.locator('.msg-assistant .msg-regenerate').click();
      await undoBar.waitFor({ state: 'visible' });
      await waitForReply(page);
      await page.locator('#undo').click();
      assert.equal(await page.locator('.msg-assistant .msg-text').innerText(), first, 'the earlier reply is back');
      assert.equal(await undoBar.isVisible(), false);

      // Remove a reply, then undo.
      await page.locator('.msg-assistant .msg-trash').click();
      assert.equal(await page.locator('.msg-assistant').count(), 0);
      assert.ok(await page.locator('#undo').evaluate((b) => b === document.activeElement), 'focus on Undo');
      await page.locator('#undo').click();
      assert.equal(await page.locator('.msg-assistant').count(), 1);

      // Edit takes the opening back into the box (and what follows out of the story).
      await page.locator('.msg-user .msg-edit').click();
      assert.equal(await page.locator('#prompt').inputValue(), 'Once upon a time');
      assert.equal(await page.locator('.msg').count(), 0);
      await page.locator('#undo').click();
      assert.equal(await page.locator('.msg').count(), 2);
      assert.equal(await page.locator('.msg-assistant .msg-text').innerText(), first);

      // A reply's text does not start with its first token's space (review m6).
      const raw = await page.locator('.msg-assistant .msg-text').textContent();
      assert.equal(raw, raw.trimStart());

      // Deleting a story is undoable too (review m5).
      await page.locator('.conversation-delete').click();
      assert.equal(await page.locator('.conversation').count(), 0);
      await page.locator('#undo').click();
      assert.equal(await page.locator('.conversation').count(), 1);
      assert.equal(await page.locator('.msg').count(), 2, 'the story is open again');

      // The whole story (this is a story model for tiny-random: opening + continuation).
      await page.locator('#copy-story').click();
      const copied = await page.evaluate(() => navigator.clipboard.readText());
      assert.ok(copied.startsWith('Once upon a time'), copied);
      assert.ok(copied.includes(first.trim().slice(0, 20)), copied);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('a 429 shows the friendly busy message; Retry then succeeds', async () => {
    const { context, page } = await openPage({ settings: FAST_SETTINGS });
    try {
      await page.goto(BASE_URL + '/');
      await page.route(CHAT, (route) =>
        route.fulfill({
          status: 429,
          headers: { 'Retry-After': '3', 'Content-Type': 'application/json' },
          body: JSON.stringify({ error: { message: 'Too many requests are waiting.', type: 'rate_limit_error', param: null, code: 'queue_full' } }),
        }),
      );
      await sendPrompt(page, 'Once upon a time');
      const notice = page.locator('#notice');
      await notice.waitFor({ state: 'visible' });
      assert.equal(await notice.getAttribute('role'), 'alert');
      assert.equal(await notice.getAttribute('data-kind'), 'busy');
      assert.match(await notice.innerText(), /busy/i);
      assert.match(await page.locator('#notice-text').innerText(), /Try again in [1-3] s/);
      assert.equal(await page.locator('.msg-assistant').count(), 0, 'no empty reply left behind');
      assert.equal(await page.locator('.msg-user').count(), 1, 'the opening is kept');
      await page.locator('.chat-shell').screenshot({ path: join(ARTIFACTS, 'desktop-busy.png') });

      await page.unroute(CHAT);
      // Retry waits out the server's Retry-After (review m9), then works.
      assert.equal(await page.locator('#notice-retry').isDisabled(), true, 'no Retry during the countdown');
      await eventually(() => page.locator('#notice-retry').isEnabled(), { message: 'Retry enabled after the countdown', timeout: 6000 });
      await page.locator('#notice-retry').click();
      assert.equal(await notice.isVisible(), false);
      await waitForReply(page);
      assert.equal(await page.locator('.msg-user').count(), 1, 'retry did not duplicate the opening');
    } finally {
      await context.close();
    }
  });

  test('server down: a clear message with Retry', async () => {
    const { context, page } = await openPage({ settings: FAST_SETTINGS });
    try {
      await page.goto(BASE_URL + '/');
      await page.route(CHAT, (route) => route.abort('connectionrefused'));
      await sendPrompt(page, 'Once upon a time');
      const notice = page.locator('#notice');
      await notice.waitFor({ state: 'visible' });
      assert.equal(await notice.getAttribute('data-kind'), 'down');
      assert.match(await notice.innerText(), /reach the story writer/i);
      assert.doesNotMatch(await notice.innerText(), /slm-server/, 'visitor wording');
      await page.unroute(CHAT);
      await page.locator('#notice-retry').click();
      await waitForReply(page);
    } finally {
      await context.close();
    }
  });
});
