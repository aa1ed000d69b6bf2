import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeInfo, formatBytes, formatCount, formatRate } from '../../js/format.js';
import { describeError } from '../../js/notice.js';

test('counts, bytes and rates read naturally', () => {
  assert.equal(formatCount(15191712), '15.2M');
  assert.equal(formatCount(15000000), '15M');
  assert.equal(formatCount(1234), '1,234');
  assert.equal(formatBytes(30400000), '30.4 MB');
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatRate(412.5, 'tok/s'), '413 tok/s');
  assert.equal(formatRate(12.34, 'ms'), '12.3 ms');
});

test('missing measurements say so instead of showing zero', () => {
  assert.equal(formatRate(null, 'ms'), 'measuring…');
  assert.equal(formatCount(undefined), '—');
  assert.equal(formatBytes(NaN), '—');
});

test('describeInfo turns /api/info into display strings', () => {
  const text = describeInfo({
    model: 'tinystories-15m', parameters: 15191712, weights_bytes: 30400000, dtype: 'f16', context_length: 512,
    vocab_size: 32000, layers: 6, dim: 288, heads: 6, decode_tokens_per_s: null, ttft_ms_p50: 12.3,
    single_stream_decode_tokens_per_s: 512.4,
  });
  assert.equal(text.single_stream_decode_tokens_per_s, '512 tok/s');
  assert.equal(describeInfo({ single_stream_decode_tokens_per_s: null }).single_stream_decode_tokens_per_s, '—');
  assert.equal(text.parameters, '15.2M');
  assert.equal(text.architecture, '6 × 288');
  assert.equal(text.context_length, '512 tokens');
  assert.equal(text.vocab_size, '32,000-token vocabulary');
  assert.equal(text.decode_tokens_per_s, 'measuring…');
  assert.equal(text.recent_decode, 'No stories written here yet, so no recent average.');
  assert.match(describeInfo({ decode_tokens_per_s: 5.57 }).recent_decode, /lately got 5\.57 tok\/s each on average: less while several/);
  assert.equal(text.ttft_ms_p50, '12.3 ms');
  assert.equal(describeInfo({}).architecture, '—');
});

test('error notices: busy mentions the wait, down says what to check', () => {
  assert.match(describeError({ kind: 'busy', message: 'x', retryAfter: 4 }).text, /in 4 s/);
  assert.match(describeError({ kind: 'busy', message: 'x' }).text, /in a moment/);
  const down = describeError({ kind: 'down', message: 'Could not reach the server.' });
  assert.match(down.title, /reach the story writer/);
  assert.doesNotMatch(down.text, /slm-server/, 'visitor wording, not operator wording');
  const cut = describeError({ kind: 'down', message: 'x', partial: true });
  assert.match(cut.title, /cut off/);
  assert.equal(describeError({ kind: 'invalid', message: 'prompt too long' }).text, 'prompt too long');
  const tooLong = describeError({ kind: 'invalid', code: 'context_length_exceeded', message: 'Reduce max_tokens.' });
  assert.match(tooLong.title, /too long/);
  assert.doesNotMatch(tooLong.text, /max_tokens/, 'no raw server jargon');
  assert.match(tooLong.text, /^The model reads at most 512 tokens.*back in the box/);
});
