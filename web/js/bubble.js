// One message bubble: a user's message (Edit, Remove) or a model reply (typing dots,
// the line of figures under it, Copy, Regenerate, Continue, Remove). Builds the DOM and
// shows a bubble's state; what the buttons do comes from the caller's `actions`.

import { droppedText, statsText } from './chat-text.js';
import { chip, copyText, el } from './dom.js';

/**
 * @typedef {{ editMessage: (index: number) => void, removeMessage: (index: number) => void,
 *   regenerate: () => void, resume: () => void, announce: (text: string) => void }} BubbleActions
 */

/** Copy, whose label says for a moment whether it worked. */
function copyChip(text, announce) {
  const copy = chip('copy', 'Copy', 'Copy this story', async () => {
    const ok = await copyText(text.textContent);
    copy.querySelector('span').textContent = ok ? 'Copied' : 'Copy failed';
    announce(ok ? 'Copied to the clipboard.' : 'Could not copy to the clipboard.');
    setTimeout(() => {
      copy.querySelector('span').textContent = 'Copy';
    }, 1500);
  });
  return copy;
}

function userActions(indexOf, remove, actions) {
  const row = el('div', 'msg-actions');
  const edit = chip('edit', 'Edit', 'Edit this message (it and what follows go back into the box)', () =>
    actions.editMessage(indexOf()),
  );
  row.append(edit, remove);
  return row;
}

/** The typing dots before the text, the figures line and the actions after it. */
function addReplyParts(body, text, remove, actions) {
  // No role=status here: #chat-status announces "writing…" once.
  const typing = el('div', 'typing');
  typing.append(el('span', 'dot'), el('span', 'dot'), el('span', 'dot'), el('span', 'visually-hidden', 'The model is writing…'));
  body.prepend(typing);
  const meta = el('p', 'msg-meta');
  const row = el('div', 'msg-actions');
  const copy = copyChip(text, actions.announce);
  const regen = chip('regenerate', 'Regenerate', 'Regenerate this continuation', () => actions.regenerate());
  const more = chip('continue', 'Continue', 'Continue this story', () => actions.resume());
  row.append(copy, regen, more, remove);
  body.append(meta, row);
}

/**
 * An empty bubble for the message at `index` of the story (its text node is there, empty).
 * @param {'user'|'assistant'} role
 * @param {number} index
 * @param {BubbleActions} actions
 */
export function createBubble(role, index, actions) {
  const article = el('article', `msg msg-${role}`);
  article.dataset.index = String(index);
  article.setAttribute('aria-label', role === 'user' ? 'Your message' : 'Model reply');
  const avatar = el('div', 'msg-avatar', role === 'user' ? 'You' : 'slm');
  avatar.setAttribute('aria-hidden', 'true');
  const body = el('div', 'msg-body');
  const text = el('p', 'msg-text');
  text.append(document.createTextNode(''));
  body.append(text);
  const indexOf = () => Number(article.dataset.index);
  const remove = chip('trash', 'Remove', role === 'user' ? 'Remove this message' : 'Remove this reply', () =>
    actions.removeMessage(indexOf()),
  );
  if (role === 'user') body.append(userActions(indexOf, remove, actions));
  if (role === 'assistant') addReplyParts(body, text, remove, actions);
  article.append(avatar, body);
  return article;
}

/** Remembers on the bubble how a reply ended and what it cost, for its figures line. */
export function setFigures(bubble, { finish, stats, dropped }) {
  if (finish) bubble.dataset.finish = finish;
  if (stats) bubble.dataset.stats = statsText(stats);
  if (dropped) bubble.dataset.dropped = droppedText(dropped);
}

/** The state a saved message is shown in. */
export function storedState(message) {
  if (message.role === 'user') return 'done';
  return message.finish === 'stopped' || message.finish === 'error' ? message.finish : 'done';
}

/** waiting | streaming | done | stopped | error: the bubble's look, aria-busy and figures line. */
export function setBubbleState(bubble, state) {
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
export function updateActions(messages, generating) {
  // Edit and Remove change the story: not while a reply is being written into it.
  for (const button of messages.querySelectorAll('.msg-edit, .msg-trash')) button.hidden = generating;
  const bubbles = [...messages.querySelectorAll('.msg-assistant')];
  bubbles.forEach((b, i) => {
    const last = i === bubbles.length - 1 && !generating;
    b.querySelector('.msg-regenerate').hidden = !last;
    const cut = b.dataset.state === 'stopped' || b.dataset.state === 'error' || b.dataset.finish === 'length';
    b.querySelector('.msg-continue').hidden = !(last && cut && b.querySelector('.msg-text').textContent);
  });
}
