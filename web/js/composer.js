// The composer: the text box with Send and Stop, the hint line under it and the
// suggestion buttons of the empty story. Enter sends, Shift+Enter adds a line, Esc
// stops a reply being written; what sending and stopping do is the caller's.

export class Composer {
  /**
   * @param {{ form: HTMLFormElement, prompt: HTMLTextAreaElement, hint: HTMLElement,
   *   send: HTMLButtonElement, stop: HTMLButtonElement, suggestions: Iterable<HTMLElement> }} dom
   * @param {{ onSend: () => void, onStop: () => void, generating: () => boolean,
   *   announce: (text: string) => void }} hooks
   */
  constructor(dom, hooks) {
    this.dom = dom;
    this.hooks = hooks;
    // The hint line's usual content (keyboard help), restored when a long message is shortened.
    this.hintDefault = [...dom.hint.childNodes].map((node) => node.cloneNode(true));
    this.#bind();
  }

  #bind() {
    const { form, prompt, stop } = this.dom;
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.hooks.onSend();
    });
    prompt.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.hooks.onSend();
      } else if (e.key === 'Escape' && this.hooks.generating()) {
        this.hooks.onStop();
      }
    });
    prompt.addEventListener('input', () => this.#refit());
    this.#updateLength();
    stop.addEventListener('click', () => this.hooks.onStop());
    for (const button of this.dom.suggestions) {
      button.addEventListener('click', () => {
        prompt.value = button.textContent.trim();
        this.#refit();
        prompt.focus();
        prompt.setSelectionRange(prompt.value.length, prompt.value.length);
      });
    }
  }

  /** The text to send, without surrounding whitespace. */
  get text() {
    return this.dom.prompt.value.trim();
  }

  /** Puts `text` in the box (empty to clear it), sized to fit. */
  fill(text) {
    this.dom.prompt.value = text;
    this.#refit();
  }

  focus() {
    this.dom.prompt.focus();
  }

  setPlaceholder(text) {
    this.dom.prompt.placeholder = text;
  }

  /** Says in the hint line that the reply being written must finish or be stopped first. */
  warnStillWriting() {
    this.#setHint('The model is still writing: wait for it, or press Stop (Esc).', true);
  }

  /** Send ↔ Stop while a reply is written. */
  setBusy(on) {
    const { send, stop, form, prompt } = this.dom;
    // Read the focus before hiding a button: hiding the focused one blurs it to <body>.
    const focusWasOnButton = document.activeElement === send || document.activeElement === stop;
    send.hidden = on;
    stop.hidden = !on;
    form.dataset.busy = on ? 'true' : 'false';
    if (!on) this.#updateLength(); // a "still writing" hint has served its purpose
    // Send → Stop while writing; afterwards back to the text box for the next message.
    if (focusWasOnButton) (on ? stop : prompt).focus();
  }

  #refit() {
    this.#autosize();
    this.#updateLength();
  }

  #autosize() {
    const p = this.dom.prompt;
    p.style.height = 'auto';
    p.style.height = `${Math.min(p.scrollHeight, 200)}px`;
  }

  /** Warns in the hint line when the text nears what the model can read. */
  #updateLength() {
    const n = this.dom.prompt.value.length;
    const hint = this.dom.hint;
    // Nothing to send: say so by disabling Send.
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
    if (announce && text) this.hooks.announce(text);
  }
}
