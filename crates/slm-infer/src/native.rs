//! The native CPU implementation of the model: loads a model directory
//! directly and runs the Transformer with batched, weight-streaming matrix
//! products, a per-slot f32 KV cache and no allocation per token.

use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;

use crate::config::ModelConfig;
use crate::error::InferError;
use crate::kernels::Isa;
use crate::kernels::matrix::{Matrix, SharedOut, WeightDtype};
use crate::kernels::ops::{self, RopeTable};
use crate::model::{DecodeModel, SeqWork, check_batch, kept_vocab_rows};
use crate::weights::ModelWeights;

/// How to load the native model (default: `WeightDtype::default()`, every core, the
/// detected ISA, every vocabulary row).
#[derive(Debug, Clone, Default)]
pub struct NativeOptions {
    pub weight_dtype: WeightDtype,
    /// Worker threads for the matrix products (0 = all cores).
    pub threads: usize,
    /// Instruction set of the kernels (`None`: `SLM_ISA` if set, else the
    /// fastest this CPU supports). Naming one the CPU lacks is an error.
    pub isa: Option<Isa>,
    /// Keep only the first N rows of the embedding and output head (`None`:
    /// all `vocab_size` rows). Logits are then N wide and token ids `>= N`
    /// are rejected. Set it to the tokenizer's size when the config pads the
    /// vocabulary beyond it: rows no token maps to can never be fed nor
    /// sampled, yet dominate the cost of the output projection. Logits of the
    /// kept rows are bit-identical to those of the full model.
    pub vocab_rows: Option<usize>,
}

/// Weights plus everything shared by all sequences.
pub struct NativeModel {
    cfg: ModelConfig,
    /// Rows of the embedding and head held: the logit width (`<= cfg.vocab_size`).
    vocab: usize,
    weights: ModelWeights,
    rope: RopeTable,
    isa: Isa,
    pool: Arc<rayon::ThreadPool>,
}

impl std::fmt::Debug for NativeModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeModel")
            .field("cfg", &self.cfg)
            .field("vocab", &self.vocab)
            .field("isa", &self.isa)
            .finish_non_exhaustive()
    }
}

impl NativeModel {
    /// Loads `dir/config.json` and `dir/model.safetensors` with f32 weights,
    /// the reference precision for comparing against other implementations.
    pub fn load(dir: impl AsRef<Path>) -> Result<NativeModel, InferError> {
        let f32_weights = NativeOptions {
            weight_dtype: WeightDtype::F32,
            ..Default::default()
        };
        NativeModel::load_with(dir, &f32_weights)
    }

    pub fn load_with(
        dir: impl AsRef<Path>,
        opts: &NativeOptions,
    ) -> Result<NativeModel, InferError> {
        let dir = dir.as_ref();
        let cfg = crate::config::read_config(&dir.join("config.json"))?;
        let vocab = kept_vocab_rows(cfg.vocab_size, opts.vocab_rows)?;
        let weights = ModelWeights::load(
            &dir.join("model.safetensors"),
            &cfg,
            opts.weight_dtype,
            vocab,
        )?;
        NativeModel::from_weights(cfg, weights, opts)
    }

    /// Builds the model from loaded weights, whose embedding may already be
    /// cut to fewer rows than `cfg.vocab_size`; `opts.vocab_rows`, if set,
    /// cuts it further (never below what is asked, never past what is held).
    pub fn from_weights(
        cfg: ModelConfig,
        mut weights: ModelWeights,
        opts: &NativeOptions,
    ) -> Result<NativeModel, InferError> {
        cfg.validate()
            .map_err(|e| InferError::Model(e.to_string()))?;
        let vocab = kept_vocab_rows(cfg.vocab_size, opts.vocab_rows)?;
        if weights.vocab_rows() < vocab {
            return Err(InferError::Model(format!(
                "the weights hold {} vocabulary rows, {vocab} requested",
                weights.vocab_rows()
            )));
        }
        weights.truncate_vocab(vocab);
        let threads = if opts.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            opts.threads
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("slm-infer-{i}"))
            .build()
            .map_err(|e| InferError::ThreadPool(e.to_string()))?;
        let isa = Isa::resolve(opts.isa)?;
        Ok(NativeModel {
            vocab,
            rope: RopeTable::new(cfg.head_dim(), cfg.max_seq_len, cfg.rope_theta),
            cfg,
            weights,
            isa,
            pool: Arc::new(pool),
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// Vocabulary rows held: the width of every logit row, and the bound on
    /// input token ids (`<= config().vocab_size`).
    pub fn vocab_rows(&self) -> usize {
        self.vocab
    }

    pub fn isa(&self) -> Isa {
        self.isa
    }

    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Matrices held in another precision than asked for, by tensor name.
    pub fn dtype_exceptions(&self) -> &[(String, WeightDtype)] {
        &self.weights.dtype_exceptions
    }

    /// Bytes of weights held in memory.
    pub fn weights_bytes(&self) -> usize {
        self.weights.bytes()
    }

    /// Logits for every position of `tokens` (`tokens.len() * vocab_rows()`
    /// values, row-major), computed in one pass without any cache reuse.
    pub fn forward_full(&self, tokens: &[u32]) -> Result<Vec<f32>, InferError> {
        if tokens.is_empty() {
            return Err(InferError::InvalidRequest("no tokens to run".into()));
        }
        let mut cache = KvCache::new(&self.cfg, 1, tokens.len().min(self.cfg.max_seq_len));
        let mut scratch = Scratch::default();
        let mut out = vec![0f32; tokens.len() * self.vocab];
        let work = [SeqWork {
            slot: 0,
            tokens,
            start_pos: 0,
            want_logits: true,
        }];
        self.forward(&mut cache, &mut scratch, &work, true, &mut out)?;
        Ok(out)
    }

    /// Negative log-likelihood, in nats, of `tokens[1..]` given what precedes
    /// each (one pass over at most `max_seq_len` tokens; softmax over the
    /// rows held). Divide by `ln 2` and the text's UTF-8 bytes for bits/byte.
    pub fn nll_nats(&self, tokens: &[u32]) -> Result<f64, InferError> {
        let logits = self.forward_full(tokens)?;
        let v = self.vocab;
        Ok(tokens[1..]
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                let row = &logits[i * v..(i + 1) * v];
                let max = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
                let lse = row
                    .iter()
                    .map(|&x| ((x - max) as f64).exp())
                    .sum::<f64>()
                    .ln();
                lse + (max - row[t as usize]) as f64
            })
            .sum())
    }

    /// A decoder with `slots` KV-cache slots of `max_seq_len` positions.
    pub fn decoder(self: Arc<Self>, slots: usize) -> NativeDecoder {
        NativeDecoder {
            cache: KvCache::new(&self.cfg, slots, self.cfg.max_seq_len),
            scratch: Scratch::default(),
            model: self,
        }
    }

    fn validate(&self, cache: &KvCache, batch: &[SeqWork<'_>]) -> Result<(), InferError> {
        check_batch(batch, cache.slots, cache.max_seq, self.vocab)
    }

    /// Runs `batch`; logits go to `out` either for every row (`all_logits`,
    /// `rows × vocab`) or per item as documented on [`DecodeModel::step`].
    fn forward(
        &self,
        cache: &mut KvCache,
        s: &mut Scratch,
        batch: &[SeqWork<'_>],
        all_logits: bool,
        out: &mut [f32],
    ) -> Result<(), InferError> {
        self.validate(cache, batch)?;
        let cfg = &self.cfg;
        let (dim, kv_dim, hidden) = (cfg.dim, cfg.kv_dim(), cfg.hidden_dim);
        let qkv_dim = dim + 2 * kv_dim;
        let vocab = self.vocab;
        let eps = cfg.norm_eps as f32;
        let isa = self.isa;

        s.rows.clear();
        s.logit_rows.clear();
        for (j, w) in batch.iter().enumerate() {
            for (i, t) in w.tokens.iter().enumerate() {
                s.rows.push(Row {
                    slot: w.slot,
                    pos: w.start_pos + i,
                    token: *t,
                });
                if all_logits || (w.want_logits && i + 1 == w.tokens.len()) {
                    s.logit_rows.push((s.rows.len() - 1, j));
                }
            }
        }
        let m = s.rows.len();
        let nl = s.logit_rows.len();
        let need = if all_logits {
            m * vocab
        } else {
            batch.len() * vocab
        };
        if out.len() < need {
            return Err(InferError::InvalidRequest(format!(
                "logits buffer holds {} values, {need} needed",
                out.len()
            )));
        }
        s.ensure(m, nl, cfg, vocab);

        self.pool.install(|| {
            for (r, row) in s.rows.iter().enumerate() {
                self.weights.embed.row_to_f32(
                    isa,
                    row.token as usize,
                    &mut s.x[r * dim..(r + 1) * dim],
                );
            }
            for (l, lw) in self.weights.layers.iter().enumerate() {
                for r in 0..m {
                    let span = r * dim..(r + 1) * dim;
                    ops::rms_norm(&s.x[span.clone()], &lw.attn_norm, eps, &mut s.xn[span]);
                }
                lw.wqkv.matmul(isa, &s.xn, m, &mut s.qkv);
                for (r, row) in s.rows.iter().enumerate() {
                    let q = &mut s.qkv[r * qkv_dim..(r + 1) * qkv_dim];
                    let (qh, kvh) = q.split_at_mut(dim);
                    let (k, v) = kvh.split_at_mut(kv_dim);
                    self.rope.apply(qh, row.pos);
                    self.rope.apply(k, row.pos);
                    let at = cache.index(l, row.slot, row.pos);
                    cache.k[at..at + kv_dim].copy_from_slice(k);
                    cache.v[at..at + kv_dim].copy_from_slice(v);
                }
                self.attention(cache, s, l);
                lw.wo.matmul(isa, &s.att, m, &mut s.tmp);
                add_into(&mut s.x[..m * dim], &s.tmp[..m * dim]);
                for r in 0..m {
                    let span = r * dim..(r + 1) * dim;
                    ops::rms_norm(&s.x[span.clone()], &lw.ffn_norm, eps, &mut s.xn[span]);
                }
                lw.w_gate_up.matmul(isa, &s.xn, m, &mut s.gu);
                for r in 0..m {
                    ops::swiglu(
                        &s.gu[r * 2 * hidden..(r + 1) * 2 * hidden],
                        &mut s.h[r * hidden..(r + 1) * hidden],
                    );
                }
                lw.w_down.matmul(isa, &s.h, m, &mut s.tmp);
                add_into(&mut s.x[..m * dim], &s.tmp[..m * dim]);
            }
            if nl == 0 {
                return;
            }
            for (i, (r, _)) in s.logit_rows.iter().enumerate() {
                ops::rms_norm(
                    &s.x[r * dim..(r + 1) * dim],
                    &self.weights.final_norm,
                    eps,
                    &mut s.xl[i * dim..(i + 1) * dim],
                );
            }
            let head: &Matrix = self.weights.lm_head.as_ref().unwrap_or(&self.weights.embed);
            // Logit rows are already in output order when every row/item wants them.
            let direct = all_logits || nl == batch.len();
            if direct {
                head.matmul(isa, &s.xl, nl, &mut out[..nl * vocab]);
            } else {
                head.matmul(isa, &s.xl, nl, &mut s.logits);
                for (i, (_, j)) in s.logit_rows.iter().enumerate() {
                    out[j * vocab..(j + 1) * vocab]
                        .copy_from_slice(&s.logits[i * vocab..(i + 1) * vocab]);
                }
            }
        });
        Ok(())
    }

    /// Causal attention of every row and head over its slot's cache,
    /// parallel over (row, head) pairs.
    fn attention(&self, cache: &KvCache, s: &mut Scratch, layer: usize) {
        let cfg = &self.cfg;
        let (dim, hd, kv_dim) = (cfg.dim, cfg.head_dim(), cfg.kv_dim());
        let qkv_dim = dim + 2 * kv_dim;
        let group = cfg.n_heads / cfg.n_kv_heads;
        let n_heads = cfg.n_heads;
        let isa = self.isa;
        let out = SharedOut(s.att.as_mut_ptr());
        let rows = &s.rows;
        let qkv = &s.qkv;
        let task = |t: usize| {
            let (r, h) = (t / n_heads, t % n_heads);
            let row = rows[r];
            let q = &qkv[r * qkv_dim + h * hd..r * qkv_dim + (h + 1) * hd];
            let base = cache.index(layer, row.slot, 0) + (h / group) * hd;
            let n_keys = row.pos + 1;
            SCORES.with(|sc| {
                let mut sc = sc.borrow_mut();
                if sc.len() < n_keys {
                    sc.resize(cache.max_seq, 0.0);
                }
                // SAFETY: task t alone writes att[r*dim + h*hd ..][..hd]; `s.att`
                // outlives this parallel section.
                let o = unsafe { std::slice::from_raw_parts_mut(out.at(r * dim + h * hd), hd) };
                ops::attend(
                    isa,
                    q,
                    &cache.k[base..],
                    &cache.v[base..],
                    kv_dim,
                    n_keys,
                    &mut sc,
                    o,
                );
            });
        };
        let total = rows.len() * n_heads;
        let work: usize = rows.iter().map(|r| r.pos + 1).sum::<usize>() * n_heads * hd;
        if work < 64 * 1024 {
            (0..total).for_each(task);
        } else {
            (0..total).into_par_iter().for_each(task);
        }
    }
}

thread_local! {
    static SCORES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn add_into(x: &mut [f32], y: &[f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

#[derive(Debug, Clone, Copy)]
struct Row {
    slot: usize,
    pos: usize,
    token: u32,
}

/// Activations for one step; grown when a larger step arrives, never shrunk,
/// so steady-state decoding allocates nothing.
#[derive(Debug, Default)]
struct Scratch {
    rows: Vec<Row>,
    /// (row index, batch item) pairs that need logits.
    logit_rows: Vec<(usize, usize)>,
    x: Vec<f32>,
    xn: Vec<f32>,
    qkv: Vec<f32>,
    att: Vec<f32>,
    tmp: Vec<f32>,
    gu: Vec<f32>,
    h: Vec<f32>,
    xl: Vec<f32>,
    logits: Vec<f32>,
}

impl Scratch {
    fn ensure(&mut self, m: usize, nl: usize, cfg: &ModelConfig, vocab: usize) {
        let grow = |v: &mut Vec<f32>, n: usize| {
            if v.len() < n {
                v.resize(n, 0.0);
            }
        };
        let dim = cfg.dim;
        grow(&mut self.x, m * dim);
        grow(&mut self.xn, m * dim);
        grow(&mut self.qkv, m * (dim + 2 * cfg.kv_dim()));
        grow(&mut self.att, m * dim);
        grow(&mut self.tmp, m * dim);
        grow(&mut self.gu, m * 2 * cfg.hidden_dim);
        grow(&mut self.h, m * cfg.hidden_dim);
        grow(&mut self.xl, nl * dim);
        grow(&mut self.logits, nl * vocab);
    }
}

/// Keys and values of every slot, `[layer][slot][position][kv_dim]`.
///
/// Allocated zeroed in one go: the OS commits pages only as positions are
/// written, so unused slots and context cost address space, not memory.
#[derive(Debug)]
struct KvCache {
    slots: usize,
    max_seq: usize,
    kv_dim: usize,
    k: Vec<f32>,
    v: Vec<f32>,
}

impl KvCache {
    fn new(cfg: &ModelConfig, slots: usize, max_seq: usize) -> KvCache {
        let n = cfg.n_layers * slots * max_seq * cfg.kv_dim();
        KvCache {
            slots,
            max_seq,
            kv_dim: cfg.kv_dim(),
            k: vec![0.0; n],
            v: vec![0.0; n],
        }
    }

    #[inline]
    fn index(&self, layer: usize, slot: usize, pos: usize) -> usize {
        ((layer * self.slots + slot) * self.max_seq + pos) * self.kv_dim
    }
}

/// [`NativeModel`] plus a slot pool: the engine's default [`DecodeModel`].
#[derive(Debug)]
pub struct NativeDecoder {
    model: Arc<NativeModel>,
    cache: KvCache,
    scratch: Scratch,
}

impl NativeDecoder {
    pub fn model(&self) -> &NativeModel {
        &self.model
    }
}

impl DecodeModel for NativeDecoder {
    fn vocab_size(&self) -> usize {
        self.model.vocab
    }

    fn max_seq_len(&self) -> usize {
        self.model.cfg.max_seq_len
    }

    fn num_slots(&self) -> usize {
        self.cache.slots
    }

    fn step(&mut self, batch: &[SeqWork<'_>], out_logits: &mut [f32]) -> Result<(), InferError> {
        self.model
            .forward(&mut self.cache, &mut self.scratch, batch, false, out_logits)
    }
}
