//! Replays the fuzz corpus and every regression input on stable: each file under
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` must go through its target
//! without a panic. The seeds are replayed too, so the targets run even before any
//! fuzzing has produced a corpus.

use std::path::Path;

fn replay_dir(target: &str, dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let run = slm_fuzz::target(target).expect("known target");
    let mut n = 0;
    for entry in entries {
        let path = entry.expect("readable corpus directory").path();
        let bytes = std::fs::read(&path).expect("readable corpus file");
        if std::panic::catch_unwind(|| run(&bytes)).is_err() {
            panic!("{target}: {} makes the target panic", path.display());
        }
        n += 1;
    }
    n
}

#[test]
fn corpus_and_regressions_replay_cleanly() {
    let fuzz = slm_fuzz::repo_root().join("fuzz");
    let mut total = 0;
    for (target, _) in slm_fuzz::TARGETS {
        for kind in ["corpus", "regressions"] {
            total += replay_dir(target, &fuzz.join(kind).join(target));
        }
    }
    eprintln!("replayed {total} committed fuzz inputs");
}

#[test]
fn seeds_cover_every_target_and_replay_cleanly() {
    let seeds = slm_fuzz::seeds();
    for (target, _) in slm_fuzz::TARGETS {
        assert!(
            seeds.iter().any(|(t, _, _)| t == target),
            "no seed for {target}"
        );
    }
    for (target, name, bytes) in &seeds {
        slm_fuzz::target(target).expect("known target")(bytes);
        let _ = name;
    }
}

/// The seeds get far: each is accepted by the reader it feeds (a seed that is refused
/// would leave the fuzzer mutating an error path).
#[test]
fn seeds_are_valid_inputs() {
    for (target, name, b) in slm_fuzz::seeds() {
        let dir = tempfile::tempdir().unwrap();
        match target {
            "shards" => {
                let nul = b.iter().position(|&x| x == 0).unwrap();
                std::fs::write(dir.path().join("meta.json"), &b[..nul]).unwrap();
                std::fs::write(dir.path().join(slm_fuzz::SHARD_FILE), &b[nul + 1..]).unwrap();
                let ds = slm_data::TokenDataset::open(dir.path()).unwrap();
                ds.verify_checksums().unwrap();
            }
            "trainer_state" => {
                for (file, bytes) in slm_fuzz::CHECKPOINT_FILES {
                    std::fs::write(dir.path().join(file), bytes).unwrap();
                }
                std::fs::write(dir.path().join("trainer_state.json"), &b).unwrap();
                slm_trainer::Checkpoint::open(dir.path()).unwrap();
            }
            "run_config" => {
                let text = std::str::from_utf8(&b).unwrap();
                slm_trainer::TrainConfig::from_toml(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            "safetensors" => {
                let config = slm_fuzz::micro_config().to_json();
                std::fs::write(dir.path().join("config.json"), config).unwrap();
                std::fs::write(dir.path().join("model.safetensors"), &b).unwrap();
                slm_infer::NativeModel::load(dir.path()).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            _ => {}
        }
    }
}
