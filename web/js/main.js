// Page entry point: wires the background, the live model numbers, the
// settings panel and the chat together. No framework and no build step.

import { checkReady, fetchInfo } from './api.js';
import { createBackground } from './background.js';
import { ChatController } from './chat.js';
import { describeInfo } from './format.js';
import { DEFAULT_SETTINGS, LIMITS, loadSettings, normalizeSettings, saveSettings, serverDefaults, validSeed } from './settings.js';
import { ConversationStore } from './store.js';

function memoryStorage() {
  // Private modes can throw on localStorage access; keep the page working.
  const map = new Map();
  return {
    getItem: (k) => (map.has(k) ? map.get(k) : null),
    setItem: (k, v) => map.set(k, String(v)),
    removeItem: (k) => map.delete(k),
  };
}

function pickStorage() {
  try {
    const probe = '__slm_probe__';
    window.localStorage.setItem(probe, '1');
    window.localStorage.removeItem(probe);
    return window.localStorage;
  } catch {
    return memoryStorage();
  }
}

const storage = pickStorage();
let info = null;

// ---- background -------------------------------------------------------------

const background = createBackground(document.getElementById('bg'), {
  reducedMotion: window.matchMedia('(prefers-reduced-motion: reduce)'),
  stage: document.querySelector('.hero'),
});

// ---- calls to action -----------------------------------------------------------

// A smooth scroll aims at where the composer was when it began: if the page moves while it
// runs (live numbers arriving just after load), land on the composer when it ends.
function showComposer() {
  const composer = document.getElementById('composer');
  const outOfView = () => {
    const { top, bottom } = composer.getBoundingClientRect();
    return top < 0 || bottom > window.innerHeight + 1;
  };
  if (!outOfView()) return;
  composer.scrollIntoView({ block: 'end' });
  const deadline = performance.now() + 3000; // only this scroll's end, not a later one of the reader's
  const land = () => {
    if (performance.now() < deadline && outOfView()) composer.scrollIntoView({ block: 'end', behavior: 'instant' });
  };
  window.addEventListener('scrollend', land, { once: true });
}

// "Start a story", "Try it" and the skip link land on the text box: focused, and scrolled
// so the composer sits at the bottom of the view with the conversation above it.
for (const link of document.querySelectorAll('a[href="#chat"]')) {
  link.addEventListener('click', (event) => {
    event.preventDefault();
    showComposer();
    document.getElementById('prompt').focus({ preventScroll: true });
    window.history.replaceState(null, '', '#chat');
  });
}

// ---- server status and live numbers ------------------------------------------

const statusEl = document.getElementById('server-status');
function setStatus(state, label) {
  statusEl.dataset.state = state;
  statusEl.textContent = label;
  statusEl.setAttribute('aria-label', `Server status: ${label}`);
}

async function refreshStatus() {
  const ready = await checkReady();
  setStatus(ready ? 'ready' : 'down', ready ? 'model ready' : 'server unavailable');
  return ready;
}

function renderInfo(data) {
  // A chat model is asked for stories or continues them; a base model only continues.
  chat.setChatModel(data.chat_format === true);
  const text = describeInfo(data);
  for (const node of document.querySelectorAll('[data-info]')) {
    const key = node.dataset.info;
    if (key in text) node.textContent = text[key];
    if (key in data && data[key] !== null) node.dataset.raw = String(data[key]);
  }
  for (const node of document.querySelectorAll('[data-info-note="model"]')) node.textContent = text.model;
}

async function refreshInfo() {
  const stats = document.getElementById('stats');
  const errorEl = document.getElementById('info-error');
  try {
    info = await fetchInfo();
    renderInfo(info);
    if (replyCap()) {
      const slider = document.getElementById('set-max_tokens');
      slider.max = String(Math.max(Number(slider.min), Math.min(LIMITS.max_tokens.max, replyCap())));
    }
    errorEl.hidden = true;
  } catch (err) {
    errorEl.textContent = `Live numbers are unavailable right now (${err.message}).`;
    errorEl.hidden = false;
    // The hero has no room for the About card's explanation: say it there too (review m2).
    for (const node of document.querySelectorAll('.hero [data-info]')) {
      if (!info) node.textContent = 'unavailable';
    }
  } finally {
    stats.setAttribute('aria-busy', 'false');
  }
}

// The prompt and the reply share the model's context window; keeping replies
// to half of it leaves the other half for the story so far.
function replyCap() {
  return typeof info?.context_length === 'number' && info.context_length > 0 ? Math.floor(info.context_length / 2) : null;
}

// ---- settings panel ------------------------------------------------------------

let settings = loadSettings(storage);
const settingsForm = document.getElementById('settings');
const settingsToggle = document.getElementById('settings-toggle');

function showSettings() {
  for (const name of Object.keys(LIMITS)) {
    document.getElementById(`set-${name}`).value = String(settings[name]);
    document.getElementById(`out-${name}`).textContent =
      name === 'top_k' && settings.top_k === 0 ? 'off' : String(settings[name]);
  }
  document.getElementById('set-seed').value = settings.seed === null ? '' : String(settings.seed);
}

settingsForm.addEventListener('input', () => {
  const raw = Object.fromEntries(new FormData(settingsForm));
  // A seed the server would refuse is not silently replaced by a random one (review m3).
  const seedInput = document.getElementById('set-seed');
  const seedOk = validSeed(raw.seed);
  seedInput.setCustomValidity(seedOk ? '' : 'The seed must be a whole number of 0 or more.');
  seedInput.setAttribute('aria-invalid', String(!seedOk));
  document.getElementById('seed-help').textContent = seedOk
    ? 'Fix it to get the same story again.'
    : 'A seed is a whole number of 0 or more; until then a random one is used.';
  settings = normalizeSettings({ ...settings, ...raw });
  saveSettings(storage, settings);
  for (const name of Object.keys(LIMITS)) {
    document.getElementById(`out-${name}`).textContent =
      name === 'top_k' && settings.top_k === 0 ? 'off' : String(settings[name]);
  }
});
settingsForm.addEventListener('submit', (e) => e.preventDefault());
document.getElementById('settings-reset').addEventListener('click', () => {
  // The server's defaults (its model's generation.json) when known, so Reset matches the API.
  settings = normalizeSettings({ ...DEFAULT_SETTINGS, ...serverDefaults(info?.defaults), peek: settings.peek });
  saveSettings(storage, settings);
  showSettings();
  settingsForm.dispatchEvent(new Event('input')); // clears a seed warning too
});
function setSettingsOpen(open) {
  settingsForm.hidden = !open;
  settingsToggle.setAttribute('aria-expanded', String(open));
}
settingsToggle.addEventListener('click', () => {
  const open = settingsForm.hidden;
  setSettingsOpen(open);
  if (open) document.getElementById('set-temperature').focus();
});
document.getElementById('settings-done').addEventListener('click', () => {
  setSettingsOpen(false);
  settingsToggle.focus();
});
// Esc closes the panel and returns to its toggle (review m3).
settingsForm.addEventListener('keydown', (event) => {
  if (event.key !== 'Escape') return;
  event.preventDefault();
  setSettingsOpen(false);
  settingsToggle.focus();
});
showSettings();

// ---- chat --------------------------------------------------------------------

const store = new ConversationStore(storage, {
  onError: (message) => {
    document.getElementById('chat-status').textContent = message;
  },
});

const chat = new ChatController({
  store,
  getSettings: () => (replyCap() ? { ...settings, max_tokens: Math.min(settings.max_tokens, replyCap()) } : settings),
  getModel: () => info?.model ?? null,
  onActivity: (active) => background.setActive(active),
  onToken: () => background.pulse(),
  // Speed and latency are measured by the server as it serves; show fresh ones.
  onFinished: () => {
    refreshInfo();
    refreshStatus();
  },
  onNetworkError: () => refreshStatus(),
});

// "Peek inside": token probabilities on the replies (a sampling setting, so it persists).
const peekToggle = document.getElementById('peek-toggle');
function showPeek() {
  peekToggle.setAttribute('aria-pressed', String(settings.peek));
  document.getElementById('peek-legend').hidden = !settings.peek;
}
peekToggle.addEventListener('click', () => {
  settings = normalizeSettings({ ...settings, peek: !settings.peek });
  saveSettings(storage, settings);
  showPeek();
  chat.renderMessages();
});
showPeek();

// Independent: /api/info may answer while the model is still loading.
refreshStatus();
refreshInfo();
// Keep the status pill true while the page sits open (review m1).
setInterval(() => {
  if (!document.hidden) refreshStatus();
}, 30_000);
