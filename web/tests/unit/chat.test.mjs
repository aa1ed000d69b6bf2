import { test } from 'node:test';
import assert from 'node:assert/strict';
import { storyText } from '../../js/chat.js';

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
