// Conversations kept in localStorage so a visitor can come back to a story.
// Storage is injected (localStorage in the page, a Map-backed fake in tests).
// A corrupt entry is moved aside instead of being silently overwritten.

export const STORE_KEY = 'slm.conversations.v1';
const TITLE_LENGTH = 48;
const MAX_CONVERSATIONS = 50;

let counter = 0;
function newId(now) {
  counter += 1;
  return `c${now.toString(36)}${counter.toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

// Openings most stories and requests share say nothing about which story it is
// (review m5: a list of "Once upon a time, th…").
const STOCK_OPENING =
  /^(?:once upon a time|one day|(?:please |can you |could you )?(?:tell|write|make up)(?: me)? (?:a |an )?(?:little |short )?story(?: about| where)?|continue this story:?)[,.:!]?\s+/i;

export function titleFor(text) {
  const flat = String(text).replace(/\s+/g, ' ').trim();
  if (!flat) return 'Untitled story';
  const rest = flat.replace(STOCK_OPENING, '');
  // Keep the opening when little else is left ("Once upon a time, a cat").
  const core = rest.length >= 8 ? rest.charAt(0).toUpperCase() + rest.slice(1) : flat;
  return core.length > TITLE_LENGTH ? `${core.slice(0, TITLE_LENGTH - 1).trimEnd()}…` : core;
}

/** How a story is written: asked for (chat model) or continued from the visitor's text. */
export const MODES = Object.freeze(['chat', 'story']);

function isMessage(m) {
  return m && (m.role === 'user' || m.role === 'assistant') && typeof m.content === 'string';
}

function isConversation(c) {
  return c && typeof c.id === 'string' && Array.isArray(c.messages) && c.messages.every(isMessage);
}

export class ConversationStore {
  /**
   * @param {Storage} storage
   * @param {{ now?: () => number, onError?: (message: string) => void }} [opts]
   */
  constructor(storage, opts = {}) {
    this.storage = storage;
    this.now = opts.now ?? (() => Date.now());
    this.onError = opts.onError ?? (() => {});
    this.conversations = [];
    this.activeId = null;
    // The mode new stories start in, and whether a continued story reads as one text.
    this.mode = 'chat';
    this.storyView = false;
    this.#load();
  }

  #load() {
    let raw = null;
    try {
      raw = this.storage.getItem(STORE_KEY);
    } catch {
      this.onError('Saved stories are unavailable: browser storage is disabled.');
      return;
    }
    if (!raw) return;
    try {
      const parsed = JSON.parse(raw);
      if (!parsed || !Array.isArray(parsed.conversations)) throw new Error('missing conversations');
      this.conversations = parsed.conversations.filter(isConversation).map((c) => ({
        id: c.id,
        title: typeof c.title === 'string' ? c.title : titleFor(c.messages[0]?.content ?? ''),
        createdAt: Number(c.createdAt) || 0,
        updatedAt: Number(c.updatedAt) || 0,
        // Stories saved before the modes existed have none: they open in the current one.
        ...(MODES.includes(c.mode) ? { mode: c.mode } : {}),
        messages: c.messages.map(({ role, content, finish, tokens, stats, dropped }) => ({
          role,
          content,
          finish: finish ?? null,
          // Tokens and speed of a reply, as the server measured them.
          ...(stats && typeof stats.tokens === 'number' ? { stats } : {}),
          // How many of the oldest messages the server left out when writing it.
          ...(Number.isInteger(dropped) && dropped > 0 ? { dropped } : {}),
          // "Peek inside" token probabilities of a reply, when it was written with them.
          ...(Array.isArray(tokens) ? { tokens } : {}),
        })),
      }));
      this.activeId = this.get(parsed.activeId) ? parsed.activeId : null;
      if (MODES.includes(parsed.mode)) this.mode = parsed.mode;
      this.storyView = parsed.storyView === true;
    } catch {
      try {
        this.storage.setItem(`${STORE_KEY}.corrupt`, raw);
      } catch {
        // Nothing more we can do; starting fresh is still better than crashing.
      }
      this.onError('Your saved stories could not be read, so a fresh list was started.');
    }
  }

  save() {
    const payload = JSON.stringify({
      version: 1,
      activeId: this.activeId,
      mode: this.mode,
      storyView: this.storyView,
      conversations: this.conversations,
    });
    try {
      this.storage.setItem(STORE_KEY, payload);
      return true;
    } catch {
      this.onError('Browser storage is full, so this story was not saved.');
      return false;
    }
  }

  /** Most recently updated first. */
  list() {
    return [...this.conversations].sort((a, b) => b.updatedAt - a.updatedAt);
  }

  get(id) {
    return this.conversations.find((c) => c.id === id) ?? null;
  }

  active() {
    return this.get(this.activeId);
  }

  /** Starts a conversation with its first user message (in `mode`, if given) and makes it active. */
  create(firstMessage, mode) {
    const now = this.now();
    const conv = {
      id: newId(now),
      title: titleFor(firstMessage),
      createdAt: now,
      updatedAt: now,
      ...(MODES.includes(mode) ? { mode } : {}),
      messages: [{ role: 'user', content: firstMessage, finish: null }],
    };
    this.conversations.push(conv);
    // Keep storage bounded: drop the least recently used stories.
    if (this.conversations.length > MAX_CONVERSATIONS) {
      const keep = this.list().slice(0, MAX_CONVERSATIONS);
      this.conversations = this.conversations.filter((c) => keep.includes(c));
    }
    this.activeId = conv.id;
    this.save();
    return conv;
  }

  /** Appends a message and returns its index. */
  append(id, message) {
    const conv = this.#require(id);
    conv.messages.push({ role: message.role, content: message.content, finish: message.finish ?? null });
    conv.updatedAt = this.now();
    this.save();
    return conv.messages.length - 1;
  }

  update(id, index, patch) {
    const conv = this.#require(id);
    const msg = conv.messages[index];
    if (!msg) throw new RangeError(`conversation ${id} has no message ${index}`);
    Object.assign(msg, patch);
    conv.updatedAt = this.now();
    this.save();
  }

  /** Puts back a copy of earlier messages (Undo). */
  replace(id, messages) {
    const conv = this.#require(id);
    conv.messages = messages.map((m) => ({ ...m }));
    conv.updatedAt = this.now();
    this.save();
  }

  /** Removes the one message at `index`. */
  removeAt(id, index) {
    const conv = this.#require(id);
    conv.messages.splice(index, 1);
    conv.updatedAt = this.now();
    this.save();
  }

  /** Removes messages from `index` on (used by Regenerate). */
  truncate(id, index) {
    const conv = this.#require(id);
    conv.messages.length = Math.max(0, Math.min(index, conv.messages.length));
    conv.updatedAt = this.now();
    this.save();
  }

  setActive(id) {
    this.activeId = id === null ? null : this.#require(id).id;
    this.save();
  }

  /** Puts a removed conversation back (Undo of a delete). */
  restore(conv) {
    if (this.get(conv.id)) return;
    this.conversations.push({ ...conv, messages: conv.messages.map((m) => ({ ...m })) });
    this.save();
  }

  remove(id) {
    const before = this.conversations.length;
    this.conversations = this.conversations.filter((c) => c.id !== id);
    if (this.conversations.length === before) return false;
    if (this.activeId === id) this.activeId = null;
    this.save();
    return true;
  }

  #require(id) {
    const conv = this.get(id);
    if (!conv) throw new RangeError(`no conversation with id ${id}`);
    return conv;
  }
}
