//! The engine end to end: determinism, batching, stop rules, finish reasons,
//! cancellation, queueing, prompt limits and shutdown.

mod common;

use std::time::Duration;

use common::*;
use slm_infer::{
    Completion, Engine, EngineOptions, FinishReason, GenerateRequest, InferError, PromptOverflow,
    SamplingParams, StreamEvent,
};

/// A script of one visible, non-whitespace token.
fn letter() -> Vec<u32> {
    vec![tiny_tokenizer().encode("a").unwrap()[0]]
}

fn tiny(max_batch: usize) -> Engine {
    Engine::load(
        tiny_dir(),
        EngineOptions {
            max_batch,
            threads: 2,
            ..Default::default()
        },
    )
    .unwrap()
}

/// Sampling with every knob on, penalties included, so that determinism and
/// batching tests cover each sequence's own penalty state.
fn req(prompt: &str, max_tokens: usize, seed: u64) -> GenerateRequest {
    GenerateRequest {
        prompt: prompt.into(),
        max_tokens,
        sampling: SamplingParams {
            temperature: 0.9,
            top_k: Some(200),
            top_p: 0.95,
            seed: Some(seed),
            presence_penalty: 0.1,
            frequency_penalty: 0.1,
            dry_multiplier: 0.8,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Collects a stream; checks that the deltas add up to the final text.
fn collect(stream: slm_infer::GenerationStream) -> Completion {
    let mut text = String::new();
    let mut tokens = Vec::new();
    for ev in stream {
        match ev {
            StreamEvent::Delta(d) => text.push_str(&d),
            StreamEvent::Token(t) => tokens.push(t),
            StreamEvent::Done(c) => {
                assert_eq!(text, c.text, "deltas must add up to the completion text");
                assert_eq!(
                    tokens, c.logprobs,
                    "streamed tokens must be the completion's"
                );
                return c;
            }
            StreamEvent::Error(e) => panic!("error event: {e}"),
        }
    }
    panic!("stream ended without Done");
}

#[test]
fn same_seed_same_text_and_different_seed_differs() {
    let e = tiny(4);
    let a = e.generate(req("Once upon a time", 40, 7)).unwrap();
    let b = e.generate(req("Once upon a time", 40, 7)).unwrap();
    let c = e.generate(req("Once upon a time", 40, 8)).unwrap();
    assert_eq!(a.text, b.text);
    assert_eq!(a.usage, b.usage);
    assert_ne!(a.text, c.text);
    assert!(a.usage.completion_tokens > 0);
}

#[test]
fn a_prompt_tokenized_once_reads_like_its_text() {
    let e = tiny(2);
    let text = e.generate(req("Once upon a time", 30, 3)).unwrap();
    let tokens = GenerateRequest {
        prompt_tokens: Some(e.tokenize("Once upon a time").unwrap()),
        ..req("(only shown)", 30, 3)
    };
    let given = e.generate(tokens).unwrap();
    assert_eq!((given.text, given.usage), (text.text, text.usage));
    assert_eq!(e.tokenize("").unwrap(), vec![e.tokenizer().eot_id()]);
    let vocab = e.tokenizer().vocab_size() as u32;
    let bad = GenerateRequest {
        prompt_tokens: Some(vec![1, vocab]),
        ..req("", 5, 1)
    };
    let err = e.generate(bad).unwrap_err().to_string();
    assert!(err.contains("outside the vocabulary"), "{err}");
}

#[test]
fn batched_output_equals_unbatched_output() {
    let prompts = [
        "Once upon a time",
        "Lily had a dog",
        "",
        "The sun was hot and the birds sang all day long",
    ];
    let alone_engine = tiny(1);
    let alone: Vec<Completion> = prompts
        .iter()
        .enumerate()
        .map(|(i, p)| alone_engine.generate(req(p, 50, i as u64)).unwrap())
        .collect();
    alone_engine.shutdown();

    // All at once, with a small prefill chunk so prefill and decode interleave.
    let e = Engine::load(
        tiny_dir(),
        EngineOptions {
            max_batch: 4,
            prefill_chunk: 3,
            threads: 2,
            ..Default::default()
        },
    )
    .unwrap();
    let streams: Vec<_> = prompts
        .iter()
        .enumerate()
        .map(|(i, p)| e.submit(req(p, 50, i as u64)).unwrap())
        .collect();
    for (s, a) in streams.into_iter().zip(&alone) {
        let c = collect(s);
        assert_eq!(c.text, a.text);
        assert_eq!(c.usage, a.usage);
        assert_eq!(c.finish_reason, a.finish_reason);
    }
}

#[test]
fn max_tokens_and_context_end_give_length() {
    let e = tiny(2);
    let c = collect(
        e.submit(GenerateRequest {
            sampling: SamplingParams::greedy(),
            ..req("Once", 5, 0)
        })
        .unwrap(),
    );
    // Greedy on random weights may hit end-of-text early; otherwise exactly 5 tokens.
    if c.finish_reason == FinishReason::Length {
        assert_eq!(c.usage.completion_tokens, 5);
    } else {
        assert_eq!(c.finish_reason, FinishReason::Stop);
        assert!(c.usage.completion_tokens <= 5);
    }
    // Scripted model that never ends: bounded by the context of 32.
    let tok = tiny_tokenizer();
    let word = tok.encode(" la").unwrap();
    let e = scripted_engine(vec![word[0]], 32, 1, Duration::ZERO, 4);
    let c = e
        .generate(GenerateRequest {
            max_tokens: 1000,
            sampling: SamplingParams::greedy(),
            ..GenerateRequest::new("Once upon a time")
        })
        .unwrap();
    assert_eq!(c.finish_reason, FinishReason::Length);
    assert_eq!(c.usage.prompt_tokens + c.usage.completion_tokens, 32);
}

#[test]
fn end_of_text_stops_and_is_not_emitted() {
    let tok = tiny_tokenizer();
    let mut script = tok.encode(" The cat sat.").unwrap();
    script.push(tok.eot_id());
    let e = scripted_engine(script.clone(), 128, 2, Duration::ZERO, 4);
    let c = collect(
        e.submit(GenerateRequest {
            sampling: SamplingParams::greedy(),
            ..GenerateRequest::new("Once")
        })
        .unwrap(),
    );
    assert_eq!(c.finish_reason, FinishReason::Stop);
    assert_eq!(c.text, " The cat sat.");
    assert_eq!(c.usage.completion_tokens, script.len());
    assert!(c.timings.ttft_ms <= c.timings.total_ms);
}

#[test]
fn stop_sequences_match_across_token_boundaries() {
    let tok = tiny_tokenizer();
    let text = " The dog ran home. THE END and then more words";
    let script = tok.encode(text).unwrap();
    // The stop string must span several tokens for the test to mean anything.
    let pieces: Vec<String> = script.iter().map(|t| tok.decode(&[*t]).unwrap()).collect();
    assert!(pieces.iter().all(|p| !p.contains("THE END")), "{pieces:?}");
    let e = scripted_engine(script, 128, 1, Duration::ZERO, 4);
    let r = GenerateRequest {
        stop: vec!["zzz".into(), "THE END".into()],
        sampling: SamplingParams::greedy(),
        max_tokens: 100,
        ..GenerateRequest::new("Once")
    };
    let stream = e.submit(r).unwrap();
    let mut deltas = Vec::new();
    let mut done = None;
    for ev in stream {
        match ev {
            StreamEvent::Delta(d) => deltas.push(d),
            StreamEvent::Token(_) => {}
            StreamEvent::Done(c) => done = Some(c),
            StreamEvent::Error(e) => panic!("{e}"),
        }
    }
    let c = done.unwrap();
    assert_eq!(c.finish_reason, FinishReason::Stop);
    assert_eq!(c.text, " The dog ran home.");
    assert_eq!(deltas.concat(), c.text);
    assert!(
        deltas
            .iter()
            .all(|d| !d.contains("THE") && !d.contains("END"))
    );
}

#[test]
fn trim_to_sentence_applies_when_stopped_by_length() {
    let tok = tiny_tokenizer();
    let script = tok
        .encode(" He ran. She sat down on the big chair and")
        .unwrap();
    let n = script.len();
    let e = scripted_engine(script, 128, 1, Duration::ZERO, 4);
    let r = GenerateRequest {
        trim_to_sentence: true,
        max_tokens: n,
        sampling: SamplingParams::greedy(),
        ..GenerateRequest::new("Once")
    };
    let c = collect(e.submit(r.clone()).unwrap());
    assert_eq!(c.finish_reason, FinishReason::Length);
    assert_eq!(c.text, " He ran.");
    let c = e
        .generate(GenerateRequest {
            trim_to_sentence: false,
            ..r
        })
        .unwrap();
    assert_eq!(c.text, " He ran. She sat down on the big chair and");
}

#[test]
fn cancel_frees_the_slot_at_the_next_step() {
    let tok = tiny_tokenizer();
    let script = tok.encode(" la la la").unwrap();
    let e = scripted_engine(script, 128, 2, Duration::from_millis(5), 4);
    let s = e
        .submit(GenerateRequest {
            max_tokens: 100,
            sampling: SamplingParams::greedy(),
            ..GenerateRequest::new("Once")
        })
        .unwrap();
    assert!(matches!(s.recv(), Some(StreamEvent::Delta(_))));
    assert_eq!(e.stats().running, 1);
    s.cancel();
    let mut last = None;
    while let Some(ev) = s.recv() {
        last = Some(ev);
    }
    match last {
        Some(StreamEvent::Done(c)) => {
            assert_eq!(c.finish_reason, FinishReason::Cancelled);
            assert!(c.usage.completion_tokens < 100);
        }
        other => panic!("expected Done(cancelled), got {other:?}"),
    }
    assert!(wait_for(|| e.stats().running == 0));
    assert_eq!(e.stats().cancelled, 1);

    // Dropping the stream cancels too (closed channel).
    let s = e
        .submit(GenerateRequest {
            max_tokens: 100,
            ..GenerateRequest::new("Once")
        })
        .unwrap();
    assert!(s.recv().is_some());
    drop(s);
    assert!(wait_for(
        || e.stats().running == 0 && e.stats().cancelled == 2
    ));
    let before = e.stats().tokens_generated;
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(
        e.stats().tokens_generated,
        before,
        "a cancelled sequence kept generating"
    );
}

#[test]
fn full_queue_is_rejected_with_queue_full() {
    let e = scripted_engine(letter(), 128, 1, Duration::from_millis(5), 1);
    let long = || GenerateRequest {
        max_tokens: 120,
        sampling: SamplingParams::greedy(),
        ..GenerateRequest::new("Once")
    };
    let a = e.submit(long()).unwrap();
    assert!(wait_for(|| e.stats().running == 1));
    let b = e.submit(long()).unwrap();
    assert_eq!(e.stats().queued, 1);
    match e.submit(long()) {
        Err(InferError::QueueFull { capacity: 1 }) => {}
        other => panic!("expected QueueFull, got {other:?}"),
    }
    drop(a);
    // The queued request gets the freed slot.
    assert!(matches!(b.recv(), Some(StreamEvent::Delta(_))));
}

#[test]
fn prompt_limits_reject_or_truncate() {
    let e = scripted_engine(letter(), 32, 1, Duration::ZERO, 4);
    let long_prompt = "Once upon a time there was a very long story. ".repeat(10);
    let n = e.tokenizer().encode(&long_prompt).unwrap().len();
    assert!(n > 32);
    match e.submit(GenerateRequest::new(long_prompt.clone())) {
        Err(InferError::PromptTooLong {
            prompt_tokens,
            max_prompt_tokens,
            max_seq_len,
        }) => {
            assert_eq!((prompt_tokens, max_prompt_tokens, max_seq_len), (n, 31, 32));
        }
        other => panic!("expected PromptTooLong, got {other:?}"),
    }
    let c = e
        .generate(GenerateRequest {
            overflow: PromptOverflow::TruncateLeft,
            max_tokens: 8,
            sampling: SamplingParams::greedy(),
            ..GenerateRequest::new(long_prompt)
        })
        .unwrap();
    assert_eq!(c.usage.prompt_tokens, 24);
    assert_eq!(c.usage.completion_tokens, 8);
    assert_eq!(c.finish_reason, FinishReason::Length);
}

#[test]
fn invalid_requests_are_rejected() {
    let e = scripted_engine(letter(), 32, 1, Duration::ZERO, 4);
    let bad = [
        GenerateRequest {
            max_tokens: 0,
            ..GenerateRequest::new("x")
        },
        GenerateRequest {
            sampling: SamplingParams {
                top_p: 0.0,
                ..Default::default()
            },
            ..GenerateRequest::new("x")
        },
        GenerateRequest {
            stop: vec![String::new()],
            ..GenerateRequest::new("x")
        },
        GenerateRequest {
            logprobs: Some(slm_infer::MAX_TOP_LOGPROBS + 1),
            ..GenerateRequest::new("x")
        },
        GenerateRequest {
            plan_bias: -1.0,
            ..GenerateRequest::new("x")
        },
        GenerateRequest {
            plan_bias: f32::NAN,
            ..GenerateRequest::new("x")
        },
    ];
    for r in bad {
        assert!(matches!(e.submit(r), Err(InferError::InvalidRequest(_))));
    }
}

/// Log-probabilities are the model's own (softmax of the raw logits over the tokenizer's
/// vocabulary), whatever the sampling settings: checked against a forward pass of the
/// same weights, for every reported token.
#[test]
fn logprobs_are_the_models_distribution() {
    let e = tiny(2);
    let tok = tiny_tokenizer();
    let prompt = "Once upon a time";
    let c = e
        .generate(GenerateRequest {
            logprobs: Some(5),
            ..req(prompt, 12, 3)
        })
        .unwrap();
    assert!(!c.logprobs.is_empty());
    assert!(c.logprobs.len() <= c.usage.completion_tokens);
    let opts = slm_infer::NativeOptions {
        weight_dtype: e.options().weight_dtype,
        ..Default::default()
    };
    let model = slm_infer::NativeModel::load_with(tiny_dir(), &opts).unwrap();
    let model = std::sync::Arc::new(model);
    let mut decoder = model.decoder(1);
    let vocab = slm_infer::DecodeModel::vocab_size(&decoder);
    let mut logits = vec![0f32; vocab];
    let mut feed = tok.encode(prompt).unwrap();
    let mut pos = 0;
    let mut text = Vec::new();
    for t in &c.logprobs {
        let work = slm_infer::SeqWork {
            slot: 0,
            tokens: &feed,
            start_pos: pos,
            want_logits: true,
        };
        slm_infer::DecodeModel::step(&mut decoder, &[work], &mut logits).unwrap();
        pos += feed.len();
        let row = &logits[..tok.vocab_size()];
        let (want, top) = slm_infer::log_probs(row, t.token.id, 5);
        assert!((t.token.logprob - want).abs() < 1e-3, "{t:?} vs {want}");
        assert_eq!(t.top.len(), 5);
        for (got, (id, lp)) in t.top.iter().zip(&top) {
            assert_eq!(got.id, *id);
            assert!((got.logprob - lp).abs() < 1e-3);
            assert_eq!(got.bytes, tok.token_bytes(*id).unwrap());
        }
        assert!(t.top.windows(2).all(|w| w[0].logprob >= w[1].logprob));
        assert!(t.token.logprob <= t.top[0].logprob + 1e-6);
        text.extend_from_slice(&t.token.bytes);
        feed = vec![t.token.id];
    }
    let text = String::from_utf8_lossy(&text);
    assert!(
        text.starts_with(c.text.trim_end()),
        "token bytes {text:?} spell the completion {:?}",
        c.text
    );
    // Not asked for: nothing reported.
    let plain = e.generate(req(prompt, 4, 3)).unwrap();
    assert!(plain.logprobs.is_empty());
}

#[test]
fn shutdown_cancels_in_flight_and_rejects_new_work() {
    let e = scripted_engine(letter(), 128, 1, Duration::from_millis(5), 4);
    let s = e
        .submit(GenerateRequest {
            max_tokens: 120,
            ..GenerateRequest::new("Once")
        })
        .unwrap();
    let queued = e
        .submit(GenerateRequest {
            max_tokens: 120,
            ..GenerateRequest::new("Once")
        })
        .unwrap();
    assert!(s.recv().is_some());
    e.shutdown();
    let last = s.last();
    assert!(
        matches!(
            last,
            Some(StreamEvent::Done(Completion {
                finish_reason: FinishReason::Cancelled,
                ..
            }))
        ),
        "{last:?}"
    );
    let q = queued.last();
    assert!(
        matches!(
            q,
            Some(StreamEvent::Done(Completion {
                finish_reason: FinishReason::Cancelled,
                ..
            }))
        ),
        "{q:?}"
    );
    assert!(matches!(
        e.submit(GenerateRequest::new("x")),
        Err(InferError::ShuttingDown)
    ));
}

#[test]
fn async_receive_works() {
    let tok = tiny_tokenizer();
    let mut script = tok.encode(" Hi.").unwrap();
    script.push(tok.eot_id());
    let e = scripted_engine(script, 64, 1, Duration::ZERO, 4);
    let s = e
        .submit(GenerateRequest {
            sampling: SamplingParams::greedy(),
            ..GenerateRequest::new("Once")
        })
        .unwrap();
    let text = futures_lite_block_on(async {
        let mut t = String::new();
        while let Some(ev) = s.recv_async().await {
            if let StreamEvent::Delta(d) = ev {
                t.push_str(&d);
            }
        }
        t
    });
    assert_eq!(text, " Hi.");
}

/// Minimal executor: the future only waits on a flume channel fed by another thread.
fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    struct ThreadWaker(std::thread::Thread);
    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park(),
        }
    }
}
