//! The engine thread: continuous batching over a [`DecodeModel`].
//!
//! Each iteration admits queued jobs into free slots, drops cancelled or
//! disconnected sequences, then runs one model step holding one decode token
//! for every generating sequence plus at most `prefill_chunk` prompt tokens
//! (so a long prompt is spread over several steps instead of stalling
//! everyone), samples each sequence with its own sampler and sends its text.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use slm_tokenizer::{ChatTemplate, IncrementalDecoder, Tokenizer};

use crate::guide::PlanGuide;
use crate::kernels::Isa;
use crate::model::{DecodeModel, SeqWork};
use crate::output::{FinishReason, OutputFilter};
use crate::request::{Completion, StreamEvent, Timings, TokenChoice, TokenLogprob, Usage};
use crate::sampling::{LogProbs, Sampler, log_probs};
use crate::stream::CancelHandle;
use slm_model::generation::SamplingParams;

/// Counters shared between the engine thread and [`crate::Engine`].
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub shutdown: AtomicBool,
    pub running: AtomicUsize,
    pub completed: AtomicU64,
    pub cancelled: AtomicU64,
    pub failed: AtomicU64,
    pub tokens_generated: AtomicU64,
    pub prompt_tokens: AtomicU64,
}

/// A validated, tokenized request waiting for a slot.
#[derive(Debug)]
pub(crate) struct Job {
    pub tokens: Vec<u32>,
    /// Already bounded by the context.
    pub max_tokens: usize,
    pub sampling: SamplingParams,
    pub seed: u64,
    pub stop: Vec<String>,
    pub trim_to_sentence: bool,
    /// Alternatives per token when log-probabilities are reported.
    pub logprobs: Option<usize>,
    pub plan_bias: f32,
    pub events: flume::Sender<StreamEvent>,
    pub cancel: CancelHandle,
    pub submitted: Instant,
}

struct Seq {
    job: Job,
    slot: usize,
    /// Tokens already in the slot's cache.
    fed: usize,
    /// Last sampled token, fed at the next step.
    last: [u32; 1],
    generated: usize,
    sampler: Sampler,
    decoder: IncrementalDecoder,
    filter: OutputFilter,
    guide: Option<PlanGuide>,
    /// Reported tokens so far (only with `job.logprobs`).
    logprobs: Vec<TokenLogprob>,
    admitted: Instant,
    first_token: Option<Instant>,
    done: bool,
}

impl Seq {
    fn prefilling(&self) -> bool {
        self.fed < self.job.tokens.len()
    }
}

pub(crate) struct Scheduler {
    pub model: Box<dyn DecodeModel>,
    pub tokenizer: Tokenizer,
    pub rx: flume::Receiver<Job>,
    pub shared: Arc<Shared>,
    pub prefill_chunk: usize,
    /// Logits beyond the tokenizer's vocabulary (padding rows) are never sampled.
    pub sample_vocab: usize,
    /// The instruction set the samplers' softmax runs on.
    pub isa: Isa,
}

/// A drawn token, with its log-probabilities and top alternatives (ids) when asked for.
type Drawn = (u32, Option<LogProbs>);

/// Logit values sampled per step (sum over sequences) from which sampling
/// runs in parallel: below it, waking the pool costs more than it saves.
const PARALLEL_SAMPLING_MIN: usize = 16 * 1024;

/// What one batch item is for.
#[derive(Clone, Copy)]
struct Plan {
    seq: usize,
    start: usize,
    len: usize,
    decode: bool,
    want_logits: bool,
}

impl Scheduler {
    pub fn run(mut self) {
        let slots = self.model.num_slots();
        let vocab = self.model.vocab_size();
        let mut free: Vec<usize> = (0..slots).rev().collect();
        let mut seqs: Vec<Seq> = Vec::with_capacity(slots);
        let mut logits = vec![0f32; slots * vocab];
        let mut plans: Vec<Plan> = Vec::with_capacity(slots + 1);
        // Per sequence: the logits row to sample this step, then the token drawn.
        let mut rows: Vec<Option<usize>> = Vec::with_capacity(slots);
        let mut drawn: Vec<Option<Drawn>> = Vec::with_capacity(slots);
        // End of text ends a story or a reply; a chat model's turn markers end it too
        // (the model is about to write the next turn itself).
        let stops: Vec<u32> = match ChatTemplate::of(&self.tokenizer) {
            Some(t) => vec![t.end, t.user, t.assistant],
            None => vec![self.tokenizer.eot_id()],
        };
        loop {
            if self.shared.shutdown.load(Ordering::Acquire) {
                for s in &mut seqs {
                    self.finish(s, FinishReason::Cancelled);
                }
                while let Ok(job) = self.rx.try_recv() {
                    self.cancel_queued(job);
                }
                self.shared.running.store(0, Ordering::Release);
                return;
            }
            while !free.is_empty() {
                match self.rx.try_recv() {
                    Ok(job) => {
                        let slot = free.pop().expect("checked non-empty");
                        seqs.push(self.admit(job, slot));
                    }
                    Err(_) => break,
                }
            }
            if seqs.is_empty() {
                self.shared.running.store(0, Ordering::Release);
                // Idle: wait for work, waking now and then to notice shutdown.
                match self.rx.recv_timeout(Duration::from_millis(20)) {
                    Ok(job) => {
                        let slot = free.pop().expect("all slots free when idle");
                        seqs.push(self.admit(job, slot));
                    }
                    Err(flume::RecvTimeoutError::Timeout) => continue,
                    Err(flume::RecvTimeoutError::Disconnected) => return,
                }
            }
            // A closed channel or a cancel flag ends the sequence now, so its
            // slot is free before this step runs.
            for s in &mut seqs {
                if s.job.cancel.is_cancelled() || s.job.events.is_disconnected() {
                    self.finish(s, FinishReason::Cancelled);
                }
            }
            self.reap(&mut seqs, &mut free);
            if seqs.is_empty() {
                continue;
            }

            plans.clear();
            for (i, s) in seqs.iter().enumerate() {
                if !s.prefilling() {
                    plans.push(Plan {
                        seq: i,
                        start: s.fed,
                        len: 1,
                        decode: true,
                        want_logits: true,
                    });
                }
            }
            let mut budget = self.prefill_chunk;
            for (i, s) in seqs.iter().enumerate() {
                if budget == 0 {
                    break;
                }
                if s.prefilling() {
                    let len = (s.job.tokens.len() - s.fed).min(budget);
                    budget -= len;
                    plans.push(Plan {
                        seq: i,
                        start: s.fed,
                        len,
                        decode: false,
                        want_logits: s.fed + len == s.job.tokens.len(),
                    });
                }
            }
            let batch: Vec<SeqWork<'_>> = plans
                .iter()
                .map(|p| {
                    let s = &seqs[p.seq];
                    SeqWork {
                        slot: s.slot,
                        tokens: if p.decode {
                            &s.last
                        } else {
                            &s.job.tokens[p.start..p.start + p.len]
                        },
                        start_pos: p.start,
                        want_logits: p.want_logits,
                    }
                })
                .collect();
            let result = self.model.step(&batch, &mut logits);
            drop(batch);
            if let Err(e) = result {
                tracing::error!("model step failed: {e}");
                for p in &plans {
                    let s = &mut seqs[p.seq];
                    let _ = s.job.events.send(StreamEvent::Error(e.to_string()));
                    s.done = true;
                    self.shared.failed.fetch_add(1, Ordering::Relaxed);
                }
                self.reap(&mut seqs, &mut free);
                continue;
            }
            rows.clear();
            rows.resize(seqs.len(), None);
            for (j, p) in plans.iter().enumerate() {
                if p.want_logits {
                    rows[p.seq] = Some(j);
                }
            }
            self.sample_all(&mut seqs, &rows, &logits, vocab, &mut drawn);
            for p in &plans {
                let s = &mut seqs[p.seq];
                s.fed += p.len;
                if let Some((tok, lp)) = drawn[p.seq].take() {
                    self.on_token(s, tok, lp, &stops);
                }
            }
            self.reap(&mut seqs, &mut free);
        }
    }

    /// Draws the next token of every sequence with a logits row (`rows[i]`
    /// for `seqs[i]`) into `drawn`. Each sequence samples with its own RNG, so
    /// doing several at once in parallel changes no result; it pays off once
    /// the rows are long enough (a 10k-token vocabulary costs ~40 µs a row).
    fn sample_all(
        &self,
        seqs: &mut [Seq],
        rows: &[Option<usize>],
        logits: &[f32],
        vocab: usize,
        drawn: &mut Vec<Option<Drawn>>,
    ) {
        let n = self.sample_vocab;
        let draw = |(s, r): (&mut Seq, &Option<usize>)| {
            r.map(|j| {
                let row = &logits[j * vocab..j * vocab + n];
                // Plan-guided decoding samples from biased logits; log-probabilities stay
                // the model's own.
                let tok = match s.guide.as_ref().filter(|g| g.active()) {
                    Some(g) => {
                        let mut biased = row.to_vec();
                        g.apply(&mut biased);
                        s.sampler.sample(&biased)
                    }
                    None => s.sampler.sample(row),
                };
                (tok, s.job.logprobs.map(|k| log_probs(row, tok, k)))
            })
        };
        let count = rows.iter().flatten().count();
        if count >= 2 && count * n >= PARALLEL_SAMPLING_MIN {
            seqs.par_iter_mut()
                .zip(rows.par_iter())
                .map(draw)
                .collect_into_vec(drawn);
        } else {
            drawn.clear();
            drawn.extend(seqs.iter_mut().zip(rows).map(draw));
        }
    }

    fn admit(&self, job: Job, slot: usize) -> Seq {
        let sampler = Sampler::new(job.sampling.clone(), job.seed).with_isa(self.isa);
        let filter = OutputFilter::new(job.stop.clone(), job.trim_to_sentence);
        self.shared
            .prompt_tokens
            .fetch_add(job.tokens.len() as u64, Ordering::Relaxed);
        Seq {
            slot,
            fed: 0,
            last: [0],
            generated: 0,
            sampler,
            decoder: self.tokenizer.incremental_decoder(),
            filter,
            guide: (job.plan_bias > 0.0).then(|| PlanGuide::new(job.plan_bias)),
            logprobs: Vec::new(),
            admitted: Instant::now(),
            first_token: None,
            done: false,
            job,
        }
    }

    fn reap(&self, seqs: &mut Vec<Seq>, free: &mut Vec<usize>) {
        seqs.retain(|s| {
            if s.done {
                free.push(s.slot);
            }
            !s.done
        });
        self.shared.running.store(seqs.len(), Ordering::Release);
    }

    fn on_token(&self, s: &mut Seq, tok: u32, lp: Option<LogProbs>, stops: &[u32]) {
        s.generated += 1;
        self.shared.tokens_generated.fetch_add(1, Ordering::Relaxed);
        if s.first_token.is_none() {
            s.first_token = Some(Instant::now());
        }
        if stops.contains(&tok) {
            self.finish(s, FinishReason::Stop);
            return;
        }
        if let Some((logprob, top)) = lp {
            let choice = |id: u32, logprob: f32| TokenChoice {
                id,
                bytes: self.tokenizer.token_bytes(id).unwrap_or_default(),
                logprob,
            };
            let t = TokenLogprob {
                token: choice(tok, logprob),
                top: top.into_iter().map(|(id, lp)| choice(id, lp)).collect(),
            };
            let _ = s.job.events.send(StreamEvent::Token(t.clone()));
            s.logprobs.push(t);
        }
        let text = match s.decoder.push(tok) {
            Ok(t) => t,
            Err(e) => {
                let _ = s.job.events.send(StreamEvent::Error(format!(
                    "cannot decode token {tok}: {e}"
                )));
                s.done = true;
                self.shared.failed.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        if let Some(g) = &mut s.guide {
            g.push(&text, &self.tokenizer);
        }
        let (delta, stopped) = s.filter.push(&text);
        if !delta.is_empty() {
            let _ = s.job.events.send(StreamEvent::Delta(delta));
        }
        if stopped {
            self.finish(s, FinishReason::Stop);
        } else if s.generated >= s.job.max_tokens {
            self.finish(s, FinishReason::Length);
        } else {
            s.last[0] = tok;
        }
    }

    fn finish(&self, s: &mut Seq, reason: FinishReason) {
        if s.done {
            return;
        }
        s.done = true;
        if reason != FinishReason::Cancelled {
            let rest = s.decoder.finish();
            let (d1, _) = s.filter.push(&rest);
            let d2 = s.filter.finish(reason);
            let delta = d1 + &d2;
            if !delta.is_empty() {
                let _ = s.job.events.send(StreamEvent::Delta(delta));
            }
        }
        let now = Instant::now();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let since = |t: Instant| ms(t.saturating_duration_since(s.job.submitted));
        let decode_tokens_per_s = match s.first_token {
            Some(f) if s.generated > 1 => {
                let secs = now.saturating_duration_since(f).as_secs_f64();
                if secs > 0.0 {
                    (s.generated - 1) as f64 / secs
                } else {
                    0.0
                }
            }
            _ => 0.0,
        };
        let completion = Completion {
            text: s.filter.emitted_text().to_string(),
            finish_reason: reason,
            usage: Usage {
                prompt_tokens: s.job.tokens.len(),
                completion_tokens: s.generated,
            },
            timings: Timings {
                queue_ms: since(s.admitted),
                ttft_ms: s.first_token.map_or(0.0, since),
                total_ms: since(now),
                decode_tokens_per_s,
            },
            logprobs: std::mem::take(&mut s.logprobs),
        };
        let _ = s.job.events.send(StreamEvent::Done(completion));
        let counter = match reason {
            FinishReason::Cancelled => &self.shared.cancelled,
            _ => &self.shared.completed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn cancel_queued(&self, job: Job) {
        let waited = job.submitted.elapsed().as_secs_f64() * 1000.0;
        let _ = job.events.send(StreamEvent::Done(Completion {
            text: String::new(),
            finish_reason: FinishReason::Cancelled,
            usage: Usage {
                prompt_tokens: job.tokens.len(),
                completion_tokens: 0,
            },
            timings: Timings {
                queue_ms: waited,
                ttft_ms: 0.0,
                total_ms: waited,
                decode_tokens_per_s: 0.0,
            },
            logprobs: Vec::new(),
        }));
        self.shared.cancelled.fetch_add(1, Ordering::Relaxed);
    }
}
