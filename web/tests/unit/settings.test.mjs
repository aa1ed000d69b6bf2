import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFAULT_SETTINGS, LIMITS, SETTINGS_KEY, loadSettings, normalizeSettings, saveSettings, serverDefaults, validSeed } from '../../js/settings.js';

function memory(initial = {}) {
  const map = new Map(Object.entries(initial));
  return { getItem: (k) => (map.has(k) ? map.get(k) : null), setItem: (k, v) => map.set(k, String(v)), map };
}

test('defaults are valid and survive normalisation unchanged', () => {
  assert.deepEqual(normalizeSettings(DEFAULT_SETTINGS), { ...DEFAULT_SETTINGS });
});

test('form strings become numbers; empty seed means random', () => {
  const s = normalizeSettings({ temperature: '1.2', top_k: '7', top_p: '0.5', max_tokens: '64', seed: '' });
  assert.deepEqual(s, { temperature: 1.2, top_k: 7, top_p: 0.5, max_tokens: 64, seed: null, peek: false });
  assert.equal(normalizeSettings({ peek: true }).peek, true);
  assert.equal(normalizeSettings({ peek: 'yes' }).peek, false, 'only a real true turns peeking on');
  assert.equal(normalizeSettings({ seed: '42' }).seed, 42);
  assert.equal(normalizeSettings({ seed: '-1' }).seed, null);
  assert.equal(normalizeSettings({ seed: '1.5' }).seed, null);
});

test('property: any input yields settings inside the limits', () => {
  fc.assert(
    fc.property(fc.dictionary(fc.constantFrom('temperature', 'top_k', 'top_p', 'max_tokens', 'seed'), fc.oneof(fc.double(), fc.string(), fc.integer(), fc.constant(null))), (input) => {
      const s = normalizeSettings(input);
      for (const [name, { min, max }] of Object.entries(LIMITS)) {
        assert.ok(Number.isFinite(s[name]) && s[name] >= min && s[name] <= max, `${name}=${s[name]}`);
      }
      assert.ok(Number.isInteger(s.top_k) && Number.isInteger(s.max_tokens));
      assert.ok(s.seed === null || (Number.isSafeInteger(s.seed) && s.seed >= 0));
    }),
  );
});

test('load falls back to defaults on corrupt storage; save round-trips', () => {
  assert.deepEqual(loadSettings(memory({ [SETTINGS_KEY]: '{not json' })), { ...DEFAULT_SETTINGS });
  const storage = memory();
  assert.equal(saveSettings(storage, { ...DEFAULT_SETTINGS, temperature: 1.5, seed: 3 }), true);
  assert.deepEqual(loadSettings(storage), { ...DEFAULT_SETTINGS, temperature: 1.5, seed: 3 });
});

test('save reports failure when storage throws (quota)', () => {
  const storage = { getItem: () => null, setItem: () => { throw new Error('QuotaExceededError'); } };
  assert.equal(saveSettings(storage, DEFAULT_SETTINGS), false);
});

test('server defaults become UI settings; seeds the server refuses are recognised', () => {
  assert.deepEqual(serverDefaults({ max_tokens: 200, temperature: 0.8, top_p: 0.95, top_k: null }), {
    temperature: 0.8, top_p: 0.95, max_tokens: 200, top_k: 0,
  });
  assert.deepEqual(serverDefaults(undefined), {});
  assert.equal(normalizeSettings({ ...DEFAULT_SETTINGS, ...serverDefaults({ top_p: 0.95 }) }).top_p, 0.95);
  for (const ok of ['', '0', '42', null]) assert.equal(validSeed(ok), true, String(ok));
  for (const bad of ['-5', '1.5', 'abc', '1e400']) assert.equal(validSeed(bad), false, bad);
});
