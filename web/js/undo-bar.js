// The Undo bar (#undo-bar): after a change that loses text (a story deleted, a message
// removed or taken back, a reply regenerated) it offers to put things back, until the
// next change or for 15 seconds.

const OFFER_MS = 15_000;

export class UndoBar {
  /**
   * @param {{ bar: HTMLElement, text: HTMLElement, button: HTMLButtonElement }} dom
   * @param {() => void} onUndo runs when Undo is pressed
   */
  constructor(dom, onUndo) {
    this.dom = dom;
    this.restore = null;
    this.timer = undefined;
    dom.button.addEventListener('click', onUndo);
  }

  /** Shows `text` with an Undo button whose press is to call `restore`. */
  offer(text, restore) {
    this.restore = restore;
    this.dom.text.textContent = text;
    this.dom.bar.hidden = false;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.drop(), OFFER_MS);
  }

  drop() {
    clearTimeout(this.timer);
    this.restore = null;
    this.dom.bar.hidden = true;
  }

  /** The offered restore (or null), and the bar goes away. */
  take() {
    const restore = this.restore;
    this.drop();
    return restore;
  }

  focus() {
    this.dom.button.focus();
  }
}
