import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, buildChatRequest, errorFromResponse, parseRetryAfter, streamChat } from '../../js/api.js';

const encoder = new TextEncoder();

/** A fetch stand-in that answers with the given SSE text in the given chunks. */
function sseFetch(chunks, { status = 200, headers = {} } = {}) {
  const calls = [];
  const impl = async (url, init) => {
    calls.push({ url, init });
    const body = new ReadableStream({
      start(controller) {
        for (const c of chunks) controller.enqueue(encoder.encode(c));
        controller.close();
      },
    });
    return new Response(body, { status, headers: { 'Content-Type': 'text/event-stream', ...headers } });
  };
  return { impl, calls };
}

const chunk = (content, finish = null) =>
  `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }] })}\n\n`;

test('buildChatRequest sends the settings and strips local message fields', () => {
  const body = buildChatRequest('m', [{ role: 'user', content: 'Hi', finish: null }], {
    temperature: 0.5, top_k: 10, top_p: 0.8, max_tokens: 64, seed: null,
  });
  assert.deepEqual(body, {
    model: 'm', messages: [{ role: 'user', content: 'Hi' }], stream: true, stream_options: { include_usage: true },
    max_tokens: 64, temperature: 0.5, top_p: 0.8, top_k: 10,
  });
  assert.equal(buildChatRequest('m', [], { seed: 7 }).seed, 7);
  assert.equal('model' in buildChatRequest(null, [], {}), false, 'unknown model is left out');
  assert.equal('logprobs' in buildChatRequest('m', [], {}), false, 'no logprobs unless peeking');
  const peek = buildChatRequest('m', [], { peek: true });
  assert.equal(peek.logprobs, true);
  assert.equal(peek.top_logprobs, 5);
  // "Continue my story" on a chat model: the server's prompt_format extension.
  assert.equal(buildChatRequest('m', [], {}, { promptFormat: 'story' }).prompt_format, 'story');
  assert.equal('prompt_format' in buildChatRequest('m', [], {}, {}), false);
});

test('streamChat hands the logprobs entries of each chunk to onTokens', async () => {
  const entry = (token) => ({ token, logprob: -1, bytes: [...new TextEncoder().encode(token)], top_logprobs: [] });
  const withLogprobs = (content, tokens) =>
    `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content }, logprobs: { content: tokens }, finish_reason: null }] })}\n\n`;
  const { impl } = sseFetch([withLogprobs('Once', [entry('Once')]), withLogprobs(' upon a', [entry(' upon'), entry(' a')]), chunk(null, 'stop'), 'data: [DONE]\n\n']);
  const got = [];
  await streamChat({ body: {}, onDelta: () => {}, onTokens: (t) => got.push(t.map((e) => e.token)), fetchImpl: impl });
  assert.deepEqual(got, [['Once'], [' upon', ' a']]);
});

test('streamChat delivers deltas in order and the finish reason', async () => {
  const { impl, calls } = sseFetch([chunk('Once'), chunk(' upon').slice(0, 20), chunk(' upon').slice(20), chunk(null, 'length'), 'data: [DONE]\n\n']);
  const deltas = [];
  const result = await streamChat({ body: { a: 1 }, onDelta: (d) => deltas.push(d), fetchImpl: impl });
  assert.deepEqual(deltas, ['Once', ' upon']);
  assert.equal(result.finishReason, 'length');
  assert.equal(calls[0].url, '/v1/chat/completions');
  assert.equal(calls[0].init.method, 'POST');
  assert.deepEqual(JSON.parse(calls[0].init.body), { a: 1 });
  assert.equal(result.timings, null);
});

test('streamChat returns the final usage and timings', async () => {
  const last = `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], timings: { decode_tokens_per_s: 9.5 } })}\n\n`;
  const usage = `data: ${JSON.stringify({ choices: [], usage: { completion_tokens: 3 } })}\n\n`;
  const { impl } = sseFetch([chunk('Hi'), last, usage, 'data: [DONE]\n\n']);
  const result = await streamChat({ body: {}, onDelta: () => {}, fetchImpl: impl });
  assert.deepEqual(result, { finishReason: 'stop', usage: { completion_tokens: 3 }, timings: { decode_tokens_per_s: 9.5 }, droppedMessages: 0 });
});

test('streamChat reports how many old messages the server left out (X-Slm-Dropped-Messages)', async () => {
  const { impl } = sseFetch([chunk('Hi', 'stop'), 'data: [DONE]\n\n'], { headers: { 'X-Slm-Dropped-Messages': '3' } });
  const result = await streamChat({ body: {}, onDelta: () => {}, fetchImpl: impl });
  assert.equal(result.droppedMessages, 3);
});

test('streamChat decodes UTF-8 split across network chunks', async () => {
  const bytes = encoder.encode(chunk('drăgon 🐉') + 'data: [DONE]\n\n');
  const impl = async () =>
    new Response(
      new ReadableStream({
        start(c) {
          for (let i = 0; i < bytes.length; i += 3) c.enqueue(bytes.slice(i, i + 3));
          c.close();
        },
      }),
      { status: 200 },
    );
  const deltas = [];
  await streamChat({ body: {}, onDelta: (d) => deltas.push(d), fetchImpl: impl });
  assert.equal(deltas.join(''), 'drăgon 🐉');
});

test('an error event mid-stream rejects with kind "stream" and keeps earlier text', async () => {
  const { impl } = sseFetch([chunk('A'), 'data: {"error":{"message":"engine crashed","type":"server_error","param":null,"code":"internal"}}\n\n']);
  const deltas = [];
  await assert.rejects(streamChat({ body: {}, onDelta: (d) => deltas.push(d), fetchImpl: impl }), (err) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.kind, 'stream');
    assert.equal(err.message, 'engine crashed');
    return true;
  });
  assert.deepEqual(deltas, ['A']);
});

test('a stream that ends without [DONE] or finish_reason is reported as dropped', async () => {
  const { impl } = sseFetch([chunk('A')]);
  await assert.rejects(streamChat({ body: {}, onDelta: () => {}, fetchImpl: impl }), { kind: 'down' });
});

test('429 becomes a busy error with Retry-After seconds', async () => {
  const impl = async () =>
    new Response(JSON.stringify({ error: { message: 'queue full', type: 'rate_limit_error', param: null, code: 'busy' } }), {
      status: 429,
      headers: { 'Retry-After': '5', 'Content-Type': 'application/json' },
    });
  await assert.rejects(streamChat({ body: {}, onDelta: () => {}, fetchImpl: impl }), (err) => {
    assert.equal(err.kind, 'busy');
    assert.equal(err.status, 429);
    assert.equal(err.retryAfter, 5);
    assert.equal(err.message, 'queue full');
    return true;
  });
});

test('network failure becomes a "down" error; abort stays an AbortError', async () => {
  await assert.rejects(
    streamChat({ body: {}, onDelta: () => {}, fetchImpl: async () => { throw new TypeError('Failed to fetch'); } }),
    { kind: 'down' },
  );
  const controller = new AbortController();
  controller.abort();
  const impl = async (_url, init) => {
    init.signal.throwIfAborted();
    throw new Error('unreachable');
  };
  await assert.rejects(streamChat({ body: {}, signal: controller.signal, onDelta: () => {}, fetchImpl: impl }), { name: 'AbortError' });
});

test('errorFromResponse maps statuses to kinds and tolerates non-JSON bodies', () => {
  assert.equal(errorFromResponse(503, null).kind, 'busy');
  assert.equal(errorFromResponse(400, { error: { message: 'max_tokens too big' } }).message, 'max_tokens too big');
  assert.equal(errorFromResponse(400, null).kind, 'invalid');
  assert.equal(errorFromResponse(401, null).kind, 'auth');
  assert.equal(errorFromResponse(500, 'oops').kind, 'server');
  assert.equal(errorFromResponse(500, 'oops').message, 'HTTP 500');
});

test('parseRetryAfter reads seconds and HTTP dates', () => {
  assert.equal(parseRetryAfter('12'), 12);
  assert.equal(parseRetryAfter(null), null);
  assert.equal(parseRetryAfter('soon'), null);
  const now = Date.parse('2025-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now), 30);
});
