// Sampling settings: defaults, validation and persistence. Values outside the
// ranges the UI offers are clamped rather than sent, so a stale or edited
// localStorage entry can never produce a request the server rejects.

export const SETTINGS_KEY = 'slm.settings.v1';

export const LIMITS = Object.freeze({
  temperature: { min: 0, max: 2, step: 0.05 },
  top_k: { min: 0, max: 200, step: 1 },
  top_p: { min: 0.05, max: 1, step: 0.05 },
  max_tokens: { min: 16, max: 512, step: 16 },
});

export const DEFAULT_SETTINGS = Object.freeze({
  temperature: 0.8,
  top_k: 40,
  // The bundled models' generation.json; Reset uses the server's own (/api/info) when known.
  top_p: 0.95,
  max_tokens: 256,
  seed: null,
  // "Peek inside": ask for token probabilities and show them on the replies.
  peek: false,
});

function clampNumber(value, { min, max, step }, fallback) {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n)) return fallback;
  const clamped = Math.min(max, Math.max(min, n));
  // Snap to the slider grid; rounding keeps 0.1+0.2-style noise out of requests.
  const snapped = min + Math.round((clamped - min) / step) * step;
  return Number(Math.min(max, snapped).toFixed(4));
}

/** The sampling defaults a server reports in `/api/info.defaults`, as UI settings. */
export function serverDefaults(defaults) {
  if (!defaults || typeof defaults !== 'object') return {};
  const out = {};
  for (const name of ['temperature', 'top_p', 'max_tokens']) {
    if (typeof defaults[name] === 'number') out[name] = defaults[name];
  }
  if ('top_k' in defaults) out.top_k = typeof defaults.top_k === 'number' ? defaults.top_k : 0;
  return out;
}

/** True when `value` (a form string) is a seed the server accepts: empty, or a whole number >= 0. */
export function validSeed(value) {
  if (value === null || value === undefined || value === '') return true;
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= 0;
}

/** Returns a complete, valid settings object built from any partial input. */
export function normalizeSettings(input) {
  const src = input && typeof input === 'object' ? input : {};
  const out = {};
  for (const [name, limits] of Object.entries(LIMITS)) {
    out[name] = clampNumber(src[name], limits, DEFAULT_SETTINGS[name]);
  }
  out.peek = src.peek === true;
  out.top_k = Math.round(out.top_k);
  out.max_tokens = Math.round(out.max_tokens);
  const seed = src.seed;
  if (seed === null || seed === undefined || seed === '') {
    out.seed = null;
  } else {
    const n = Number(seed);
    out.seed = Number.isSafeInteger(n) && n >= 0 ? n : null;
  }
  return out;
}

export function loadSettings(storage) {
  try {
    const raw = storage.getItem(SETTINGS_KEY);
    return normalizeSettings(raw ? JSON.parse(raw) : DEFAULT_SETTINGS);
  } catch {
    return normalizeSettings(DEFAULT_SETTINGS);
  }
}

export function saveSettings(storage, settings) {
  try {
    storage.setItem(SETTINGS_KEY, JSON.stringify(normalizeSettings(settings)));
    return true;
  } catch {
    return false; // storage full or disabled: settings still apply for this visit
  }
}
