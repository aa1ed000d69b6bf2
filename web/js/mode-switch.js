// The mode controls: the "Ask for a story" / "Continue my story" radios (offered only for
// a chat model), the page's data-mode that picks the matching copy, and the "One text"
// toggle that lets a continued story's pieces flow as one text. Which mode applies is
// the caller's decision.

export class ModeSwitch {
  /**
   * @param {{ modeSwitch: HTMLElement, storyView: HTMLButtonElement, messages: HTMLElement }} dom
   * @param {{ onChoose: (mode: string) => void, onToggleStoryView: () => void }} hooks
   */
  constructor(dom, hooks) {
    this.dom = dom;
    dom.modeSwitch.addEventListener('change', (e) => hooks.onChoose(e.target.value));
    dom.storyView.addEventListener('click', () => hooks.onToggleStoryView());
  }

  /** Shows the radios (a chat model) or hides them (a base model only continues stories). */
  setOffered(on) {
    this.dom.modeSwitch.hidden = !on;
  }

  show(mode) {
    document.body.dataset.mode = mode;
    for (const radio of this.dom.modeSwitch.querySelectorAll('input')) radio.checked = radio.value === mode;
  }

  showStoryView(on) {
    this.dom.storyView.setAttribute('aria-pressed', String(on));
    if (on) this.dom.messages.dataset.view = 'story';
    else delete this.dom.messages.dataset.view;
  }
}
