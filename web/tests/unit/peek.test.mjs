import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compactToken, percent, pieces, showToken } from '../../js/peek.js';

const tok = (t, p, bytes = [...new TextEncoder().encode(t)], top = []) => ({ t, b: bytes, p, top });

test('compactToken keeps text, bytes, rounded logprobs and the alternatives in order', () => {
  const c = compactToken({
    token: ' cat', logprob: -0.12345, bytes: [32, 99, 97, 116],
    top_logprobs: [{ token: ' cat', logprob: -0.12345, bytes: [] }, { token: ' dog', logprob: -2.5, bytes: [] }],
  });
  assert.deepEqual(c, { t: ' cat', b: [32, 99, 97, 116], p: -0.123, top: [[' cat', -0.123], [' dog', -2.5]] });
});

test('pieces join a character split over tokens and multiply their probabilities', () => {
  const smile = [...new TextEncoder().encode('🙂')];
  const out = pieces([
    tok(' Hi', -0.5, undefined, [[' Hi', -0.5]]),
    tok('\uFFFD', -1, smile.slice(0, 2), [['x', -0.2]]),
    tok('\uFFFD', -2, smile.slice(2)),
    tok('!', -0.1),
  ]);
  assert.deepEqual(out.map((p) => p.text), [' Hi', '🙂', '!']);
  assert.equal(out[1].logprob, -3, 'log-probabilities add');
  assert.deepEqual(out[1].top, [['x', -0.2]], 'alternatives of the first token');
  // A dangling partial character at the end still becomes a (replacement) piece.
  assert.equal(pieces([tok('\uFFFD', -1, smile.slice(0, 1))]).length, 1);
  // Tokens stored without bytes are taken as text.
  assert.deepEqual(pieces([{ t: 'a', b: null, p: -1, top: [] }]).map((p) => p.text), ['a']);
});

test('percent and showToken stay readable at the extremes', () => {
  assert.equal(percent(0), '>99.9%');
  assert.equal(percent(Math.log(0.42)), '42%');
  assert.equal(percent(Math.log(0.031)), '3.1%');
  assert.equal(percent(-20), '<0.1%');
  assert.equal(showToken(' the\n'), '␣the⏎');
  assert.equal(showToken(''), '∅');
});

test('renderTokens follows the text through trimmed and collapsed whitespace', async () => {
  // A minimal DOM: spans and text nodes are all renderTokens builds.
  const made = [];
  globalThis.document = {
    createElement: () => {
      const node = { nodeType: 1, style: { setProperty() {} }, dataset: {}, textContent: '' };
      made.push(node);
      return node;
    },
    createTextNode: (data) => ({ nodeType: 3, data }),
  };
  const { renderTokens } = await import('../../js/peek.js');
  const el = { children: [], replaceChildren(...n) { this.children = n; }, classList: { add() {} } };
  const toks = [' Once', ' upon', '\n\n\n\n', 'The', ' end', '  '].map((t) => tok(t, -1));
  const spans = renderTokens(el, 'Once upon\n\nThe end', toks);
  assert.deepEqual(el.children.filter((n) => n.nodeType === 1).map((n) => n.textContent), ['Once', ' upon', '\n\n', 'The', ' end']);
  assert.equal(spans, 5);
  delete globalThis.document;
});

test('bytes that never form a character become one replacement each, like the server text', () => {
  const out = pieces([tok('\uFFFD', -1, [176]), tok('\uFFFD', -1, [219]), tok(' with', -1)]);
  assert.deepEqual(out.map((p) => p.text), ['\uFFFD', '\uFFFD', ' with']);
});
