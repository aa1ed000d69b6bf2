// The notice above the composer (#notice): what went wrong, in the words of notice.js,
// with Retry (held back until the server's Retry-After has passed) and Dismiss.

import { describeError } from './notice.js';

const BUSY_NOW = 'Lots of stories are being written right now. You can try again now.';
const busyIn = (s) => `Lots of stories are being written right now. Try again in ${s} s.`;

export class NoticeBar {
  /**
   * @param {{ notice: HTMLElement, title: HTMLElement, text: HTMLElement,
   *   retry: HTMLButtonElement, dismiss: HTMLButtonElement }} dom
   */
  constructor(dom) {
    this.dom = dom;
    this.retry = null;
    this.countdown = 0;
    this.countdownTimer = undefined;
    dom.retry.addEventListener('click', () => {
      const retry = this.retry;
      this.hide();
      if (retry) retry();
    });
    dom.dismiss.addEventListener('click', () => this.hide());
  }

  /** Shows `error`; `retry` (or null: no Retry button) runs when Retry is pressed. */
  show(error, retry) {
    const d = this.dom;
    const { title, text, retryAfter } = describeError(error);
    d.notice.dataset.kind = error.kind;
    d.title.textContent = title;
    d.text.textContent = text;
    d.notice.hidden = false;
    d.retry.hidden = !retry;
    this.retry = retry;
    clearInterval(this.countdownTimer);
    // Retrying before the server's Retry-After has passed would only fail again.
    d.retry.disabled = Boolean(retryAfter);
    if (retryAfter) this.#countDown(retryAfter);
  }

  /** Counts the seconds down in the text, then enables Retry. */
  #countDown(seconds) {
    const d = this.dom;
    this.countdown = seconds;
    this.countdownTimer = setInterval(() => {
      this.countdown -= 1;
      if (this.countdown <= 0) {
        clearInterval(this.countdownTimer);
        d.retry.disabled = false;
        d.text.textContent = BUSY_NOW;
      } else {
        d.text.textContent = busyIn(this.countdown);
      }
    }, 1000);
  }

  hide() {
    clearInterval(this.countdownTimer);
    this.dom.notice.hidden = true;
    this.retry = null;
  }
}
