// Human-friendly formatting for the live numbers from /api/info. Missing
// measurements (null) read as "measuring…" rather than a fake zero.

const MISSING = '—';

export function formatCount(n) {
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) return MISSING;
  if (n >= 1e9) return `${trim(n / 1e9)}B`;
  if (n >= 1e6) return `${trim(n / 1e6)}M`;
  if (n >= 1e4) return `${trim(n / 1e3)}K`;
  return n.toLocaleString('en-US');
}

export function formatBytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) return MISSING;
  if (n >= 1e9) return `${trim(n / 1e9)} GB`;
  if (n >= 1e6) return `${trim(n / 1e6)} MB`;
  if (n >= 1e3) return `${trim(n / 1e3)} KB`;
  return `${n} B`;
}

/** Measured rates: null means the server has not measured it yet. */
export function formatRate(n, unit) {
  if (n === null || n === undefined) return 'measuring…';
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) return MISSING;
  const digits = n >= 100 ? 0 : n >= 10 ? 1 : 2;
  return `${n.toFixed(digits)} ${unit}`;
}

export function formatInteger(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return MISSING;
  return Math.round(n).toLocaleString('en-US');
}

function trim(x) {
  // One decimal for readability, none when it adds nothing (15.0M → 15M).
  const s = x >= 100 ? x.toFixed(0) : x.toFixed(1);
  return s.endsWith('.0') ? s.slice(0, -2) : s;
}

/** All display strings for the about/hero sections, keyed by data-info name. */
export function describeInfo(info) {
  const layers = typeof info.layers === 'number' ? info.layers : null;
  const dim = typeof info.dim === 'number' ? info.dim : null;
  return {
    parameters: formatCount(info.parameters),
    weights_bytes: formatBytes(info.weights_bytes),
    dtype: typeof info.dtype === 'string' ? `${info.dtype} weights` : 'weights',
    decode_tokens_per_s: formatRate(info.decode_tokens_per_s, 'tok/s'),
    // The live figure depends on the load, so it is a caption, never the headline (review m2).
    recent_decode:
      typeof info.decode_tokens_per_s === 'number'
        ? `Stories written here lately got ${formatRate(info.decode_tokens_per_s, 'tok/s')} each on average: less while several are written at once.`
        : 'No stories written here yet, so no recent average.',
    // Measured once at start-up: absent means it could not be, not "still measuring".
    single_stream_decode_tokens_per_s:
      typeof info.single_stream_decode_tokens_per_s === 'number' ? formatRate(info.single_stream_decode_tokens_per_s, 'tok/s') : MISSING,
    ttft_ms_p50: formatRate(info.ttft_ms_p50, 'ms'),
    architecture: layers !== null && dim !== null ? `${layers} × ${dim}` : MISSING,
    heads: typeof info.heads === 'number' ? `layers × width · ${info.heads} attention heads` : 'layers × width',
    context_length: typeof info.context_length === 'number' ? `${formatInteger(info.context_length)} tokens` : MISSING,
    vocab_size: typeof info.vocab_size === 'number' ? `${formatInteger(info.vocab_size)}-token vocabulary` : 'vocabulary',
    model: typeof info.model === 'string' ? info.model : 'model',
  };
}
