// Friendly wording for failed requests. Kept apart from the DOM code so the
// mapping from error kind to message is easy to read and to test.

/**
 * @param {{kind: string, message: string, retryAfter?: number|null}} error
 * @returns {{ title: string, text: string, retryAfter: number|null }}
 */
export function describeError(error) {
  const retryAfter = typeof error.retryAfter === 'number' && error.retryAfter >= 0 ? error.retryAfter : null;
  switch (error.kind) {
    case 'busy':
      return {
        title: 'The story writer is busy',
        text:
          retryAfter !== null
            ? `Lots of stories are being written right now. Try again in ${retryAfter} s.`
            : 'Lots of stories are being written right now. Try again in a moment.',
        retryAfter,
      };
    case 'down':
      return {
        title: error.partial ? 'The story was cut off' : 'Can’t reach the story writer',
        text: error.partial
          ? 'The connection dropped while the story was being written. What arrived is kept; Retry carries on.'
          : `${error.message} It may be restarting or your connection may be down: try again in a moment.`,
        retryAfter: null,
      };
    case 'auth':
      return { title: 'The server needs an API key', text: error.message, retryAfter: null };
    case 'invalid':
      if (error.code === 'context_length_exceeded') {
        return {
          title: 'That message is too long for the model',
          text: 'The model reads at most 512 tokens (about 2,000 characters), its reply included. Your text is back in the box: shorten it and send it again.',
          retryAfter: null,
        };
      }
      return { title: 'The server did not accept that request', text: error.message, retryAfter: null };
    default:
      return { title: 'Something went wrong while writing', text: error.message, retryAfter: null };
  }
}
