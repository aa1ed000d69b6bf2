//! Crash consistency of `slm-train train` on the smoke config: SIGKILL at five moments
//! (a checkpoint is written after every step, so kills land in checkpoint writes too), then
//! `--resume` each time; the final weights must be bit-identical to an uninterrupted run.
//! A damaged newest checkpoint is reported and the previous good one is used.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use slm_data::{PrepareConfig, TokenizerSource};
use slm_tokenizer::TrainOptions;

const STEPS: &str = "100";

mod common;
use common::{fixture, repo};

fn prepare(dir: &Path) -> (PathBuf, PathBuf) {
    let mut prep = PrepareConfig::new(
        vec![fixture("tinystories-train-160.txt")],
        vec![fixture("tinystories-valid-40.txt")],
        dir.to_path_buf(),
    );
    prep.tokenizer = TokenizerSource::Train {
        options: TrainOptions {
            vocab_size: 400,
            ..TrainOptions::default()
        },
        sample_bytes: slm_data::DEFAULT_SAMPLE_BYTES,
    };
    slm_data::prepare(&prep).expect("fixture prepares");
    (dir.join("train"), dir.join("valid"))
}

fn train_cmd(run: &Path, data: &(PathBuf, PathBuf), resume: bool, steps: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_slm-train"));
    cmd.current_dir(repo())
        .args(["train", "--config", "configs/smoke.toml", "--no-progress"])
        .arg("--out")
        .arg(run)
        .arg("--train-data")
        .arg(&data.0)
        .arg("--valid-data")
        .arg(&data.1)
        .args([
            "--max-steps",
            steps,
            "--checkpoint-every",
            "1",
            "--eval-every",
            "20",
        ])
        .args(["--set", "checkpoint.keep=3", "--set", "model.dropout=0.1"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
    if resume {
        cmd.arg("--resume");
    }
    cmd
}

fn export_weights(run: &Path, out: &Path) -> Vec<u8> {
    let status = Command::new(env!("CARGO_BIN_EXE_slm-train"))
        .args(["export", "--dtype", "f32", "--run"])
        .arg(run)
        .arg("--out")
        .arg(out)
        .env("RUST_LOG", "warn")
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read(out.join("model.safetensors")).unwrap()
}

fn last_step(run: &Path) -> u64 {
    slm_trainer::latest_checkpoint(run)
        .unwrap()
        .and_then(|d| d.file_name()?.to_str()?.strip_prefix("step-")?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn kill_9_and_resume_gives_the_uninterrupted_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let data = prepare(&tmp.path().join("data"));

    let straight = tmp.path().join("straight");
    let t0 = Instant::now();
    assert!(
        train_cmd(&straight, &data, false, STEPS)
            .status()
            .unwrap()
            .success()
    );
    let full = t0.elapsed();
    let reference = export_weights(&straight, &tmp.path().join("straight-model"));

    // Five kills, each after a fresh start or resume: three at moments spread over the run
    // (a fixed pseudo-random sequence, so failures reproduce) and two as soon as a
    // checkpoint is being written (its `.tmp` directory exists).
    let crashed = tmp.path().join("crashed");
    let ckpt_dir = crashed.join("checkpoints");
    let writing = || {
        std::fs::read_dir(&ckpt_dir).map_or(0, |d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            })
            .count()
        })
    };
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut kills = Vec::new();
    for i in 0..5 {
        let mut child = train_cmd(&crashed, &data, i > 0, STEPS).spawn().unwrap();
        if i % 2 == 1 {
            let deadline = Instant::now() + full;
            while writing() == 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_micros(200));
            }
        } else {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let frac = 0.05 + (x % 1000) as f64 / 1000.0 * 0.1;
            std::thread::sleep(full.mul_f64(frac));
        }
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        kills.push((last_step(&crashed), writing()));
    }
    let out = train_cmd(&crashed, &data, true, STEPS).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("kills (newest complete checkpoint, half-written checkpoint dirs): {kills:?}");
    let steps: u64 = STEPS.parse().unwrap();
    assert!(
        kills.iter().all(|k| k.0 < steps) && kills.iter().any(|k| k.1 > 0),
        "every kill must interrupt the run, one of them inside a checkpoint write: {kills:?}"
    );
    let resumed = export_weights(&crashed, &tmp.path().join("crashed-model"));
    assert!(
        resumed == reference,
        "weights after 5 kills differ from the uninterrupted run"
    );
}

#[test]
fn a_damaged_newest_checkpoint_is_reported_and_the_previous_one_used() {
    let tmp = tempfile::tempdir().unwrap();
    let data = prepare(&tmp.path().join("data"));
    let run = tmp.path().join("run");
    assert!(
        train_cmd(&run, &data, false, "6")
            .status()
            .unwrap()
            .success()
    );
    let ckpts = slm_trainer::list_checkpoints(&run).unwrap();
    let newest = &ckpts.last().unwrap().1;
    assert!(newest.ends_with("step-00000006"), "{ckpts:?}");
    // Truncate the newest model file, as a full disk or a crash of the machine might.
    let model = newest.join("model.bpk");
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(&model, &bytes[..bytes.len() / 2]).unwrap();

    let mut resume = train_cmd(&run, &data, true, "8");
    resume.env("RUST_LOG", "info");
    let out = resume.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("skipping an unusable checkpoint")
            && stderr.contains("step-00000006")
            && stderr.contains("content hash differs"),
        "{stderr}"
    );
    assert!(
        stderr.contains("resuming from") && stderr.contains("step-00000005"),
        "{stderr}"
    );
    assert_eq!(last_step(&run), 8);

    // With every checkpoint damaged, resume refuses and says why for each.
    for (_, dir) in slm_trainer::list_checkpoints(&run).unwrap() {
        std::fs::write(dir.join("trainer_state.json"), "{").unwrap();
    }
    let out = train_cmd(&run, &data, true, "8").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("no usable checkpoint") && stderr.matches("corrupt").count() >= 3,
        "{stderr}"
    );
}
