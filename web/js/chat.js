// The chat panel's coordinator: the story list, the message log, the composer, the
// notice and Undo bars and the two modes, each in its own module; this class keeps
// the open story and the running request, and decides what each action changes.
// Talks to the server through api.js (via reply.js) and persists through store.js;
// never builds HTML from text (XSS-safe).

import { ApiError, buildChatRequest } from './api.js';
import { placeholderFor, storyText } from './chat-text.js';
import { Composer } from './composer.js';
import { copyText } from './dom.js';
import { MessageView } from './message-view.js';
import { ModeSwitch } from './mode-switch.js';
import { NoticeBar } from './notice-bar.js';
import { StreamingReply } from './reply.js';
import { renderStoryList } from './story-list.js';
import { UndoBar } from './undo-bar.js';

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
    const $ = (id) => document.getElementById(id);
    this.dom = {
      list: $('conversation-list'),
      listEmpty: $('conversation-empty'),
      newChat: $('new-chat'),
      status: $('chat-status'),
      copyStory: $('copy-story'),
    };
    // Whether the model can be asked for stories (a chat model); until /api/info says so,
    // only "continue my story" is offered.
    this.chatModel = false;
    this.#createParts($);
    this.#bind();
    this.renderList();
    this.renderMessages();
    this.modes.showStoryView(this.store.storyView);
  }

  #createParts($) {
    this.view = new MessageView(
      { messages: $('messages'), empty: $('empty-state'), title: $('active-title'), form: $('composer'), tip: $('token-tip') },
      {
        peek: () => this.deps.getSettings().peek,
        actions: {
          editMessage: (index) => this.editMessage(index),
          removeMessage: (index) => this.removeMessage(index),
          regenerate: () => this.regenerate(),
          resume: () => this.generate({ resume: true }),
          announce: (text) => this.announce(text),
        },
      },
    );
    this.composer = new Composer(
      {
        form: $('composer'),
        prompt: $('prompt'),
        hint: $('composer-hint'),
        send: $('send'),
        stop: $('stop'),
        suggestions: $('empty-state').querySelectorAll('.suggestion'),
      },
      { onSend: () => this.send(), onStop: () => this.stop(), generating: () => this.generating, announce: (text) => this.announce(text) },
    );
    this.notice = new NoticeBar({
      notice: $('notice'),
      title: $('notice-title'),
      text: $('notice-text'),
      retry: $('notice-retry'),
      dismiss: $('notice-dismiss'),
    });
    this.undoBar = new UndoBar({ bar: $('undo-bar'), text: $('undo-text'), button: $('undo') }, () => this.undo());
    this.modes = new ModeSwitch(
      { modeSwitch: $('mode-switch'), storyView: $('story-view-toggle'), messages: $('messages') },
      { onChoose: (mode) => this.chooseMode(mode), onToggleStoryView: () => this.#toggleStoryView() },
    );
  }

  #bind() {
    const d = this.dom;
    d.newChat.addEventListener('click', () => this.newChat());
    d.copyStory.addEventListener('click', () => this.#copyStory());
  }

  async #copyStory() {
    const conv = this.store.active();
    const text = conv ? storyText(conv.messages, this.mode === 'chat') : '';
    const ok = text !== '' && (await copyText(text));
    this.announce(ok ? 'The whole story is on the clipboard.' : 'There is no story to copy yet.');
  }

  announce(text) {
    this.dom.status.textContent = text;
  }

  get generating() {
    return this.controller !== null;
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
    this.modes.setOffered(on);
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
    this.modes.show(mode);
    this.composer.setPlaceholder(placeholderFor(mode, Boolean(this.store.active()?.messages.length)));
  }

  /** "One text": a continued story's pieces flow as one text; the choice is kept. */
  #toggleStoryView() {
    this.store.storyView = !this.store.storyView;
    this.store.save();
    this.modes.showStoryView(this.store.storyView);
  }

  // ---- stories ------------------------------------------------------------------

  renderList() {
    renderStoryList(this.dom, this.store, { onOpen: (id) => this.open(id), onDelete: (id) => this.remove(id) });
  }

  renderMessages() {
    this.view.render(this.store.active(), this.generating);
    this.#applyMode();
  }

  open(id) {
    this.#switchTo(id);
  }

  newChat() {
    this.#switchTo(null);
  }

  #switchTo(id) {
    if (this.generating) this.stop();
    this.hideNotice();
    this.store.setActive(id);
    this.renderList();
    this.renderMessages();
    this.composer.focus();
  }

  remove(id) {
    const wasActive = this.store.activeId === id;
    if (wasActive && this.generating) this.stop();
    const conv = this.store.get(id);
    if (!this.store.remove(id)) return;
    // Deleting is one click, so it can be undone.
    this.undoBar.offer(`Deleted “${conv.title}”.`, () => {
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

  // ---- sending ---------------------------------------------------------------

  send() {
    const text = this.composer.text;
    if (this.generating) {
      // Not swallowed silently: the text stays in the box for later.
      if (text) this.composer.warnStillWriting();
      return;
    }
    if (!text) return;
    this.hideNotice();
    this.undoBar.drop();
    const active = this.store.active();
    this.composer.fill('');
    if (active) {
      // Only the new message enters the log: rebuilding it would make screen readers
      // read the whole story again.
      const index = this.store.append(active.id, { role: 'user', content: text });
      this.view.appendUser(index, text);
      this.renderList();
    } else {
      this.store.create(text, this.mode);
      this.renderList();
      this.renderMessages();
    }
    this.generate();
  }

  /** Takes back the user's message at `index` (and what follows) into the composer. */
  #unsend(id, index) {
    const conv = this.store.get(id);
    if (!conv) return;
    const text = conv.messages[index]?.content ?? '';
    if (index === 0) this.store.remove(id);
    else this.store.truncate(id, index);
    this.renderList();
    this.renderMessages();
    this.composer.fill(text);
    this.composer.focus();
  }

  // ---- edit, remove, undo ---------------------------------------------------

  /** Remembers the active story's messages, for an Undo of the change about to be made. */
  #offerUndoMessages(conv, text) {
    const messages = conv.messages.map((m) => ({ ...m }));
    this.undoBar.offer(text, () => {
      if (!this.store.get(conv.id)) return;
      this.store.replace(conv.id, messages);
      this.store.setActive(conv.id);
    });
  }

  undo() {
    const restore = this.undoBar.take();
    if (!restore || this.generating) return;
    restore();
    this.renderList();
    this.renderMessages();
    this.announce('Undone.');
    this.composer.focus();
  }

  /** Takes a message back into the box to be rewritten; it and what follows leave the story. */
  editMessage(index) {
    const conv = this.store.active();
    if (!conv || this.generating || !conv.messages[index]) return;
    this.#offerUndoMessages(conv, 'Message taken back into the box.');
    const text = conv.messages[index].content;
    this.store.truncate(conv.id, index);
    this.renderMessages();
    this.composer.fill(text);
    this.composer.focus();
  }

  removeMessage(index) {
    const conv = this.store.active();
    if (!conv || this.generating || !conv.messages[index]) return;
    this.#offerUndoMessages(conv, conv.messages[index].role === 'user' ? 'Message removed.' : 'Reply removed.');
    this.store.removeAt(conv.id, index);
    this.renderMessages();
    this.undoBar.focus();
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

  // ---- writing a reply ----------------------------------------------------------

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
    const reply = this.#startReply(conv, resume);
    if (!reply) return;

    const controller = new AbortController();
    this.controller = controller;
    this.#setGenerating(true);
    this.announce('The model is writing…');
    // A chat model continues the story as written (not as a request) in "Continue my story".
    const promptFormat = this.chatModel && this.mode === 'story' ? 'story' : undefined;
    const body = buildChatRequest(this.deps.getModel(), history, this.deps.getSettings(), { promptFormat });
    try {
      const result = await reply.stream(body, controller.signal);
      reply.finish(result);
      this.announce(result.finishReason === 'length' ? 'Reached the length limit.' : 'The model finished the story.');
      this.deps.onFinished?.();
    } catch (err) {
      if (controller.signal.aborted) {
        reply.stopped();
        this.announce('Stopped.');
      } else {
        this.#replyFailed(reply, err);
      }
    } finally {
      this.#endReply(controller);
    }
  }

  /** The bubble to write into: a new, empty reply, or the last one when resuming. */
  #startReply(conv, resume) {
    let index;
    let bubble;
    if (resume) {
      index = conv.messages.length - 1;
      bubble = this.view.replyBubble(index);
      if (!bubble) return null;
    } else {
      index = this.store.append(conv.id, { role: 'assistant', content: '' });
      bubble = this.view.appendReply(index);
    }
    const peek = Boolean(this.deps.getSettings().peek);
    const onToken = () => this.deps.onToken?.();
    const reply = new StreamingReply({ store: this.store, view: this.view, conv, index, bubble, resume, peek, onToken });
    reply.begin();
    return reply;
  }

  #replyFailed(reply, err) {
    const error = err instanceof ApiError ? err : new ApiError('server', String(err?.message ?? err));
    if (reply.content) {
      // Part of the story arrived: the server was reachable, the stream was cut.
      error.partial = true;
      reply.interrupted();
      this.showNotice(error, () => (reply.resume ? this.generate({ resume: true }) : this.regenerate()));
    } else if (error.code === 'context_length_exceeded' && !reply.resume) {
      // The message alone does not fit (older turns are dropped to fit): retrying
      // cannot help, so it goes back into the box to be shortened.
      this.#unsend(reply.convId, reply.index - 1);
      this.showNotice(error, null);
    } else {
      // Nothing was written: drop the empty reply so Retry starts clean.
      reply.discard();
      this.showNotice(error, () => this.generate());
    }
    if (error.kind === 'down') this.deps.onNetworkError?.();
  }

  #endReply(controller) {
    const follow = this.view.nearBottom();
    if (this.controller === controller) this.controller = null;
    this.#setGenerating(false);
    this.renderList();
    this.view.updateActions(this.generating);
    // The action row appears only now; keep it in view if the reader was following.
    if (follow) this.view.scrollSoon();
  }

  #setGenerating(on) {
    this.composer.setBusy(on);
    this.view.updateActions(this.generating);
    this.deps.onActivity?.(on);
  }

  // ---- notices ---------------------------------------------------------------

  showNotice(error, retry) {
    this.notice.show(error, retry);
  }

  hideNotice() {
    this.notice.hide();
  }
}
