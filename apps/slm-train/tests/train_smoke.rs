//! `slm-train train --config configs/smoke.toml` end to end on the TinyStories fixtures in `../shared`:
//! validation loss must fall clearly, and the run must leave checkpoints, metrics and the
//! plot; then resume, export and eval the result, and start a new run from the export.
//! The tokenizer (400 tokens) is smaller than the model's 512 rows; the loss covers every
//! row, so the padding rows end up with ~no probability: the full-vocabulary perplexity an
//! outside tool computes agrees with the tokenizer-rows one within 1 %.

use std::path::Path;
use std::process::Command;

use slm_data::{PrepareConfig, TokenizerSource};
use slm_tokenizer::TrainOptions;

mod common;
use common::{fixture, repo};

fn slm_train(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_slm-train"))
        .args(args)
        .current_dir(repo())
        .env("RUST_LOG", "warn")
        .output()
        .expect("slm-train runs")
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "slm-train failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn eval_losses(run: &Path) -> Vec<(u64, f64)> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "eval")
        .map(|v| (v["step"].as_u64().unwrap(), v["loss"].as_f64().unwrap()))
        .collect()
}

const TOKENIZER_VOCAB: usize = 400;

#[test]
fn smoke_config_trains_resumes_exports_and_evaluates() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut prep = PrepareConfig::new(
        vec![fixture("tinystories-train-160.txt")],
        vec![fixture("tinystories-valid-40.txt")],
        data.clone(),
    );
    prep.tokenizer = TokenizerSource::Train {
        options: TrainOptions {
            vocab_size: TOKENIZER_VOCAB,
            ..TrainOptions::default()
        },
        sample_bytes: slm_data::DEFAULT_SAMPLE_BYTES,
    };
    slm_data::prepare(&prep).expect("fixture prepares");

    let run = tmp.path().join("run");
    let (train_dir, valid_dir) = (data.join("train"), data.join("valid"));
    let base = [
        "train",
        "--config",
        "configs/smoke.toml",
        "--out",
        run.to_str().unwrap(),
        "--train-data",
        train_dir.to_str().unwrap(),
        "--valid-data",
        valid_dir.to_str().unwrap(),
        "--no-progress",
    ];
    ok(&slm_train(&base));

    let evals = eval_losses(&run);
    assert_eq!(
        evals.iter().map(|e| e.0).collect::<Vec<_>>(),
        vec![50, 100, 150]
    );
    let uniform = (TOKENIZER_VOCAB as f64).ln();
    let last = evals.last().unwrap().1;
    assert!(
        last < uniform - 1.5 && last < evals[0].1,
        "validation loss did not fall clearly: {evals:?} (uniform {uniform:.2})"
    );
    for f in [
        "loss.png",
        "config.resolved.toml",
        "checkpoints/step-00000150/model.bpk",
    ] {
        assert!(run.join(f).is_file(), "missing {f}");
    }
    assert!(
        !run.join("checkpoints/step-00000050").exists(),
        "keep = 2 prunes step 50"
    );

    // A second plain `train` must not clobber the run; `--resume` continues it.
    let again = slm_train(&base);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--resume"));
    let mut resume = base.to_vec();
    resume.extend(["--resume", "--max-steps", "160", "--eval-every", "10"]);
    ok(&slm_train(&resume));
    let evals = eval_losses(&run);
    assert_eq!(evals.last().unwrap().0, 160);

    let model = tmp.path().join("model");
    ok(&slm_train(&[
        "export",
        "--run",
        run.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--dtype",
        "f32",
    ]));
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "generation.json",
    ] {
        assert!(model.join(f).is_file(), "export missing {f}");
    }
    let line = ok(&slm_train(&[
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--data",
        valid_dir.to_str().unwrap(),
        "--seq-len",
        "64",
    ]));
    let report: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    let loss = report["loss"].as_f64().unwrap();
    // Same weights (f32 export), same windows as the step-160 evaluation during training.
    assert!(
        (loss - evals.last().unwrap().1).abs() < 1e-3,
        "eval {loss} vs in-training {}",
        evals.last().unwrap().1
    );
    let ppl = report["perplexity"].as_f64().unwrap();
    assert!((ppl - loss.exp()).abs() < 1e-6 * ppl);
    // Vocabulary consistency: the whole 512-row softmax and the tokenizer's 400 rows agree.
    assert_eq!(report["vocab_rows"], 512, "{report}");
    let narrow = &report["tokenizer_rows"];
    assert_eq!(narrow["rows"], TOKENIZER_VOCAB, "{report}");
    let narrow_ppl = narrow["perplexity"].as_f64().unwrap();
    assert!(
        narrow_ppl <= ppl && ppl < 1.01 * narrow_ppl,
        "padding rows keep probability: full-vocabulary perplexity {ppl} vs {narrow_ppl} over \
         the tokenizer's rows"
    );
    assert!(report["bits_per_byte"].as_f64().unwrap() > 0.0);
    assert!(report["bytes"].as_u64().unwrap() > 20_000, "{report}");

    // Checkpoint averaging: the mean of steps 150 and 160 is a working model whose loss is
    // in the neighbourhood of the two it averages.
    let averaged = tmp.path().join("averaged");
    ok(&slm_train(&[
        "export",
        "--run",
        run.to_str().unwrap(),
        "--out",
        averaged.to_str().unwrap(),
        "--dtype",
        "f32",
        "--average",
        "2",
    ]));
    assert_ne!(
        std::fs::read(averaged.join("model.safetensors")).unwrap(),
        std::fs::read(model.join("model.safetensors")).unwrap()
    );
    let line = ok(&slm_train(&[
        "eval",
        "--model",
        averaged.to_str().unwrap(),
        "--data",
        valid_dir.to_str().unwrap(),
        "--seq-len",
        "64",
    ]));
    let avg: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    let avg_loss = avg["loss"].as_f64().unwrap();
    assert!(
        (avg_loss - loss).abs() < 0.2,
        "averaged {avg_loss} vs last {loss}"
    );
    let too_many = slm_train(&[
        "export",
        "--run",
        run.to_str().unwrap(),
        "--out",
        averaged.to_str().unwrap(),
        "--average",
        "3",
    ]);
    assert!(!too_many.status.success());
    assert!(String::from_utf8_lossy(&too_many.stderr).contains("only 2 complete checkpoints"));

    // Interpolation: the newest checkpoint mixed 0.25 with the averaged model is, tensor by
    // tensor, 0.25 × the exported model + 0.75 × the averaged one; a mix outside (0, 1] is
    // refused.
    let mixed = tmp.path().join("mixed");
    let mix_args = |mix: &str| {
        slm_train(&[
            "export",
            "--run",
            run.to_str().unwrap(),
            "--out",
            mixed.to_str().unwrap(),
            "--dtype",
            "f32",
            "--mix-with",
            averaged.to_str().unwrap(),
            "--mix",
            mix,
        ])
    };
    ok(&mix_args("0.25"));
    let read = |dir: &Path| std::fs::read(dir.join("model.safetensors")).unwrap();
    let (m, a, x) = (read(&model), read(&averaged), read(&mixed));
    let parse = safetensors::SafeTensors::deserialize;
    let (m, a, x) = (parse(&m).unwrap(), parse(&a).unwrap(), parse(&x).unwrap());
    let f32s = |st: &safetensors::SafeTensors, name: &str| -> Vec<f32> {
        st.tensor(name)
            .unwrap()
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    assert_eq!(x.names().len(), m.names().len());
    for name in m.names() {
        for ((mv, av), xv) in f32s(&m, name)
            .into_iter()
            .zip(f32s(&a, name))
            .zip(f32s(&x, name))
        {
            let want = 0.25 * mv + 0.75 * av;
            assert!(
                (xv - want).abs() <= 1e-6 * (1.0 + want.abs()),
                "{name}: {xv} vs {want}"
            );
        }
    }
    let bad = mix_args("1.5");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--mix must be in (0, 1]"));

    // The exported directory is a Hugging Face one.
    let hf: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("config.json")).unwrap()).unwrap();
    assert_eq!(hf["model_type"], "llama");
    assert_eq!(hf["eos_token_id"], 0);
    for f in ["tokenizer_config.json", "generation_config.json"] {
        assert!(model.join(f).is_file(), "export missing {f}");
    }

    // GGUF: f16 works; Q8_0 needs rows a multiple of 32 wide (hidden_dim 176 is not) and
    // says so instead of writing a file llama.cpp would misread.
    let gguf = tmp.path().join("model.gguf");
    let gguf_arg = gguf.to_str().unwrap();
    let model_arg = model.to_str().unwrap();
    ok(&slm_train(&[
        "export", "--model", model_arg, "--format", "gguf", "--dtype", "f16", "--out", gguf_arg,
    ]));
    let bytes = std::fs::read(&gguf).unwrap();
    assert_eq!(&bytes[..4], b"GGUF");
    assert_eq!(u32::from_le_bytes(bytes[4..8].try_into().unwrap()), 3);
    // At least the f16 embedding of the tokenizer's 400 rows x 64.
    assert!(
        bytes.len() > TOKENIZER_VOCAB * 64 * 2,
        "{} bytes",
        bytes.len()
    );
    let q8 = slm_train(&[
        "export", "--model", model_arg, "--format", "gguf", "--dtype", "q8_0", "--out", gguf_arg,
    ]);
    assert!(!q8.status.success());
    assert!(String::from_utf8_lossy(&q8.stderr).contains("multiple of 32"));

    // Sample quality figures on the exported model: 20 built-in prompts x 2 seeds.
    let texts = tmp.path().join("samples.jsonl");
    let line = ok(&slm_train(&[
        "sample-quality",
        "--model",
        model.to_str().unwrap(),
        "--seeds",
        "2",
        "--max-tokens",
        "24",
        "--dry-multiplier",
        "0.8",
        "--texts",
        texts.to_str().unwrap(),
    ]));
    let q: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(q["samples"], 40, "{q}");
    let dry = q["sampling"]["dry_multiplier"].as_f64().unwrap();
    assert!((dry - 0.8).abs() < 1e-6, "{q}");
    let samples: Vec<serde_json::Value> = std::fs::read_to_string(&texts)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(samples.len(), 40);
    assert_eq!(
        (&samples[1]["prompt"], &samples[1]["seed"]),
        (&samples[0]["prompt"], &serde_json::json!(2))
    );
    assert!(samples.iter().all(|s| s["text"].is_string()));
    let share = q["loop_share"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&share), "{q}");
    for key in ["distinct_2", "distinct_3"] {
        let d = q[key].as_f64().unwrap();
        assert!(d > 0.0 && d <= 1.0, "{q}");
    }
    assert!(q["completion_tokens"].as_u64().unwrap() > 40, "{q}");

    // A new run from the exported weights starts where the old one ended, not from scratch.
    let run2 = tmp.path().join("run2");
    let mut init = base.to_vec();
    init[4] = run2.to_str().unwrap();
    init.extend([
        "--init-from",
        model_arg,
        "--max-steps",
        "4",
        "--eval-every",
        "4",
    ]);
    ok(&slm_train(&init));
    let evals2 = eval_losses(&run2);
    assert_eq!(evals2.len(), 1);
    assert!(
        evals2[0].1 < uniform - 1.5,
        "--init-from run is not using the exported weights: {evals2:?} (uniform {uniform:.2})"
    );
    instruction_tuning_from(&model, &base, tmp.path());

    // A model of another shape is refused with a clear error.
    let run3 = tmp.path().join("run3");
    let mut wrong = init.clone();
    wrong[4] = run3.to_str().unwrap();
    wrong.extend(["--set", "model.n_layers=3"]);
    let out = slm_train(&wrong);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("different model shape"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Instruction tuning from the exported smoke model: the run adds the chat tokens to its
/// tokenizer, trains on conversations made from the fixture stories mixed with plain
/// windows, resumes, exports a model that declares its chat template, and `chat-eval`
/// scores it in the chat format.
fn instruction_tuning_from(model: &Path, base: &[&str], tmp: &Path) {
    let config = tmp.join("chat.toml");
    let stories = fixture("tinystories-train-160.txt");
    std::fs::write(
        &config,
        std::fs::read_to_string(repo().join("configs/smoke.toml")).unwrap()
            + &format!("\n[instruct]\nstories = [{:?}]\nshare = 0.8\n", stories),
    )
    .unwrap();
    let run = tmp.join("chat-run");
    let mut args = base.to_vec();
    args[2] = config.to_str().unwrap();
    args[4] = run.to_str().unwrap();
    let mut first = args.clone();
    first.extend(["--init-from", model.to_str().unwrap(), "--max-steps", "20"]);
    first.extend(["--set", "checkpoint.every=10", "--eval-every", "10"]);
    ok(&slm_train(&first));
    let mut resume = args.clone();
    resume.extend(["--resume", "--max-steps", "30", "--eval-every", "10"]);
    ok(&slm_train(&resume));
    assert_eq!(eval_losses(&run).last().unwrap().0, 30);
    let tok = slm_tokenizer::Tokenizer::from_file(run.join("tokenizer.json")).unwrap();
    let template = slm_tokenizer::ChatTemplate::of(&tok).expect("chat tokens added");
    assert_eq!(template.user as usize, TOKENIZER_VOCAB);

    let chat_model = tmp.join("chat-model");
    ok(&slm_train(&[
        "export",
        "--run",
        run.to_str().unwrap(),
        "--out",
        chat_model.to_str().unwrap(),
    ]));
    let tc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(chat_model.join("tokenizer_config.json")).unwrap())
            .unwrap();
    assert_eq!(tc["chat_template"], slm_tokenizer::chat::JINJA);
    let valid = fixture("tinystories-valid-40.txt");
    let line = ok(&slm_train(&[
        "chat-eval",
        "--model",
        chat_model.to_str().unwrap(),
        "--stories",
        valid.to_str().unwrap(),
        "--requests",
        "6",
        "--off-topic",
        "3",
        "--max-tokens",
        "16",
    ]));
    let report: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(report["format"], "chat", "{report}");
    let scores = &report["scores"];
    assert_eq!(scores["story_requests"], 6, "{report}");
    assert_eq!(scores["off_topic_questions"], 3, "{report}");
    assert!(
        scores["words_requested"].as_u64().unwrap() + scores["names_requested"].as_u64().unwrap()
            >= 6
    );
    for key in ["words_used", "names_used", "in_character"] {
        assert!(
            (0.0..=1.0).contains(&scores[key].as_f64().unwrap()),
            "{report}"
        );
    }
}

/// Logs go to files and pipes as plain text (no ANSI colour codes), or as JSON lines with
/// `SLM_LOG_FORMAT=json`.
#[test]
fn logs_have_no_colour_codes_off_a_terminal_and_can_be_json() {
    for json in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_slm-train"));
        cmd.args(["prepare", "--vocab-size", "300", "--no-progress", "--train"])
            .arg(fixture("tinystories-train-160.txt"))
            .arg("--valid")
            .arg(fixture("tinystories-valid-40.txt"))
            .arg("--out")
            .arg(tmp.path())
            .env("RUST_LOG", "info")
            .env_remove("NO_COLOR");
        if json {
            cmd.env("SLM_LOG_FORMAT", "json");
        } else {
            cmd.env_remove("SLM_LOG_FORMAT");
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success());
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains("split written"), "{stderr}");
        // One line per input file with what cleaning did to it.
        let file_line = stderr
            .lines()
            .find(|l| l.contains("input file") && l.contains("tinystories-valid-40.txt"))
            .unwrap_or_else(|| panic!("no per-file line:\n{stderr}"));
        if json {
            let v: serde_json::Value = serde_json::from_str(file_line).unwrap();
            assert_eq!(
                (&v["fields"]["read"], &v["fields"]["kept"]),
                (&40.into(), &40.into())
            );
        } else {
            assert!(file_line.contains("read=40 kept=40"), "{file_line}");
        }
        assert!(!stderr.contains('\u{1b}'), "ANSI codes in logs:\n{stderr}");
        if json {
            for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
                let v: serde_json::Value =
                    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
            }
        }
    }
}
