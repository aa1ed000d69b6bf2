// The "Your stories" list: one row per saved story, newest first, each with an open
// button (title and age) and a delete button. What the buttons do is the caller's.

import { relativeTime } from './chat-text.js';
import { el, icon } from './dom.js';

function storyRow(conv, active, { onOpen, onDelete }) {
  const item = el('li', 'conversation');
  const open = el('button', 'conversation-open');
  open.type = 'button';
  open.dataset.id = conv.id;
  if (active) open.setAttribute('aria-current', 'true');
  open.title = conv.title;
  open.append(el('span', 'conversation-title', conv.title), el('span', 'conversation-time', relativeTime(conv.updatedAt)));
  open.addEventListener('click', () => onOpen(conv.id));
  const del = el('button', 'icon-btn conversation-delete');
  del.type = 'button';
  del.setAttribute('aria-label', `Delete story “${conv.title}”`);
  del.title = 'Delete story';
  del.append(icon('trash'));
  del.addEventListener('click', () => onDelete(conv.id));
  item.append(open, del);
  return item;
}

/**
 * Rebuilds `list` from the store's stories, marking the open one.
 * @param {{ list: HTMLElement, listEmpty: HTMLElement }} dom
 * @param {import('./store.js').ConversationStore} store
 * @param {{ onOpen: (id: string) => void, onDelete: (id: string) => void }} handlers
 */
export function renderStoryList({ list, listEmpty }, store, handlers) {
  const conversations = store.list();
  list.replaceChildren(...conversations.map((conv) => storyRow(conv, conv.id === store.activeId, handlers)));
  listEmpty.hidden = conversations.length > 0;
}
