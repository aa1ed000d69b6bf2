// HTTP client for slm-server: the OpenAI-style streaming chat endpoint and the
// info/readiness endpoints. Knows nothing about the DOM.

import { SseParser } from './sse.js';

/** Errors the UI can explain to a visitor; `kind` picks the wording. */
export class ApiError extends Error {
  /**
   * @param {'busy'|'down'|'invalid'|'auth'|'server'|'stream'} kind
   * @param {string} message
   * @param {{status?: number, retryAfter?: number|null, code?: string|null}} [extra]
   */
  constructor(kind, message, extra = {}) {
    super(message);
    this.name = 'ApiError';
    this.kind = kind;
    this.status = extra.status ?? null;
    this.retryAfter = extra.retryAfter ?? null;
    this.code = extra.code ?? null;
  }
}

/** Parses a Retry-After header given in seconds or as an HTTP date. */
export function parseRetryAfter(value, now = Date.now()) {
  if (value == null || value === '') return null;
  const trimmed = String(value).trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

/** Maps an HTTP status and an OpenAI-style error body to an ApiError. */
export function errorFromResponse(status, body, retryAfterHeader) {
  const detail = body && typeof body === 'object' && body.error && typeof body.error === 'object' ? body.error : {};
  const message = typeof detail.message === 'string' && detail.message ? detail.message : `HTTP ${status}`;
  const extra = { status, retryAfter: parseRetryAfter(retryAfterHeader), code: detail.code ?? null };
  if (status === 429 || status === 503) return new ApiError('busy', message, extra);
  if (status === 401 || status === 403) return new ApiError('auth', message, extra);
  if (status === 502 || status === 504) return new ApiError('down', message, extra);
  if (status >= 400 && status < 500) return new ApiError('invalid', message, extra);
  return new ApiError('server', message, extra);
}

/**
 * The JSON body for POST /v1/chat/completions. `settings.seed` is optional:
 * null/undefined means "let the server pick". `promptFormat: 'story'` asks a chat model to
 * continue the messages as one story (the server's `prompt_format` extension).
 */
export function buildChatRequest(model, messages, settings, { promptFormat } = {}) {
  const body = {
    // Unknown model name (info not loaded): leave it out and let the server use its own.
    ...(model ? { model } : {}),
    ...(promptFormat ? { prompt_format: promptFormat } : {}),
    messages: messages.map(({ role, content }) => ({ role, content })),
    stream: true,
    // The last chunk then carries usage: the reply's token count, shown under it.
    stream_options: { include_usage: true },
    max_tokens: settings.max_tokens,
    temperature: settings.temperature,
    top_p: settings.top_p,
    top_k: settings.top_k,
  };
  if (settings.seed != null) body.seed = settings.seed;
  // "Peek inside": each token's probability and the five likeliest alternatives.
  if (settings.peek) {
    body.logprobs = true;
    body.top_logprobs = 5;
  }
  return body;
}

/**
 * Streams one chat completion. Calls `onDelta(text)` for each piece of text (and
 * `onTokens(entries)` with the chunk's `logprobs.content` when the request asked for
 * logprobs) and resolves with `{ finishReason, usage, timings, droppedMessages }`: the server's
 * measurements, and how many of the oldest messages it left out to fit the context. Rejects with ApiError, or with the
 * fetch AbortError when `signal` is aborted (the caller treats that as Stop).
 */
export async function streamChat({ baseUrl = '', body, signal, onDelta, onTokens, fetchImpl = globalThis.fetch }) {
  let response;
  try {
    response = await fetchImpl(`${baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
      body: JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    throw new ApiError('down', 'Could not reach the server.');
  }

  if (!response.ok) {
    let parsed = null;
    try {
      parsed = await response.json();
    } catch {
      // A proxy or a crash may answer with non-JSON; the status still says enough.
    }
    throw errorFromResponse(response.status, parsed, response.headers.get('Retry-After'));
  }
  if (!response.body) throw new ApiError('server', 'The server sent an empty response.');
  const droppedMessages = Number(response.headers.get('X-Slm-Dropped-Messages')) || 0;

  let finishReason = null;
  let usage = null;
  let timings = null;
  let done = false;
  let failure = null;
  const parser = new SseParser(({ data }) => {
    if (done || failure) return;
    if (data === '[DONE]') {
      done = true;
      return;
    }
    let chunk;
    try {
      chunk = JSON.parse(data);
    } catch {
      failure = new ApiError('stream', 'The server sent a malformed event.');
      return;
    }
    if (chunk.error) {
      failure = new ApiError('stream', chunk.error.message || 'Generation failed.', { code: chunk.error.code ?? null });
      return;
    }
    if (chunk.usage) usage = chunk.usage;
    if (chunk.timings) timings = chunk.timings;
    const choice = Array.isArray(chunk.choices) ? chunk.choices[0] : null;
    if (!choice) return;
    const tokens = choice.logprobs?.content;
    if (onTokens && Array.isArray(tokens) && tokens.length) onTokens(tokens);
    const text = choice.delta?.content;
    if (typeof text === 'string' && text.length > 0) onDelta(text);
    if (choice.finish_reason) finishReason = choice.finish_reason;
  });

  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  try {
    // After [DONE] keep reading to the end of the body (the server closes it right away):
    // cancelling would show every finished story as an aborted request in DevTools.
    while (!failure) {
      let result;
      try {
        result = await reader.read();
      } catch (err) {
        if (err?.name === 'AbortError' || signal?.aborted) throw err;
        throw new ApiError('down', 'The connection dropped before the story finished.');
      }
      if (result.done) {
        parser.push(decoder.decode());
        parser.end();
        break;
      }
      parser.push(decoder.decode(result.value, { stream: true }));
    }
  } finally {
    // Stop reading early (an error event, or Stop) without leaving the body open.
    if (failure || signal?.aborted) reader.cancel().catch(() => {});
  }

  if (failure) throw failure;
  if (!done && !finishReason) {
    throw new ApiError('down', 'The connection closed before the story finished.');
  }
  return { finishReason, usage, timings, droppedMessages };
}

/** GET /api/info; resolves to the parsed object or rejects with ApiError. */
export async function fetchInfo({ baseUrl = '', fetchImpl = globalThis.fetch } = {}) {
  let response;
  try {
    response = await fetchImpl(`${baseUrl}/api/info`, { headers: { Accept: 'application/json' } });
  } catch {
    throw new ApiError('down', 'Could not reach the server.');
  }
  if (!response.ok) throw errorFromResponse(response.status, null, response.headers.get('Retry-After'));
  return response.json();
}

/** GET /ready; true when the model is loaded and accepting requests. */
export async function checkReady({ baseUrl = '', fetchImpl = globalThis.fetch } = {}) {
  try {
    const response = await fetchImpl(`${baseUrl}/ready`, { cache: 'no-store' });
    return response.ok;
  } catch {
    return false;
  }
}
