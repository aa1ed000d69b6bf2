// The story's message log (#messages): builds it from a saved story, adds single
// bubbles as they are sent or written, shows a reply's text (token by token when
// peeking) and keeps the end of the story in view while the reader follows it.

import { createBubble, setBubbleState, setFigures, storedState, updateActions } from './bubble.js';
import { attachTokenTip, renderTokens } from './peek.js';

export class MessageView {
  /**
   * @param {{ messages: HTMLElement, empty: HTMLElement, title: HTMLElement, form: HTMLElement,
   *   tip: HTMLElement }} dom
   * @param {{ peek: () => boolean, actions: import('./bubble.js').BubbleActions }} opts
   */
  constructor(dom, { peek, actions }) {
    this.dom = dom;
    this.peek = peek;
    this.actions = actions;
    this.scrollQueued = false;
    this.tip = attachTokenTip(dom.messages, dom.tip);
  }

  /** Shows `conv` (or the empty state when there is none), scrolled to its end. */
  render(conv, generating) {
    const { messages, empty, title } = this.dom;
    for (const node of [...messages.querySelectorAll('.msg')]) node.remove();
    empty.hidden = Boolean(conv && conv.messages.length);
    title.textContent = conv ? conv.title : 'New story';
    if (!conv) return;
    this.tip.hide();
    conv.messages.forEach((m, i) => messages.append(this.#storedBubble(m, i)));
    this.updateActions(generating);
    messages.scrollTop = messages.scrollHeight;
  }

  #storedBubble(m, i) {
    const bubble = createBubble(m.role, i, this.actions);
    this.setText(bubble, m.content, m.tokens);
    setFigures(bubble, { finish: m.role === 'assistant' ? m.finish : undefined, stats: m.stats, dropped: m.dropped });
    setBubbleState(bubble, storedState(m));
    return bubble;
  }

  /** Adds the visitor's message, complete, so the live log announces it once. */
  appendUser(index, text) {
    const bubble = createBubble('user', index, this.actions);
    this.setText(bubble, text);
    setBubbleState(bubble, 'done');
    this.dom.messages.append(bubble);
  }

  /** Adds an empty reply bubble, to be written into. */
  appendReply(index) {
    const bubble = createBubble('assistant', index, this.actions);
    this.dom.messages.append(bubble);
    return bubble;
  }

  replyBubble(index) {
    return this.dom.messages.querySelector(`.msg-assistant[data-index="${index}"]`);
  }

  hideEmptyState() {
    this.dom.empty.hidden = true;
  }

  /** Shows `content`, token by token with their probabilities when peeking and known. */
  setText(bubble, content, tokens) {
    const text = bubble.querySelector('.msg-text');
    text.classList.remove('peeking');
    if (tokens?.length && this.peek()) renderTokens(text, content, tokens);
    else text.replaceChildren(document.createTextNode(content));
  }

  setState(bubble, state) {
    setBubbleState(bubble, state);
  }

  updateActions(generating) {
    updateActions(this.dom.messages, generating);
  }

  /**
   * How far the story's end lies below what the reader sees: on narrow screens the page
   * scrolls (no nested scroller) and the composer sticks to the bottom.
   */
  #hiddenBelow() {
    const m = this.dom.messages;
    if (getComputedStyle(m).overflowY !== 'visible') return m.scrollHeight - m.scrollTop - m.clientHeight;
    return m.getBoundingClientRect().bottom - this.dom.form.getBoundingClientRect().top;
  }

  nearBottom() {
    return this.#hiddenBelow() < 80;
  }

  /** Brings the story's end into view in the next frame (once, however often asked). */
  scrollSoon() {
    if (this.scrollQueued) return;
    this.scrollQueued = true;
    requestAnimationFrame(() => {
      this.scrollQueued = false;
      const m = this.dom.messages;
      if (getComputedStyle(m).overflowY !== 'visible') m.scrollTop = m.scrollHeight;
      else if (this.#hiddenBelow() > 0) window.scrollBy({ top: this.#hiddenBelow() + 12, behavior: 'instant' });
    });
  }
}
