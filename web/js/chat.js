// The chat panel: conversation list, message bubbles, composer, streaming,
// Stop/Regenerate/Copy and error notices. Talks to the server through api.js
// and persists through store.js; never builds HTML from text (XSS-safe).

import { ApiError, buildChatRequest, streamChat } from './api.js';
import { describeError } from './notice.js';
import { attachTokenTip, compactToken, renderTokens } from './peek.js';
import { formatRate } from './format.js';

/**
 * What one reply cost, from the server's own measurements: more honest than a
 * page-wide figure. Null when they are missing.
 */
export function replyStats(usage, timings) {
  const tokens = usage?.completion_tokens;
  if (typeof tokens !== 'number' || tokens <= 0) return null;
  const rate = timings?.decode_tokens_per_s;
  return {
    tokens,
    ...(typeof rate === 'number' && Number.isFinite(rate) && tokens > 1 ? { tokens_per_s: rate } : {}),
  };
}

/** Under a reply written after the server left the story's oldest messages out. */
export function droppedText(n) {
  if (!(n > 0)) return '';
  return `Written without the first ${n === 1 ? 'message' : `${n} messages`}: the story is now longer than the model can read at once.`;
}

export function countWords(text) {
  return text.split(/\s+/).filter(Boolean).length;
}

/** "96 tokens · 12.3 tok/s" */
export function statsText(stats) {
  if (!stats) return '';
  const count = `${stats.tokens} token${stats.tokens === 1 ? '' : 's'}`;
  return typeof stats.tokens_per_s === 'number' ? `${count} · ${formatRate(stats.tokens_per_s, 'tok/s')}` : count;
}

const ICONS = {
  copy: 'M9 9h10v10H9zM5 15V5h10',
  regenerate: 'M4 12a8 8 0 0 1 13.7-5.6M20 4v5h-5M20 12a8 8 0 0 1-13.7 5.6M4 20v-5h5',
  continue: 'M5 12h11m-4-5 5 5-5 5M19 6v12',
  trash: 'M5 7h14M10 7V5h4v2M7 7l1 12h8l1-12',
  edit: 'M4 20h4L19 9l-4-4L4 16zM13.5 6.5l4 4',
};

/** A small labelled button with an icon, as on every message. */
function chip(iconName, label, ariaLabel, onClick) {
  const button = el('button', `chip-btn msg-${iconName}`);
  button.type = 'button';
  button.append(icon(iconName), el('span', '', label));
  button.setAttribute('aria-label', ariaLabel);
  button.addEventListener('click', onClick);
  return button;
}

/**
 * The story as text: in the chat format the replies (each a story) separated by blank
 * lines; a continued story is one text, its pieces joined with single spaces (as the server
 * joins them for the model).
 */
export function storyText(messages, chatFormat) {
  const parts = messages.filter((m) => m.content.trim() && (!chatFormat || m.role === 'assistant'));
  return parts.map((m) => m.content.trim()).join(chatFormat ? '\n\n' : ' ');
}

function icon(name) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', ICONS[name]);
  path.setAttribute('fill', 'none');
  path.setAttribute('stroke', 'currentColor');
  path.setAttribute('stroke-width', '2');
  path.setAttribute('stroke-linecap', 'round');
  path.setAttribute('stroke-linejoin', 'round');
  svg.append(path);
  return svg;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function relativeTime(ts, now = Date.now()) {
  const s = Math.round((now - ts) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(ts).toLocaleDateString();
}

async function copyText(text) {
  if (navigator.clipboard?.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Permission denied: fall through to the selection-based copy.
    }
  }
  const area = el('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

export class ChatController {
  /**
   * @param {{ store: import('./store.js').ConversationStore, getSettings: () => object,
   *   getModel: () => string, onActivity?: (active: boolean) => void, onToken?: () => void,
   *   onFinished?: () => void, onNetworkError?: () => void }} deps
   */
  constructor(deps) {
    this.deps = deps;
    this.store = deps.store;
    this.controller = null; // AbortController of the running request
    this.retry = null;
    this.countdown = 0;
    const $ = (id) => document.getElementById(id);
    this.dom = {
      list: $('conversation-list'),
      listEmpty: $('conversation-empty'),
      messages: $('messages'),
      empty: $('empty-state'),
      title: $('active-title'),
      form: $('composer'),
      prompt: $('prompt'),
      hint: $('composer-hint'),
      send: $('send'),
      stop: $('stop'),
      newChat: $('new-chat'),
      notice: $('notice'),
      noticeTitle: $('notice-title'),
      noticeText: $('notice-text'),
      noticeRetry: $('notice-retry'),
      noticeDismiss: $('notice-dismiss'),
      status: $('chat-status'),
      tip: $('token-tip'),
      copyStory: $('copy-story'),
      undoBar: $('undo-bar'),
      undoText: $('undo-text'),
      undo: $('undo'),
      modeSwitch: $('mode-switch'),
      storyView: $('story-view-toggle'),
    };
    // Whether the model can be asked for stories (a chat model); until /api/info says so,
    // only "continue my story" is offered.
    this.chatModel = false;
    this.tip = attachTokenTip(this.dom.messages, this.dom.tip);
    // The hint line's usual content (keyboard help), restored when a long message is shortened.
    this.hintDefault = [...this.dom.hint.childNodes].map((node) => node.cloneNode(true));
    this.#bind();
    this.renderList();
    this.renderMessages();
    this.#showStoryView();
  }

  // ---- modes: "Ask for a story" (chat) and "Continue my story" (story) --------------

  /** The open story's mode, else the one new stories start in; always "story" for a base model. */
  get mode() {
    if (!this.chatModel) return 'story';
    return this.store.active()?.mode ?? this.store.mode;
  }

  /** A chat model offers both modes; a base model only continues stories. */
  setChatModel(on) {
    this.chatModel = on;
    this.dom.modeSwitch.hidden = !on;
    this.#applyMode();
  }

  /** The visitor picked a mode: a story already under way in the other mode stays as it is. */
  chooseMode(mode) {
    if (!this.chatModel || mode === this.mode) return;
    this.store.mode = mode;
    this.store.save();
    const conv = this.store.active();
    if (conv?.messages.length) {
      this.newChat();
      this.announce(mode === 'chat' ? 'New story: ask for a story.' : 'New story: write its beginning.');
    } else {
      this.#applyMode();
    }
  }

  #applyMode() {
    const mode = this.mode;
    document.body.dataset.mode = mode;
    for (const radio of this.dom.modeSwitch.querySelectorAll('input')) radio.checked = radio.value === mode;
    const started = Boolean(this.store.active()?.messages.length);
    const placeholders = {
      chat: started ? 'Ask for another story, or for a change to this one…' : 'Tell me a story about…',
      story: started ? 'What happens next?' : 'Once upon a time…',
    };
    this.dom.prompt.placeholder = placeholders[mode];
  }

  /** "Read as one story": a continued story's pieces flow as one text (review m6). */
  #showStoryView() {
    this.dom.storyView.setAttribute('aria-pressed', String(this.store.storyView));
    if (this.store.storyView) this.dom.messages.dataset.view = 'story';
    else delete this.dom.messages.dataset.view;
  }

  get generating() {
    return this.controller !== null;
  }

  #bind() {
    const d = this.dom;
    d.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.send();
    });
    d.prompt.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.send();
      } else if (e.key === 'Escape' && this.generating) {
        this.stop();
      }
    });
    d.prompt.addEventListener('input', () => {
      this.#autosize();
      this.#updateLength();
    });
    this.#updateLength();
    d.stop.addEventListener('click', () => this.stop());
    d.newChat.addEventListener('click', () => this.newChat());
    d.noticeRetry.addEventListener('click', () => {
      const retry = this.retry;
      this.hideNotice();
      if (retry) retry();
    });
    d.noticeDismiss.addEventListener('click', () => this.hideNotice());
    d.undo.addEventListener('click', () => this.undo());
    d.modeSwitch.addEventListener('change', (e) => this.chooseMode(e.target.value));
    d.storyView.addEventListener('click', () => {
      this.store.storyView = !this.store.storyView;
      this.store.save();
      this.#showStoryView();
    });
    d.copyStory.addEventListener('click', async () => {
      const conv = this.store.active();
      const text = conv ? storyText(conv.messages, this.mode === 'chat') : '';
      const ok = text !== '' && (await copyText(text));
      this.announce(ok ? 'The whole story is on the clipboard.' : 'There is no story to copy yet.');
    });
    for (const button of d.empty.querySelectorAll('.suggestion')) {
      button.addEventListener('click', () => {
        d.prompt.value = button.textContent.trim();
        this.#autosize();
        this.#updateLength();
        d.prompt.focus();
        d.prompt.setSelectionRange(d.prompt.value.length, d.prompt.value.length);
      });
    }
  }

  #autosize() {
    const p = this.dom.prompt;
    p.style.height = 'auto';
    p.style.height = `${Math.min(p.scrollHeight, 200)}px`;
  }

  announce(text) {
    this.dom.status.textContent = text;
  }

  // ---- conversation list ----------------------------------------------------

  renderList() {
    const { list, listEmpty } = this.dom;
    const conversations = this.store.list();
    list.replaceChildren(
      ...conversations.map((conv) => {
        const item = el('li', 'conversation');
        const open = el('button', 'conversation-open');
        open.type = 'button';
        open.dataset.id = conv.id;
        if (conv.id === this.store.activeId) open.setAttribute('aria-current', 'true');
        open.title = conv.title;
        open.append(el('span', 'conversation-title', conv.title), el('span', 'conversation-time', relativeTime(conv.updatedAt)));
        open.addEventListener('click', () => this.open(conv.id));
        const del = el('button', 'icon-btn conversation-delete');
        del.type = 'button';
        del.setAttribute('aria-label', `Delete story “${conv.title}”`);
        del.title = 'Delete story';
        del.append(icon('trash'));
        del.addEventListener('click', () => this.remove(conv.id));
        item.append(open, del);
        return item;
      }),
    );
    listEmpty.hidden = conversations.length > 0;
  }

  open(id) {
    if (this.generating) this.stop();
    this.hideNotice();
    this.store.setActive(id);
    this.renderList();
    this.renderMessages();
    this.dom.prompt.focus();
  }

  newChat() {
    if (this.generating) this.stop();
    this.hideNotice();
    this.store.setActive(null);
    this.renderList();
    this.renderMessages();
    this.dom.prompt.focus();
  }

  remove(id) {
    const wasActive = this.store.activeId === id;
    if (wasActive && this.generating) this.stop();
    const conv = this.store.get(id);
    if (!this.store.remove(id)) return;
    // Deleting is one click, so it can be undone (review m5).
    this.#offerUndo(`Deleted “${conv.title}”.`, () => {
      this.store.restore(conv);
      if (wasActive) this.store.setActive(conv.id);
    });
    this.renderList();
    if (wasActive) {
      this.hideNotice();
      this.renderMessages();
    }
    this.announce(`Deleted “${conv.title}”.`);
    // Keep keyboard focus somewhere sensible after its button disappears.
    (this.dom.list.querySelector('.conversation-open') ?? this.dom.newChat).focus();
  }

  // ---- messages ---------------------------------------------------------------

  renderMessages() {
    const conv = this.store.active();
    const { messages, empty, title } = this.dom;
    for (const node of [...messages.querySelectorAll('.msg')]) node.remove();
    empty.hidden = Boolean(conv && conv.messages.length);
    title.textContent = conv ? conv.title : 'New story';
    this.#applyMode();
    if (!conv) return;
    this.tip.hide();
    conv.messages.forEach((m, i) => {
      const bubble = this.#bubble(m.role, i);
      this.#setText(bubble, m.content, m.tokens);
      if (m.role === 'assistant' && m.finish) bubble.dataset.finish = m.finish;
      if (m.stats) bubble.dataset.stats = statsText(m.stats);
      if (m.dropped) bubble.dataset.dropped = droppedText(m.dropped);
      this.#setState(bubble, m.role === 'user' ? 'done' : m.finish === 'stopped' || m.finish === 'error' ? m.finish : 'done');
      messages.append(bubble);
    });
    this.#updateActions();
    messages.scrollTop = messages.scrollHeight;
  }

  #bubble(role, index) {
    const article = el('article', `msg msg-${role}`);
    article.dataset.index = String(index);
    article.setAttribute('aria-label', role === 'user' ? 'Your message' : 'Model reply');
    const avatar = el('div', 'msg-avatar', role === 'user' ? 'You' : 'slm');
    avatar.setAttribute('aria-hidden', 'true');
    const body = el('div', 'msg-body');
    const text = el('p', 'msg-text');
    text.append(document.createTextNode(''));
    body.append(text);
    const remove = chip('trash', 'Remove', role === 'user' ? 'Remove this message' : 'Remove this reply', () =>
      this.removeMessage(Number(article.dataset.index)),
    );
    if (role === 'user') {
      const actions = el('div', 'msg-actions');
      const edit = chip('edit', 'Edit', 'Edit this message (it and what follows go back into the box)', () =>
        this.editMessage(Number(article.dataset.index)),
      );
      actions.append(edit, remove);
      body.append(actions);
    }
    if (role === 'assistant') {
      // No role=status here: #chat-status announces "writing…" once.
      const typing = el('div', 'typing');
      typing.append(el('span', 'dot'), el('span', 'dot'), el('span', 'dot'), el('span', 'visually-hidden', 'The model is writing…'));
      body.prepend(typing);
      const meta = el('p', 'msg-meta');
      const actions = el('div', 'msg-actions');
      const copy = chip('copy', 'Copy', 'Copy this story', async () => {
        const ok = await copyText(text.textContent);
        copy.querySelector('span').textContent = ok ? 'Copied' : 'Copy failed';
        this.announce(ok ? 'Copied to the clipboard.' : 'Could not copy to the clipboard.');
        setTimeout(() => {
          copy.querySelector('span').textContent = 'Copy';
        }, 1500);
      });
      const regen = chip('regenerate', 'Regenerate', 'Regenerate this continuation', () => this.regenerate());
      const more = chip('continue', 'Continue', 'Continue this story', () => this.generate({ resume: true }));
      actions.append(copy, regen, more, remove);
      body.append(meta, actions);
    }
    article.append(avatar, body);
    return article;
  }

  /** Shows `content`, token by token with their probabilities when peeking and known. */
  #setText(bubble, content, tokens) {
    const text = bubble.querySelector('.msg-text');
    text.classList.remove('peeking');
    if (tokens?.length && this.deps.getSettings().peek) renderTokens(text, content, tokens);
    else text.replaceChildren(document.createTextNode(content));
  }

  #setState(bubble, state) {
    bubble.dataset.state = state;
    bubble.setAttribute('aria-busy', state === 'waiting' || state === 'streaming' ? 'true' : 'false');
    const meta = bubble.querySelector('.msg-meta');
    const cutAtLimit = state === 'done' && bubble.dataset.finish === 'length';
    const stats = state === 'done' ? (bubble.dataset.stats ?? '') : '';
    const note = state === 'stopped' ? 'Stopped' : state === 'error' ? 'Interrupted' : cutAtLimit ? 'Stopped at the length limit' : '';
    const dropped = state === 'done' ? (bubble.dataset.dropped ?? '') : '';
    if (meta) meta.textContent = [note, stats, dropped].filter(Boolean).join(' · ');
  }

  /**
   * Only the last model reply offers Regenerate, and Continue when it was cut short (length
   * limit, Stop, error); neither while writing.
   */
  #updateActions() {
    // Edit and Remove change the story: not while a reply is being written into it.
    for (const button of this.dom.messages.querySelectorAll('.msg-edit, .msg-trash')) button.hidden = this.generating;
    const bubbles = [...this.dom.messages.querySelectorAll('.msg-assistant')];
    bubbles.forEach((b, i) => {
      const last = i === bubbles.length - 1 && !this.generating;
      b.querySelector('.msg-regenerate').hidden = !last;
      const cut = b.dataset.state === 'stopped' || b.dataset.state === 'error' || b.dataset.finish === 'length';
      b.querySelector('.msg-continue').hidden = !(last && cut && b.querySelector('.msg-text').textContent);
    });
  }

  /**
   * How far the story's end lies below what the reader sees: on narrow screens the page
   * scrolls (no nested scroller, review m10) and the composer sticks to the bottom.
   */
  #hiddenBelow() {
    const m = this.dom.messages;
    if (getComputedStyle(m).overflowY !== 'visible') return m.scrollHeight - m.scrollTop - m.clientHeight;
    return m.getBoundingClientRect().bottom - this.dom.form.getBoundingClientRect().top;
  }

  #nearBottom() {
    return this.#hiddenBelow() < 80;
  }

  #scrollSoon() {
    if (this.scrollQueued) return;
    this.scrollQueued = true;
    requestAnimationFrame(() => {
      this.scrollQueued = false;
      const m = this.dom.messages;
      if (getComputedStyle(m).overflowY !== 'visible') m.scrollTop = m.scrollHeight;
      else if (this.#hiddenBelow() > 0) window.scrollBy({ top: this.#hiddenBelow() + 12, behavior: 'instant' });
    });
  }

  // ---- sending ---------------------------------------------------------------

  send() {
    const text = this.dom.prompt.value.trim();
    if (this.generating) {
      // Not swallowed silently (review m4): the text stays in the box for later.
      if (text) this.#setHint('The model is still writing: wait for it, or press Stop (Esc).', true);
      return;
    }
    if (!text) return;
    this.hideNotice();
    this.#dropUndo();
    const active = this.store.active();
    this.dom.prompt.value = '';
    this.#autosize();
    this.#updateLength();
    if (active) {
      // Only the new message enters the log: rebuilding it would make screen readers
      // read the whole story again.
      const index = this.store.append(active.id, { role: 'user', content: text });
      const bubble = this.#bubble('user', index);
      this.#setText(bubble, text);
      this.#setState(bubble, 'done');
      this.dom.messages.append(bubble);
      this.renderList();
    } else {
      this.store.create(text, this.mode);
      this.renderList();
      this.renderMessages();
    }
    this.generate();
  }

  // ---- edit, remove, undo ---------------------------------------------------

  /** Shows `text` with an Undo button that calls `restore` (until the next change). */
  #offerUndo(text, restore) {
    this.undoState = restore;
    this.dom.undoText.textContent = text;
    this.dom.undoBar.hidden = false;
    clearTimeout(this.undoTimer);
    this.undoTimer = setTimeout(() => this.#dropUndo(), 15_000);
  }

  #dropUndo() {
    clearTimeout(this.undoTimer);
    this.undoState = null;
    this.dom.undoBar.hidden = true;
  }

  /** Remembers the active story's messages, for an Undo of the change about to be made. */
  #offerUndoMessages(conv, text) {
    const messages = conv.messages.map((m) => ({ ...m }));
    this.#offerUndo(text, () => {
      if (!this.store.get(conv.id)) return;
      this.store.replace(conv.id, messages);
      this.store.setActive(conv.id);
    });
  }

  undo() {
    const restore = this.undoState;
    this.#dropUndo();
    if (!restore || this.generating) return;
    restore();
    this.renderList();
    this.renderMessages();
    this.announce('Undone.');
    this.dom.prompt.focus();
  }

  /** Takes a message back into the box to be rewritten; it and what follows leave the story. */
  editMessage(index) {
    const conv = this.store.active();
    if (!conv || this.generating || !conv.messages[index]) return;
    this.#offerUndoMessages(conv, 'Message taken back into the box.');
    this.dom.prompt.value = conv.messages[index].content;
    this.store.truncate(conv.id, index);
    this.renderMessages();
    this.#autosize();
    this.#updateLength();
    this.dom.prompt.focus();
  }

  removeMessage(index) {
    const conv = this.store.active();
    if (!conv || this.generating || !conv.messages[index]) return;
    this.#offerUndoMessages(conv, conv.messages[index].role === 'user' ? 'Message removed.' : 'Reply removed.');
    this.store.removeAt(conv.id, index);
    this.renderMessages();
    this.dom.undo.focus();
  }

  regenerate() {
    const conv = this.store.active();
    if (!conv || this.generating) return;
    const last = conv.messages.length - 1;
    if (last >= 0 && conv.messages[last].role === 'assistant') {
      this.#offerUndoMessages(conv, 'The earlier reply was replaced.');
      this.store.truncate(conv.id, last);
      this.renderMessages();
    }
    this.generate();
  }

  stop() {
    if (this.controller) this.controller.abort();
  }

  /**
   * Streams a reply to the active conversation, whose last message is the user's; with
   * `resume`, continues the last reply instead (the server leaves the model's turn open).
   */
  async generate({ resume = false } = {}) {
    const conv = this.store.active();
    if (!conv || this.generating) return;
    const history = conv.messages.filter((m) => m.content.length > 0);
    if (!history.length || history[history.length - 1].role !== (resume ? 'assistant' : 'user')) return;

    let index;
    let bubble;
    if (resume) {
      index = conv.messages.length - 1;
      bubble = this.dom.messages.querySelector(`.msg-assistant[data-index="${index}"]`);
      if (!bubble) return;
    } else {
      index = this.store.append(conv.id, { role: 'assistant', content: '' });
      bubble = this.#bubble('assistant', index);
      this.dom.messages.append(bubble);
    }
    delete bubble.dataset.finish;
    delete bubble.dataset.stats;
    delete bubble.dataset.dropped;
    const before = resume ? conv.messages[index].content : '';
    // Token probabilities are kept when asked for and when they cover the whole reply.
    const peek = Boolean(this.deps.getSettings().peek);
    const tokens = peek && (!resume || conv.messages[index].tokens) ? [...(conv.messages[index]?.tokens ?? [])] : null;
    // Streaming appends to one plain text node; the token view comes back at the end.
    this.#setText(bubble, before);
    // A continued reply keeps its text on screen (the waiting state hides it).
    this.#setState(bubble, resume ? 'streaming' : 'waiting');
    this.dom.empty.hidden = true;
    this.#scrollSoon();

    const controller = new AbortController();
    this.controller = controller;
    this.#setGenerating(true);
    this.announce('The model is writing…');

    // The story may be deleted while its reply is still arriving; then there
    // is nothing left to save into.
    const persist = (patch) => {
      if (this.store.get(conv.id)) this.store.update(conv.id, index, patch);
    };
    const textNode = bubble.querySelector('.msg-text').firstChild;
    let content = before;
    // `tokens: undefined` drops stale probabilities of a reply continued without them.
    const saved = () => ({ content, tokens: tokens?.length ? tokens : undefined });
    let lastSave = performance.now();
    let lastCount = -Infinity; // the count shows with the first words, then twice a second
    // A chat model continues the story as written (not as a request) in "Continue my story".
    const promptFormat = this.chatModel && this.mode === 'story' ? 'story' : undefined;
    const body = buildChatRequest(this.deps.getModel(), history, this.deps.getSettings(), { promptFormat });
    try {
      const result = await streamChat({
        body,
        signal: controller.signal,
        onTokens: (entries) => tokens?.push(...entries.map(compactToken)),
        onDelta: (piece) => {
          // A reply does not start with the space its first token carries (review m6).
          const delta = content === '' ? piece.trimStart() : piece;
          if (!delta) return;
          if (content === before && !resume) this.#setState(bubble, 'streaming');
          const follow = this.#nearBottom();
          content += delta;
          textNode.appendData(delta);
          this.deps.onToken?.();
          // A visible count on slow hosts, where a story takes most of a minute;
          // the bubble is aria-busy meanwhile, so screen readers are not told every change.
          if (performance.now() - lastCount > 500) {
            lastCount = performance.now();
            const words = countWords(content);
            bubble.querySelector('.msg-meta').textContent = `writing… ${words} word${words === 1 ? '' : 's'} so far`;
          }
          if (follow) this.#scrollSoon();
          // Save now and then so a closed tab keeps most of the story.
          if (performance.now() - lastSave > 1000) {
            lastSave = performance.now();
            persist(saved());
          }
        },
      });
      // A continued reply's figures would describe only its last piece: none then.
      const stats = resume ? undefined : (replyStats(result.usage, result.timings) ?? undefined);
      const dropped = result.droppedMessages || undefined;
      persist({ ...saved(), finish: result.finishReason ?? 'stop', stats, dropped });
      bubble.dataset.finish = result.finishReason ?? 'stop';
      if (stats) bubble.dataset.stats = statsText(stats);
      if (dropped) bubble.dataset.dropped = droppedText(dropped);
      this.#setText(bubble, content, tokens);
      this.#setState(bubble, 'done');
      if (content === before) bubble.querySelector('.msg-meta').textContent = 'The model ended the story straight away.';
      this.announce(result.finishReason === 'length' ? 'Reached the length limit.' : 'The model finished the story.');
      this.deps.onFinished?.();
    } catch (err) {
      if (controller.signal.aborted) {
        persist({ ...saved(), finish: 'stopped' });
        this.#setText(bubble, content, tokens);
        this.#setState(bubble, 'stopped');
        this.announce('Stopped.');
      } else {
        const error = err instanceof ApiError ? err : new ApiError('server', String(err?.message ?? err));
        if (content) {
          // Part of the story arrived: the server was reachable, the stream was cut.
          error.partial = true;
          persist({ ...saved(), finish: 'error' });
          this.#setState(bubble, 'error');
          this.showNotice(error, () => (resume ? this.generate({ resume: true }) : this.regenerate()));
        } else if (error.code === 'context_length_exceeded' && !resume) {
          // The message alone does not fit (older turns are dropped to fit): retrying
          // cannot help, so it goes back into the box to be shortened.
          this.#unsend(conv.id, index - 1);
          this.showNotice(error, null);
        } else {
          // Nothing was written: drop the empty reply so Retry starts clean.
          if (this.store.get(conv.id)) this.store.truncate(conv.id, index);
          bubble.remove();
          this.showNotice(error, () => this.generate());
        }
        if (error.kind === 'down') this.deps.onNetworkError?.();
      }
    } finally {
      const follow = this.#nearBottom();
      if (this.controller === controller) this.controller = null;
      this.#setGenerating(false);
      this.renderList();
      this.#updateActions();
      // The action row appears only now; keep it in view if the reader was following.
      if (follow) this.#scrollSoon();
    }
  }

  #setGenerating(on) {
    const d = this.dom;
    // Read the focus before hiding a button: hiding the focused one blurs it to <body>.
    const focusWasOnButton = document.activeElement === d.send || document.activeElement === d.stop;
    d.send.hidden = on;
    d.stop.hidden = !on;
    d.form.dataset.busy = on ? 'true' : 'false';
    if (!on) this.#updateLength(); // a "still writing" hint has served its purpose
    // Send → Stop while writing; afterwards back to the text box for the next message.
    if (focusWasOnButton) (on ? d.stop : d.prompt).focus();
    this.#updateActions();
    this.deps.onActivity?.(on);
  }

  // ---- notices ---------------------------------------------------------------

  /** Takes back the user's message at `index` (and what follows) into the composer. */
  #unsend(id, index) {
    const conv = this.store.get(id);
    if (!conv) return;
    this.dom.prompt.value = conv.messages[index]?.content ?? '';
    if (index === 0) this.store.remove(id);
    else this.store.truncate(id, index);
    this.renderList();
    this.renderMessages();
    this.#updateLength();
    this.#autosize();
    this.dom.prompt.focus();
  }

  /** Warns in the hint line when the text nears what the model can read. */
  #updateLength() {
    const n = this.dom.prompt.value.length;
    const hint = this.dom.hint;
    // Nothing to send: say so by disabling Send (review m4).
    this.dom.send.disabled = this.dom.prompt.value.trim() === '';
    // ~4.2 characters per token on TinyStories text; the context is 512 tokens.
    const long = n > 1200;
    if (long) this.#setHint(`Long message: about ${Math.round(n / 4.2)} of the 512 tokens the model reads, its reply included.`);
    else if (hint.dataset.replaced === 'true') this.#setHint(null);
  }

  /** Puts `text` in the hint line (and announces it if asked), or brings back the keyboard help. */
  #setHint(text, announce = false) {
    const hint = this.dom.hint;
    hint.dataset.replaced = String(text !== null);
    if (text === null) hint.replaceChildren(...this.hintDefault.map((node) => node.cloneNode(true)));
    else hint.textContent = text;
    if (announce && text) this.announce(text);
  }

  showNotice(error, retry) {
    const d = this.dom;
    const { title, text, retryAfter } = describeError(error);
    d.notice.dataset.kind = error.kind;
    d.noticeTitle.textContent = title;
    d.noticeText.textContent = text;
    d.notice.hidden = false;
    d.noticeRetry.hidden = !retry;
    this.retry = retry;
    clearInterval(this.countdownTimer);
    // Retrying before the server's Retry-After has passed would only fail again (review m9).
    d.noticeRetry.disabled = Boolean(retryAfter);
    if (retryAfter) {
      this.countdown = retryAfter;
      this.countdownTimer = setInterval(() => {
        this.countdown -= 1;
        if (this.countdown <= 0) {
          clearInterval(this.countdownTimer);
          d.noticeRetry.disabled = false;
          d.noticeText.textContent = 'Lots of stories are being written right now. You can try again now.';
        } else {
          d.noticeText.textContent = `Lots of stories are being written right now. Try again in ${this.countdown} s.`;
        }
      }, 1000);
    }
  }

  hideNotice() {
    clearInterval(this.countdownTimer);
    this.dom.notice.hidden = true;
    this.retry = null;
  }
}
