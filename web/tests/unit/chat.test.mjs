import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countWords, droppedText, placeholderFor, relativeTime, replyStats, statsText, storyText, wordsSoFarText } from '../../js/chat-text.js';

const messages = [
  { role: 'user', content: 'Tell me about a cat. ' },
  { role: 'assistant', content: ' Once there was a cat.' },
  { role: 'user', content: '' },
  { role: 'assistant', content: 'Then it slept.\n' },
];

test('storyText: chat stories are the replies, a continued story is one text', () => {
  assert.equal(storyText(messages, true), 'Once there was a cat.\n\nThen it slept.');
  assert.equal(storyText(messages, false), 'Tell me about a cat. Once there was a cat. Then it slept.');
  assert.equal(storyText([], true), '');
});

test('replyStats/statsText: the reply\'s own tokens and speed, from the server (review n1)', () => {
  const stats = replyStats({ completion_tokens: 96 }, { decode_tokens_per_s: 12.345 });
  assert.deepEqual(stats, { tokens: 96, tokens_per_s: 12.345 });
  assert.equal(statsText(stats), '96 tokens · 12.3 tok/s');
  // One token has no decode rate; missing usage gives nothing rather than a made-up figure.
  assert.equal(statsText(replyStats({ completion_tokens: 1 }, { decode_tokens_per_s: 0 })), '1 token');
  assert.equal(replyStats(null, { decode_tokens_per_s: 5 }), null);
  assert.equal(statsText(replyStats({ completion_tokens: 7 }, null)), '7 tokens');
  assert.equal(statsText(null), '');
});

test('droppedText: a note only when the server left messages out (review n3)', () => {
  assert.equal(droppedText(0), '');
  assert.equal(droppedText(undefined), '');
  assert.match(droppedText(1), /^Written without the first message:/);
  assert.match(droppedText(4), /^Written without the first 4 messages:/);
});

test('countWords counts the words written so far (review n7)', () => {
  assert.equal(countWords(''), 0);
  assert.equal(countWords(' Once upon\na  time, '), 4);
});

test('wordsSoFarText: the count under a reply while it is written', () => {
  assert.equal(wordsSoFarText(''), 'writing… 0 words so far');
  assert.equal(wordsSoFarText('Once'), 'writing… 1 word so far');
  assert.equal(wordsSoFarText('Once upon a'), 'writing… 3 words so far');
});

test('placeholderFor: what to write, per mode, before and after the first turn', () => {
  assert.equal(placeholderFor('chat', false), 'Tell me a story about…');
  assert.equal(placeholderFor('chat', true), 'Ask for another story…');
  assert.equal(placeholderFor('story', false), 'Once upon a time…');
  assert.equal(placeholderFor('story', true), 'What happens next?');
});

test('relativeTime: recent stories by minutes and hours', () => {
  const now = 1_700_000_000_000;
  assert.equal(relativeTime(now - 30_000, now), 'just now');
  assert.equal(relativeTime(now - 5 * 60_000, now), '5 min ago');
  assert.equal(relativeTime(now - 3 * 3_600_000, now), '3 h ago');
});
