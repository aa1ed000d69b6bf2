//! End-to-end behaviour of the trainer on a tiny model: accumulation equivalence, exact
//! resume, refusal of bad checkpoints, and the artifacts a run writes.

mod common;

use std::sync::atomic::AtomicBool;

use common::{pattern_tokens, tiny_config};
use slm_model::burn::module::{Module, ModuleVisitor, Param};
use slm_model::burn::prelude::*;
use slm_trainer::{
    EMPHASIS, ExampleWindows, InstructConfig, MetricRecord, RunHooks, SequentialTokens,
    TokenWindows, TrainConfig, Trainer, list_checkpoints, read_metrics,
};

fn device() -> Device {
    Device::flex().autodiff()
}

fn windows(cfg: &TrainConfig) -> Box<TokenWindows> {
    Box::new(TokenWindows::new(pattern_tokens(5000, 3), cfg.batch.seq_len + 1, cfg.seed).unwrap())
}

struct Flatten(Vec<f32>);
impl ModuleVisitor for Flatten {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let v = param.val().into_data().convert::<f32>();
        self.0.extend(v.try_to_vec::<f32>().unwrap());
    }
}

fn flat_weights(t: &Trainer) -> Vec<f32> {
    let mut f = Flatten(Vec::new());
    t.model().visit(&mut f);
    f.0
}

#[test]
fn accumulated_step_matches_one_big_batch() {
    let mut big = tiny_config(0.0);
    big.batch.micro_batch = 4;
    big.batch.accum_steps = 1;
    let mut acc = big.clone();
    acc.batch.micro_batch = 2;
    acc.batch.accum_steps = 2;

    let mut a = Trainer::new(big.clone(), device(), windows(&big)).unwrap();
    let mut b = Trainer::new(acc.clone(), device(), windows(&acc)).unwrap();
    assert!(
        flat_weights(&a) == flat_weights(&b),
        "same seed must give the same init"
    );
    for _ in 0..2 {
        let oa = a.step().unwrap();
        let ob = b.step().unwrap();
        // Same 4 windows per step, mean over the same tokens: equal up to f32 summation order.
        assert!(
            (oa.loss - ob.loss).abs() < 1e-5,
            "{} vs {}",
            oa.loss,
            ob.loss
        );
        assert!((oa.grad_norm - ob.grad_norm).abs() < 1e-4 * oa.grad_norm.max(1.0));
        assert_eq!(oa.tokens_seen, ob.tokens_seen);
    }
    let (wa, wb) = (flat_weights(&a), flat_weights(&b));
    let max_diff = wa
        .iter()
        .zip(&wb)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(max_diff < 1e-5, "weights differ by {max_diff}");
    // The steps did change the weights (the comparison is not vacuous).
    let init = flat_weights(&Trainer::new(big.clone(), device(), windows(&big)).unwrap());
    assert!(init.iter().zip(&wa).any(|(x, y)| (x - y).abs() > 1e-4));
}

/// `[instruct] word_weight` weighs the targets marked EMPHASIS and nothing else: at weight 1,
/// or with no token marked, the first step's loss is the plain loss; with marked tokens and
/// weight 4 it is not.
#[test]
fn word_weight_weighs_emphasized_targets() {
    let first_loss = |word_weight: Option<f64>, mark: bool| {
        let mut cfg = tiny_config(0.0);
        cfg.instruct = Some(InstructConfig {
            stories: vec!["unused".into()],
            share: 1.0,
            off_topic_share: 0.0,
            two_turn_share: 0.0,
            follow_up_share: 0.0,
            variants: 1,
            word_sentences: None,
            word_weight,
            emphasize_plan: false,
        });
        let flag = |i: usize| if mark && i % 7 == 3 { EMPHASIS } else { 0 };
        let examples = pattern_tokens(5000, 3)
            .chunks(50)
            .map(|c| {
                c.iter()
                    .enumerate()
                    .map(|(i, &t)| u32::from(t) | flag(i))
                    .collect()
            })
            .collect();
        let windows = ExampleWindows::new(examples, cfg.batch.seq_len + 1, 5).unwrap();
        let mut t = Trainer::new(cfg, device(), Box::new(windows)).unwrap();
        t.step().unwrap().loss
    };
    let plain = first_loss(None, true);
    assert_eq!(first_loss(Some(1.0), true), plain);
    assert_eq!(first_loss(Some(4.0), false), plain);
    let weighted = first_loss(Some(4.0), true);
    assert!((weighted - plain).abs() > 1e-4, "{weighted} vs {plain}");
}

#[test]
fn resume_reproduces_the_uninterrupted_loss_curve() {
    // Dropout on: the per-step RNG seeding must survive the restart too.
    let cfg = tiny_config(0.1);
    let n = 3;
    let straight_dir = tempfile::tempdir().unwrap();
    let mut straight = Trainer::new(cfg.clone(), device(), windows(&cfg)).unwrap();
    let straight_losses: Vec<f64> = (0..2 * n).map(|_| straight.step().unwrap().loss).collect();
    straight.save_checkpoint(straight_dir.path()).unwrap();

    let run = tempfile::tempdir().unwrap();
    let mut first = Trainer::new(cfg.clone(), device(), windows(&cfg)).unwrap();
    let mut losses: Vec<f64> = (0..n).map(|_| first.step().unwrap().loss).collect();
    let ckpt = first.save_checkpoint(run.path()).unwrap();
    drop(first);
    let mut second = Trainer::resume(cfg.clone(), device(), windows(&cfg), &ckpt).unwrap();
    assert_eq!(second.state().step, n as u64);
    losses.extend((0..n).map(|_| second.step().unwrap().loss));

    for (i, (a, b)) in straight_losses.iter().zip(&losses).enumerate() {
        assert!((a - b).abs() <= 1e-6, "step {i}: {a} vs {b}");
    }
    assert!(
        flat_weights(&straight) == flat_weights(&second),
        "weights differ after resume"
    );
}

#[test]
fn corrupt_or_mismatched_checkpoints_are_refused() {
    let cfg = tiny_config(0.0);
    let run = tempfile::tempdir().unwrap();
    let mut t = Trainer::new(cfg.clone(), device(), windows(&cfg)).unwrap();
    t.step().unwrap();
    let ckpt = t.save_checkpoint(run.path()).unwrap();

    let mut other = cfg.clone();
    other.model.n_layers = 3;
    let err = Trainer::resume(other.clone(), device(), windows(&other), &ckpt)
        .err()
        .expect("different model shape must be refused")
        .to_string();
    assert!(err.contains("model config differs"), "{err}");

    let model_file = ckpt.join("model.bpk");
    let mut bytes = std::fs::read(&model_file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&model_file, bytes).unwrap();
    let err = Trainer::resume(cfg.clone(), device(), windows(&cfg), &ckpt)
        .err()
        .expect("corrupt checkpoint must be refused")
        .to_string();
    assert!(err.contains("corrupt"), "{err}");

    std::fs::remove_file(ckpt.join("trainer_state.json")).unwrap();
    let err = Trainer::resume(cfg.clone(), device(), windows(&cfg), &ckpt)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("trainer_state.json"), "{err}");
}

#[test]
fn run_writes_metrics_plot_and_pruned_checkpoints_and_learns() {
    let mut cfg = tiny_config(0.0);
    cfg.optim.max_steps = 40;
    cfg.optim.lr = 0.02;
    cfg.eval.every = 20;
    cfg.checkpoint.every = 10;
    cfg.checkpoint.keep = 2;
    let run = tempfile::tempdir().unwrap();
    let valid = SequentialTokens::new(pattern_tokens(600, 99), 2400).unwrap();
    let before = Trainer::new(cfg.clone(), device(), windows(&cfg))
        .unwrap()
        .evaluate(&valid)
        .unwrap();
    let mut t = Trainer::new(cfg.clone(), device(), windows(&cfg)).unwrap();
    let hooks = RunHooks {
        prompt: vec![0],
        stop_token: None,
        decode: Some(Box::new(|ids: &[u32]| format!("{ids:?}"))),
    };
    let mut events = 0;
    t.run(
        run.path(),
        Some(&valid),
        hooks,
        &AtomicBool::new(false),
        |_| events += 1,
    )
    .unwrap();
    assert!(events >= 40);

    let records = read_metrics(&run.path().join("metrics.jsonl")).unwrap();
    let evals: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            MetricRecord::Eval {
                loss,
                samples,
                bits_per_byte,
                ..
            } => Some((*loss, samples.len(), *bits_per_byte)),
            _ => None,
        })
        .collect();
    assert_eq!(evals.len(), 2);
    let after = evals.last().unwrap();
    assert!(
        after.0 < before.loss - 1.0,
        "validation loss {} -> {}",
        before.loss,
        after.0
    );
    assert_eq!(after.1, 1, "one sampled story per eval");
    assert!(after.2 > 0.0 && after.2 < before.bits_per_byte);
    let steps: Vec<u64> = list_checkpoints(run.path())
        .unwrap()
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(steps, vec![30, 40], "keeps the newest two");
    assert!(run.path().join("config.resolved.toml").is_file());
    let png = std::fs::read(run.path().join("loss.png")).unwrap();
    assert_eq!(&png[..4], b"\x89PNG");
}

#[test]
fn stop_flag_checkpoints_at_the_step_boundary() {
    let cfg = tiny_config(0.0);
    let run = tempfile::tempdir().unwrap();
    let mut t = Trainer::new(cfg.clone(), device(), windows(&cfg)).unwrap();
    let stop = AtomicBool::new(false);
    let mut stopped_at = None;
    t.run(run.path(), None, RunHooks::default(), &stop, |e| {
        if let slm_trainer::TrainEvent::Step { outcome, .. } = e
            && outcome.step == 3
        {
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        if let slm_trainer::TrainEvent::Stopped { step } = e {
            stopped_at = Some(*step);
        }
    })
    .unwrap();
    assert_eq!(stopped_at, Some(3));
    let latest = slm_trainer::latest_checkpoint(run.path()).unwrap().unwrap();
    assert!(latest.ends_with("step-00000003"));
}
