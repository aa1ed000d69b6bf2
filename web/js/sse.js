// Incremental Server-Sent Events parser. EventSource cannot POST, so the chat
// reads the fetch body itself; network chunks split lines anywhere, so this
// buffers until a full line and a blank line (end of event) have arrived.

/**
 * Feed decoded text with `push`, call `end` when the body is finished.
 * `onEvent({ event, data })` fires once per complete event.
 */
export class SseParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = '';
    this.dataLines = [];
    this.eventName = '';
  }

  push(text) {
    this.buffer += text;
    let start = 0;
    for (;;) {
      const cr = this.buffer.indexOf('\r', start);
      const lf = this.buffer.indexOf('\n', start);
      if (cr === -1 && lf === -1) break;
      let end;
      let next;
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        // A lone CR at the very end may be the first half of CRLF: wait.
        if (cr === this.buffer.length - 1) break;
        end = cr;
        next = this.buffer[cr + 1] === '\n' ? cr + 2 : cr + 1;
      } else {
        end = lf;
        next = lf + 1;
      }
      this.#line(this.buffer.slice(start, end));
      start = next;
    }
    this.buffer = this.buffer.slice(start);
  }

  /** The body ended: a trailing line without its newline still counts. */
  end() {
    if (this.buffer.length > 0) {
      this.#line(this.buffer.replace(/\r$/, ''));
      this.buffer = '';
    }
    this.#dispatch();
  }

  #line(line) {
    if (line === '') {
      this.#dispatch();
      return;
    }
    if (line.startsWith(':')) return; // comment / keep-alive
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.dataLines.push(value);
    else if (field === 'event') this.eventName = value;
  }

  #dispatch() {
    if (this.dataLines.length > 0) {
      this.onEvent({ event: this.eventName || 'message', data: this.dataLines.join('\n') });
    }
    this.dataLines = [];
    this.eventName = '';
  }
}
