// One reply being written: streams it from the server into its bubble (one growing
// text node, a word count twice a second, the end kept in view), saves it now and then
// so a closed tab keeps most of it, and settles it as finished, stopped, interrupted or
// discarded.

import { streamChat } from './api.js';
import { setFigures } from './bubble.js';
import { replyStats, wordsSoFarText } from './chat-text.js';
import { compactToken } from './peek.js';

export class StreamingReply {
  /**
   * @param {{ store: import('./store.js').ConversationStore, view: import('./message-view.js').MessageView,
   *   conv: object, index: number, bubble: HTMLElement, resume: boolean, peek: boolean,
   *   onToken?: () => void }} opts `resume`: carry on the reply at `index` instead of a new one
   */
  constructor({ store, view, conv, index, bubble, resume, peek, onToken }) {
    this.store = store;
    this.view = view;
    this.convId = conv.id;
    this.index = index;
    this.bubble = bubble;
    this.resume = resume;
    this.onToken = onToken;
    this.before = resume ? conv.messages[index].content : '';
    this.content = this.before;
    // Token probabilities are kept when asked for and when they cover the whole reply.
    this.tokens = peek && (!resume || conv.messages[index].tokens) ? [...(conv.messages[index]?.tokens ?? [])] : null;
    this.textNode = null;
    this.lastSave = 0;
    this.lastCount = -Infinity; // the count shows with the first words, then twice a second
  }

  /** Forgets the last outcome and shows the reply waiting (a continued one, with its text). */
  begin() {
    const { bubble } = this;
    delete bubble.dataset.finish;
    delete bubble.dataset.stats;
    delete bubble.dataset.dropped;
    // Streaming appends to one plain text node; the token view comes back at the end.
    this.view.setText(bubble, this.before);
    // A continued reply keeps its text on screen (the waiting state hides it).
    this.view.setState(bubble, this.resume ? 'streaming' : 'waiting');
    this.view.hideEmptyState();
    this.view.scrollSoon();
  }

  /** Sends `body` and writes what arrives; resolves with streamChat's result. */
  stream(body, signal) {
    this.textNode = this.bubble.querySelector('.msg-text').firstChild;
    this.lastSave = performance.now();
    return streamChat({
      body,
      signal,
      onTokens: (entries) => this.tokens?.push(...entries.map(compactToken)),
      onDelta: (piece) => this.#add(piece),
    });
  }

  #add(piece) {
    // A reply does not start with the space its first token carries.
    const delta = this.content === '' ? piece.trimStart() : piece;
    if (!delta) return;
    if (this.content === this.before && !this.resume) this.view.setState(this.bubble, 'streaming');
    const follow = this.view.nearBottom();
    this.content += delta;
    this.textNode.appendData(delta);
    this.onToken?.();
    // A visible count on slow hosts, where a story takes most of a minute;
    // the bubble is aria-busy meanwhile, so screen readers are not told every change.
    if (performance.now() - this.lastCount > 500) {
      this.lastCount = performance.now();
      this.bubble.querySelector('.msg-meta').textContent = wordsSoFarText(this.content);
    }
    if (follow) this.view.scrollSoon();
    // Save now and then so a closed tab keeps most of the story.
    if (performance.now() - this.lastSave > 1000) {
      this.lastSave = performance.now();
      this.#persist(this.#saved());
    }
  }

  // The story may be deleted while its reply is still arriving; then there
  // is nothing left to save into.
  #persist(patch) {
    if (this.store.get(this.convId)) this.store.update(this.convId, this.index, patch);
  }

  #saved() {
    // `tokens: undefined` drops stale probabilities of a reply continued without them.
    return { content: this.content, tokens: this.tokens?.length ? this.tokens : undefined };
  }

  /** The server finished: the reply is saved and shown with its figures. */
  finish(result) {
    // A continued reply's figures would describe only its last piece: none then.
    const stats = this.resume ? undefined : (replyStats(result.usage, result.timings) ?? undefined);
    const dropped = result.droppedMessages || undefined;
    const finish = result.finishReason ?? 'stop';
    this.#persist({ ...this.#saved(), finish, stats, dropped });
    setFigures(this.bubble, { finish, stats, dropped });
    this.view.setText(this.bubble, this.content, this.tokens);
    this.view.setState(this.bubble, 'done');
    if (this.content === this.before) this.bubble.querySelector('.msg-meta').textContent = 'The model ended the story straight away.';
  }

  /** Stop was pressed: what arrived is kept. */
  stopped() {
    this.#persist({ ...this.#saved(), finish: 'stopped' });
    this.view.setText(this.bubble, this.content, this.tokens);
    this.view.setState(this.bubble, 'stopped');
  }

  /** The stream broke after part of the reply arrived: that part is kept. */
  interrupted() {
    this.#persist({ ...this.#saved(), finish: 'error' });
    this.view.setState(this.bubble, 'error');
  }

  /** Nothing was written: the empty reply leaves the story, so Retry starts clean. */
  discard() {
    if (this.store.get(this.convId)) this.store.truncate(this.convId, this.index);
    this.bubble.remove();
  }
}
