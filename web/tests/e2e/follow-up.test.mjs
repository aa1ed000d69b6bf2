// A follow-up in the same conversation with the bundled chat model (the real
// 15M model, so its words are asserted): ask for a story about Mia, then ask
// for the character to be renamed, through the UI as a visitor would.
// scripts/web-test.sh serves models/tinystories-15m-chat at SLM_CHAT_BASE_URL.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ARTIFACTS, CHAT, eventually, openPage, sendPrompt, serverUrl, useBrowser, waitForReply } from './harness.mjs';

const CHAT_BASE_URL = serverUrl('SLM_CHAT_BASE_URL', 'slm-server --model models/tinystories-15m-chat');

useBrowser();

/**
 * The model's own sampling (its generation.json), seeded so the run repeats, and the UI's
 * default reply length (256 tokens, its cap of half the context): the server keeps the
 * conversation whole by shortening the follow-up's reply to the room left, so the model
 * sees the story it is asked to change.
 */
const CHAT_SETTINGS = { temperature: 0.8, top_k: 40, top_p: 0.95, max_tokens: 256, seed: 7 };

/** A real model on a debug-built server takes several seconds per reply. */
const REPLY_TIMEOUT = { timeout: 90_000 };

const ASK = 'Tell me a story about a girl named Mia who finds a red kite in the park.';
const RENAME = "I don't like the name Mia. Go with Nora.";

const mentions = (text, name) => new RegExp(`\\b${name}\\b`).test(text);

describe('follow-up (chat model)', () => {
  let context;
  let page;
  let errors;
  let renamed;
  before(async () => {
    ({ context, page, errors } = await openPage({ settings: CHAT_SETTINGS }));
  });
  after(async () => {
    await context?.close();
  });

  test('a story, then a rename in the same conversation: the whole conversation reaches the model', async () => {
    await page.goto(CHAT_BASE_URL + '/');
    // The page learns from /api/info that this is a chat model: "Ask for a story" mode.
    await eventually(() => page.locator('#mode-switch').isVisible(), { message: 'the mode switch for a chat model' });
    await page.locator('#mode-switch input[value="chat"]').check();
    assert.equal(await page.locator('body').getAttribute('data-mode'), 'chat');

    const firstRequest = page.waitForRequest(CHAT);
    await sendPrompt(page, ASK);
    const firstBody = (await firstRequest).postDataJSON();
    assert.deepEqual(firstBody.messages, [{ role: 'user', content: ASK }]);
    assert.equal('prompt_format' in firstBody, false, 'asked in the chat format, not continued as a story');
    const { temperature, top_k, top_p, seed } = firstBody;
    assert.deepEqual({ temperature, top_k, top_p, seed }, { temperature: 0.8, top_k: 40, top_p: 0.95, seed: 7 });
    assert.equal(firstBody.max_tokens, 256);

    const first = await waitForReply(page, ['done'], REPLY_TIMEOUT);
    const story = await first.locator('.msg-text').innerText();
    console.log(`first reply (seed ${seed}):\n${story}\n`);
    assert.ok(mentions(story, 'Mia'), `the story is about Mia: ${story}`);

    const secondRequest = page.waitForRequest(CHAT);
    await sendPrompt(page, RENAME);
    const secondBody = (await secondRequest).postDataJSON();
    assert.deepEqual(secondBody.messages, [
      { role: 'user', content: ASK },
      { role: 'assistant', content: story },
      { role: 'user', content: RENAME },
    ]);
    assert.equal('prompt_format' in secondBody, false);

    const second = await waitForReply(page, ['done'], REPLY_TIMEOUT);
    assert.equal(await page.locator('.msg-assistant').count(), 2, 'a second reply, the first kept');
    renamed = await second.locator('.msg-text').innerText();
    console.log(`second reply:\n${renamed}\n`);
    await page.locator('.chat-shell').screenshot({ path: join(ARTIFACTS, 'follow-up-rename.png') });
    const meta = await second.locator('.msg-meta').innerText();
    assert.doesNotMatch(meta, /Written without/, 'the model read the whole conversation, the story included');
    assert.deepEqual(errors, []);
  });

  // The shipped model has not learned renames yet (chat-eval: 0 of 40 held-out renames
  // applied); this runs and reports, and becomes a plain test once it passes.
  test('the reply renames the character', { todo: 'renames are not learned yet (issue 35)' }, () => {
    assert.ok(renamed, 'the conversation above ran');
    assert.ok(mentions(renamed, 'Nora'), `the new story uses Nora: ${renamed}`);
    assert.ok(!mentions(renamed, 'Mia'), `the new story no longer uses Mia: ${renamed}`);
  });
});
