import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SseParser } from '../../js/sse.js';

function parseAll(chunks) {
  const events = [];
  const p = new SseParser((e) => events.push(e));
  for (const c of chunks) p.push(c);
  p.end();
  return events;
}

test('parses data events separated by blank lines', () => {
  const events = parseAll(['data: {"a":1}\n\ndata: [DONE]\n\n']);
  assert.deepEqual(events.map((e) => e.data), ['{"a":1}', '[DONE]']);
});

test('ignores comments (keep-alives) and joins multi-line data', () => {
  const events = parseAll([': keep-alive\n\ndata: one\ndata: two\n\n']);
  assert.deepEqual(events, [{ event: 'message', data: 'one\ntwo' }]);
});

test('handles CRLF split across chunks', () => {
  const events = parseAll(['data: x\r', '\n\r', '\ndata: y\r\n\r\n']);
  assert.deepEqual(events.map((e) => e.data), ['x', 'y']);
});

test('keeps the value verbatim after the single optional space', () => {
  const events = parseAll(['data:  two spaces\n\ndata:none\n\n']);
  assert.deepEqual(events.map((e) => e.data), [' two spaces', 'none']);
});

test('event field names the event and resets after dispatch', () => {
  const events = parseAll(['event: error\ndata: boom\n\ndata: ok\n\n']);
  assert.deepEqual(events, [
    { event: 'error', data: 'boom' },
    { event: 'message', data: 'ok' },
  ]);
});

test('a final event without its trailing blank line is still delivered', () => {
  assert.deepEqual(parseAll(['data: last']).map((e) => e.data), ['last']);
});

test('property: any chunking of a stream yields the same events', () => {
  const payload = fc.string({ unit: 'grapheme' }).map((s) => s.replace(/[\r\n]/g, ' '));
  fc.assert(
    fc.property(
      fc.array(payload, { minLength: 1, maxLength: 8 }),
      fc.constantFrom('\n', '\r\n', '\r'),
      fc.array(fc.nat(), { maxLength: 10 }),
      (datas, eol, cuts) => {
        const stream = datas.map((d) => `data: ${d}${eol}${eol}`).join('');
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const chunks = [];
        let prev = 0;
        for (const p of points) {
          chunks.push(stream.slice(prev, p));
          prev = p;
        }
        chunks.push(stream.slice(prev));
        assert.deepEqual(parseAll(chunks).map((e) => e.data), datas);
      },
    ),
  );
});
