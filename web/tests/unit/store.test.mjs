import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConversationStore, STORE_KEY, titleFor } from '../../js/store.js';

function memory(initial = {}) {
  const map = new Map(Object.entries(initial));
  return { getItem: (k) => (map.has(k) ? map.get(k) : null), setItem: (k, v) => map.set(k, String(v)), map };
}

function clock(start = 1000) {
  let t = start;
  return () => (t += 1);
}

test('conversations persist across store instances (a page reload)', () => {
  const storage = memory();
  const a = new ConversationStore(storage, { now: clock() });
  const conv = a.create('Once upon a time');
  const i = a.append(conv.id, { role: 'assistant', content: '' });
  a.update(conv.id, i, { content: 'there was a cat.', finish: 'stop' });

  const b = new ConversationStore(storage);
  assert.equal(b.activeId, conv.id);
  assert.deepEqual(b.active().messages, [
    { role: 'user', content: 'Once upon a time', finish: null },
    { role: 'assistant', content: 'there was a cat.', finish: 'stop' },
  ]);
});

test('a reply keeps its figures and how many old messages it was written without', () => {
  const storage = memory();
  const a = new ConversationStore(storage, { now: clock() });
  const conv = a.create('Once upon a time');
  const i = a.append(conv.id, { role: 'assistant', content: '' });
  a.update(conv.id, i, { content: 'a cat.', finish: 'stop', stats: { tokens: 3 }, dropped: 2 });
  const j = a.append(conv.id, { role: 'assistant', content: '' });
  a.update(conv.id, j, { content: 'x', finish: 'stop', stats: 'junk', dropped: -1 });
  const [, first, second] = new ConversationStore(storage).active().messages;
  assert.deepEqual(first, { role: 'assistant', content: 'a cat.', finish: 'stop', stats: { tokens: 3 }, dropped: 2 });
  assert.deepEqual(second, { role: 'assistant', content: 'x', finish: 'stop' });
});

test('list is most recently updated first; remove clears the active one', () => {
  const s = new ConversationStore(memory(), { now: clock() });
  const first = s.create('first');
  const second = s.create('second');
  assert.deepEqual(s.list().map((c) => c.title), ['second', 'first']);
  s.append(first.id, { role: 'assistant', content: 'x' });
  assert.deepEqual(s.list().map((c) => c.title), ['first', 'second']);
  s.setActive(first.id);
  assert.equal(s.remove(first.id), true);
  assert.equal(s.activeId, null);
  assert.equal(s.remove(first.id), false);
  assert.deepEqual(s.list().map((c) => c.id), [second.id]);
});

test('truncate drops the last reply for Regenerate', () => {
  const s = new ConversationStore(memory(), { now: clock() });
  const c = s.create('x');
  s.append(c.id, { role: 'assistant', content: 'y' });
  s.truncate(c.id, 1);
  assert.deepEqual(s.get(c.id).messages.map((m) => m.role), ['user']);
});

test('unknown ids are errors, not silent no-ops', () => {
  const s = new ConversationStore(memory());
  assert.throws(() => s.append('nope', { role: 'user', content: 'x' }), /no conversation with id nope/);
  assert.throws(() => s.setActive('nope'), RangeError);
});

test('corrupt storage is moved aside and reported, and the store starts empty', () => {
  const storage = memory({ [STORE_KEY]: '{"conversations": 5' });
  const errors = [];
  const s = new ConversationStore(storage, { onError: (m) => errors.push(m) });
  assert.equal(s.list().length, 0);
  assert.equal(storage.map.get(`${STORE_KEY}.corrupt`), '{"conversations": 5');
  assert.equal(errors.length, 1);
});

test('malformed entries are skipped, valid ones kept', () => {
  const payload = {
    activeId: 'gone',
    conversations: [
      { id: 'ok', title: 'Fine', createdAt: 1, updatedAt: 2, messages: [{ role: 'user', content: 'hi' }] },
      { id: 'bad', messages: [{ role: 'system', content: 'x' }] },
      { id: 3, messages: [] },
    ],
  };
  const s = new ConversationStore(memory({ [STORE_KEY]: JSON.stringify(payload) }));
  assert.deepEqual(s.list().map((c) => c.id), ['ok']);
  assert.equal(s.activeId, null);
});

test('a full storage reports an error instead of throwing', () => {
  const errors = [];
  const storage = { getItem: () => null, setItem: () => { throw new Error('QuotaExceededError'); } };
  const s = new ConversationStore(storage, { onError: (m) => errors.push(m) });
  s.create('x');
  assert.match(errors[0], /storage is full/);
});

test('titles are flattened and shortened', () => {
  assert.equal(titleFor('  a\n\nb  '), 'a b');
  assert.equal(titleFor(''), 'Untitled story');
  const long = titleFor('x'.repeat(100));
  assert.equal(long.length, 48);
  assert.ok(long.endsWith('…'));
});

test('titles skip the openings every story shares (review m5)', () => {
  assert.equal(titleFor('Once upon a time, there was a little dragon.'), 'There was a little dragon.');
  assert.equal(titleFor('Tell me a story about a brave cat named Max.'), 'A brave cat named Max.');
  assert.equal(titleFor('Please write a short story about the moon'), 'The moon');
  assert.equal(titleFor('Continue this story: Tom and his dog went out.'), 'Tom and his dog went out.');
  // Too little left: the opening stays.
  assert.equal(titleFor('Once upon a time, a cat'), 'Once upon a time, a cat');
  assert.equal(titleFor('One day'), 'One day');
});

test('a story keeps the mode it was written in across reloads', () => {
  const storage = memory();
  const a = new ConversationStore(storage, { now: clock() });
  const asked = a.create('Tell me a story', 'chat');
  const continued = a.create('Tom went out.', 'story');
  const old = a.create('No mode');
  const b = new ConversationStore(storage);
  assert.equal(b.get(asked.id).mode, 'chat');
  assert.equal(b.get(continued.id).mode, 'story');
  assert.equal('mode' in b.get(old.id), false);
  assert.equal('mode' in a.create('x', 'poem'), false, 'unknown modes are not stored');
});

test('removeAt drops one message; replace puts a copy back (Undo)', () => {
  const storage = memory();
  const store = new ConversationStore(storage);
  const conv = store.create('A');
  store.append(conv.id, { role: 'assistant', content: 'B' });
  store.append(conv.id, { role: 'user', content: 'C' });
  const before = store.get(conv.id).messages.map((m) => ({ ...m }));
  store.removeAt(conv.id, 1);
  assert.deepEqual(store.get(conv.id).messages.map((m) => m.content), ['A', 'C']);
  store.replace(conv.id, before);
  before[0].content = 'changed after';
  assert.deepEqual(store.get(conv.id).messages.map((m) => m.content), ['A', 'B', 'C'], 'a copy was stored');
  assert.deepEqual(new ConversationStore(storage).get(conv.id).messages.map((m) => m.content), ['A', 'B', 'C'], 'persisted');
});
