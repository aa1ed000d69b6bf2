// The chat's wording that depends on no DOM: a reply's figures, the note under a reply
// written without the story's start, the word count while writing, the whole story as
// text, the composer's placeholder and the story list's times. Kept apart so the unit
// tests can run them in Node.

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

/** "writing… 12 words so far", under a reply while it is written. */
export function wordsSoFarText(content) {
  const words = countWords(content);
  return `writing… ${words} word${words === 1 ? '' : 's'} so far`;
}

/** "96 tokens · 12.3 tok/s" */
export function statsText(stats) {
  if (!stats) return '';
  const count = `${stats.tokens} token${stats.tokens === 1 ? '' : 's'}`;
  return typeof stats.tokens_per_s === 'number' ? `${count} · ${formatRate(stats.tokens_per_s, 'tok/s')}` : count;
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

/**
 * The text box's placeholder: what to write, in this mode, before and after the first turn.
 * It offers only what the chat model was taught: new stories, not changes to one.
 */
export function placeholderFor(mode, started) {
  const placeholders = {
    chat: started ? 'Ask for another story…' : 'Tell me a story about…',
    story: started ? 'What happens next?' : 'Once upon a time…',
  };
  return placeholders[mode];
}

export function relativeTime(ts, now = Date.now()) {
  const s = Math.round((now - ts) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(ts).toLocaleDateString();
}
