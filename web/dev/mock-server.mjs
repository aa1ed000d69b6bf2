// Development-only stand-in for slm-server, for working on the UI without
// building the Rust workspace: serves web/ and fakes the API with canned
// words at a steady pace. The committed browser tests never use it; they run
// against the real slm-server (see scripts/web-test.sh).
//
//   node dev/mock-server.mjs [port]

import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const port = Number(process.argv[2] ?? 8090);
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.json': 'application/json' };
const WORDS = 'once upon a time there was a little girl named Lily she liked to play in the park with her dog one day they found a big red ball and'.split(' ');

const info = {
  model: 'mock-model', parameters: 15191712, weights_bytes: 30400000, dtype: 'f16', context_length: 512,
  vocab_size: 32000, layers: 6, dim: 288, heads: 6, max_batch: 16, decode_tokens_per_s: null, ttft_ms_p50: null,
};

function json(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function chat(req, res) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  const body = JSON.parse(raw);
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
  let closed = false;
  res.on('close', () => { closed = true; });
  const n = Math.min(body.max_tokens ?? 64, 200);
  await new Promise((r) => setTimeout(r, 400));
  for (let i = 0; i < n && !closed; i++) {
    const word = (i === 0 ? '' : ' ') + WORDS[i % WORDS.length];
    res.write(`data: ${JSON.stringify({ id: 'mock', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: word }, finish_reason: null }] })}\n\n`);
    await new Promise((r) => setTimeout(r, 30));
  }
  if (closed) return;
  info.decode_tokens_per_s = 33.3;
  info.ttft_ms_p50 = 400;
  res.write(`data: ${JSON.stringify({ id: 'mock', object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'length' }] })}\n\n`);
  res.end('data: [DONE]\n\n');
}

createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/api/info') return json(res, 200, info);
  if (url.pathname === '/ready' || url.pathname === '/health') return json(res, 200, { status: 'ok' });
  if (url.pathname === '/v1/models') return json(res, 200, { object: 'list', data: [{ id: info.model, object: 'model' }] });
  if (url.pathname === '/v1/chat/completions' && req.method === 'POST') return chat(req, res);
  const path = normalize(join(root, url.pathname === '/' ? 'index.html' : url.pathname));
  if (!path.startsWith(root) || path.includes('node_modules')) return json(res, 404, { error: { message: 'not found' } });
  try {
    const data = await readFile(path);
    res.writeHead(200, { 'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream' });
    res.end(data);
  } catch {
    json(res, 404, { error: { message: 'not found' } });
  }
}).listen(port, '127.0.0.1', () => console.log(`mock slm-server on http://127.0.0.1:${port}/`));
