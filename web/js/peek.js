// "Peek inside": shows how the model chose each token of a reply. Every token is shaded
// by how unlikely it was (the model's own probability, from the server's logprobs), and
// hovering, tapping or focusing one shows the five tokens the model rated likeliest there.
// Pure helpers are exported for the unit tests; the DOM part never builds HTML from text.

const lossy = new TextDecoder();
const encoder = new TextEncoder();

/**
 * A chat `logprobs.content` entry in the compact form stored with a message:
 * `{ t: text, b: bytes, p: logprob, top: [[text, logprob], ...] }` (logprobs rounded).
 */
export function compactToken(entry) {
  const round = (x) => Math.round(x * 1000) / 1000;
  return {
    t: String(entry.token ?? ''),
    b: Array.isArray(entry.bytes) ? entry.bytes : null,
    p: round(Number(entry.logprob)),
    top: (entry.top_logprobs ?? []).map((a) => [String(a.token ?? ''), round(Number(a.logprob))]),
  };
}

const isContinuation = (b) => b >= 0x80 && b < 0xc0;

/** Bytes of the UTF-8 sequence a lead byte starts (0: not a lead byte). */
function sequenceLength(lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead < 0xe0) return 2;
  if (lead >= 0xe0 && lead < 0xf0) return 3;
  if (lead >= 0xf0 && lead < 0xf5) return 4;
  return 0;
}

/** True when `bytes` end inside a character whose remaining bytes may still come. */
function waitsForMore(bytes) {
  let i = bytes.length - 1;
  while (i >= 0 && bytes.length - i < 4 && isContinuation(bytes[i])) i--;
  if (i < 0) return false;
  const need = sequenceLength(bytes[i]);
  return need > 1 && bytes.length - i < need && bytes.slice(i + 1).every(isContinuation);
}

/**
 * Groups tokens into pieces of whole characters: a character split over several tokens
 * (an emoji, say) is one piece, whose probability is the product of its tokens'. Bytes
 * that can never form a character (a random model writes such) become U+FFFD, as the
 * server's text does. Each piece: `{ text, logprob, top }`, `top` from its first token.
 */
export function pieces(tokens) {
  const out = [];
  let bytes = [];
  let logprob = 0;
  let first = null;
  const flush = () => {
    if (!first) return;
    out.push({ text: lossy.decode(new Uint8Array(bytes)), logprob, top: first.top });
    bytes = [];
    logprob = 0;
    first = null;
  };
  for (const tok of tokens) {
    const b = tok.b ?? [...encoder.encode(tok.t)];
    // A token that cannot continue the waiting character ends it.
    if (first && !(b.length && isContinuation(b[0]))) flush();
    first ??= tok;
    bytes = bytes.concat(b);
    logprob += tok.p;
    if (!waitsForMore(bytes)) flush();
  }
  flush();
  return out;
}

/** Probability in percent, readable at both ends of the scale. */
export function percent(logprob) {
  const p = Math.exp(logprob) * 100;
  if (p >= 99.95) return '>99.9%';
  if (p >= 10) return `${p.toFixed(0)}%`;
  if (p >= 0.1) return `${p.toFixed(1)}%`;
  return '<0.1%';
}

/** A token as shown in the alternatives list: spaces and line breaks made visible. */
export function showToken(text) {
  return text.replace(/ /g, '␣').replace(/\n/g, '⏎').replace(/\t/g, '⇥') || '∅';
}

/**
 * Fills `textEl` with one span per piece of `content` that the tokens spell, then the
 * rest of `content` as plain text (the server trims trailing spaces, collapses runs of
 * blank lines and cuts at stop sequences, so the tokens may run past the text, or a stop
 * may cut one). Returns the number of spans.
 */
export function renderTokens(textEl, content, tokens) {
  const nodes = [];
  let at = 0;
  for (const piece of pieces(tokens)) {
    // The reply's leading whitespace is not shown (reply.js), so not its tokens' either.
    let text = at === 0 ? piece.text.trimStart() : piece.text;
    if (!text) continue;
    if (!content.startsWith(text, at)) {
      // Whitespace the text lost (the reply's leading space, blank-line runs the server
      // collapses): the piece shows what was kept of it, possibly nothing.
      if (text.trim() !== '') break;
      text = /^\s*/.exec(content.slice(at))[0].slice(0, text.length);
      if (!text) continue;
    }
    const span = document.createElement('span');
    span.className = 'ptok';
    span.tabIndex = nodes.length === 0 ? 0 : -1;
    span.textContent = text;
    span.style.setProperty('--surprise', (1 - Math.exp(piece.logprob)).toFixed(3));
    span.dataset.logprob = String(piece.logprob);
    span.dataset.top = JSON.stringify(piece.top);
    nodes.push(span);
    at += text.length;
  }
  if (at < content.length) nodes.push(document.createTextNode(content.slice(at)));
  textEl.replaceChildren(...nodes);
  textEl.classList.add('peeking');
  return nodes.filter((n) => n.nodeType === 1).length;
}

/**
 * The shared tooltip for token spans inside `root`: shown on hover, focus or tap,
 * hidden on leave, blur or Escape; Left/Right arrows move between a reply's tokens.
 */
export function attachTokenTip(root, tip) {
  let current = null;
  const hide = () => {
    if (!current) return;
    current.removeAttribute('aria-describedby');
    current = null;
    tip.hidden = true;
  };
  const show = (span) => {
    if (current === span) return;
    hide();
    current = span;
    const top = JSON.parse(span.dataset.top || '[]');
    const chosen = Number(span.dataset.logprob);
    const head = document.createElement('p');
    head.className = 'tip-head';
    head.textContent = `“${showToken(span.textContent)}” had a ${percent(chosen)} chance`;
    const list = document.createElement('ol');
    list.className = 'tip-list';
    for (const [text, logprob] of top) {
      const item = document.createElement('li');
      if (text === span.textContent) item.className = 'chosen';
      const name = document.createElement('span');
      name.className = 'tip-token';
      name.textContent = showToken(text);
      const bar = document.createElement('span');
      bar.className = 'tip-bar';
      bar.style.setProperty('--p', Math.exp(logprob).toFixed(3));
      const pct = document.createElement('span');
      pct.className = 'tip-pct';
      pct.textContent = percent(logprob);
      item.append(name, bar, pct);
      list.append(item);
    }
    const caption = document.createElement('p');
    caption.className = 'tip-caption';
    caption.textContent = top.length ? 'The likeliest tokens here:' : 'No alternatives were recorded.';
    tip.replaceChildren(head, caption, list);
    tip.hidden = false;
    span.setAttribute('aria-describedby', tip.id);
    const r = span.getBoundingClientRect();
    const w = tip.offsetWidth;
    const left = Math.max(8, Math.min(window.innerWidth - w - 8, r.left + r.width / 2 - w / 2));
    const below = r.bottom + 8 + tip.offsetHeight < window.innerHeight;
    tip.style.left = `${left + window.scrollX}px`;
    tip.style.top = `${(below ? r.bottom + 8 : r.top - 8 - tip.offsetHeight) + window.scrollY}px`;
  };
  const tokenOf = (node) => (node instanceof Element ? node.closest('.ptok') : null);
  root.addEventListener('mouseover', (e) => {
    const span = tokenOf(e.target);
    if (span) show(span);
  });
  root.addEventListener('mouseout', (e) => {
    if (tokenOf(e.target) && !tokenOf(e.relatedTarget) && document.activeElement !== current) hide();
  });
  root.addEventListener('focusin', (e) => {
    const span = tokenOf(e.target);
    if (span) show(span);
  });
  root.addEventListener('focusout', (e) => {
    if (tokenOf(e.target)) hide();
  });
  root.addEventListener('keydown', (e) => {
    const span = tokenOf(e.target);
    if (!span) return;
    if (e.key === 'Escape') {
      hide();
      return;
    }
    if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
    const all = [...span.parentElement.querySelectorAll('.ptok')];
    const next = all[all.indexOf(span) + (e.key === 'ArrowRight' ? 1 : -1)];
    if (!next) return;
    e.preventDefault();
    span.tabIndex = -1;
    next.tabIndex = 0;
    next.focus();
  });
  return { hide };
}
