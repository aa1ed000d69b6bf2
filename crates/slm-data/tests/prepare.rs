//! The preparation pipeline end to end on the TinyStories fixtures in `../shared`.

mod common;

use std::path::Path;

use common::*;
use slm_data::{DataError, DropReason, TokenDataset, TokenizerSource, prepare};
use slm_tokenizer::{EOT, Tokenizer};

fn dir_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = walk(dir);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            (rel, std::fs::read(&p).unwrap())
        })
        .collect()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn prepares_fixture_and_shards_decode_back_to_the_stories() {
    let out = tempfile::tempdir().unwrap();
    let cfg = small_config(vec![train_fixture()], vec![valid_fixture()], out.path());
    let report = prepare(&cfg).unwrap();
    assert!(report.tokenizer_trained);
    assert_eq!(report.splits.len(), 2);
    let (train, valid) = (&report.splits[0], &report.splits[1]);
    assert_eq!((train.num_stories, valid.num_stories), (160, 40));
    assert_eq!(train.cleaning.read, 160);
    assert_eq!(report.overlap_dropped, 0);
    assert!(
        train.shards.len() > 1,
        "small shard size should give several shards"
    );

    let tok = Tokenizer::from_file(out.path().join("tokenizer.json")).unwrap();
    assert_eq!(tok.content_hash(), report.tokenizer_hash);
    let data = TokenDataset::open_for(out.path().join("train"), &tok).unwrap();
    assert_eq!(data.num_tokens(), train.num_tokens);
    let tokens = data.to_vec();
    assert_eq!(tokens.iter().filter(|&&t| t == tok.eot_id()).count(), 160);
    assert_eq!(*tokens.last().unwrap(), tok.eot_id());

    // Decoding the shards gives the cleaned stories joined by separators.
    let text = tok.decode(&tokens).unwrap();
    let decoded: Vec<&str> = text.split(EOT).filter(|s| !s.is_empty()).collect();
    let raw = std::fs::read_to_string(train_fixture()).unwrap();
    let expected: Vec<String> = raw
        .split(EOT)
        .map(slm_data::clean::normalize)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(decoded, expected);
    assert_eq!(
        data.text_bytes(),
        expected.iter().map(|s| s.len() as u64).sum::<u64>()
    );
    // Sources are recorded with their hash.
    let src = &train.sources[0];
    assert_eq!(
        src.sha256,
        slm_data::sha256_hex(&std::fs::read(train_fixture()).unwrap())
    );
    data.verify_checksums().unwrap();
}

#[test]
fn rerun_is_byte_identical() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    prepare(&small_config(
        vec![train_fixture()],
        vec![valid_fixture()],
        a.path(),
    ))
    .unwrap();
    let first = dir_bytes(a.path());
    // Same output directory again, and a fresh one.
    prepare(&small_config(
        vec![train_fixture()],
        vec![valid_fixture()],
        a.path(),
    ))
    .unwrap();
    prepare(&small_config(
        vec![train_fixture()],
        vec![valid_fixture()],
        b.path(),
    ))
    .unwrap();
    assert_eq!(dir_bytes(a.path()), first);
    let fresh = dir_bytes(b.path());
    assert_eq!(fresh.len(), first.len());
    for ((na, da), (nb, db)) in first.iter().zip(&fresh) {
        assert_eq!(na, nb);
        // meta.json embeds no output path, so even a different directory matches.
        assert!(da == db, "{na} differs");
    }
}

#[test]
fn jsonl_zst_input_gives_the_same_tokens_as_text() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = std::fs::read_to_string(valid_fixture()).unwrap();
    let jsonl: String = raw
        .split(EOT)
        .filter(|s| !s.trim().is_empty())
        .map(|s| serde_json::json!({ "story": s }).to_string() + "\n")
        .collect();
    let zst = zstd_file(tmp.path(), "valid.jsonl.zst", jsonl.as_bytes());
    let out_a = tmp.path().join("a");
    let out_b = tmp.path().join("b");
    prepare(&small_config(vec![valid_fixture()], vec![], &out_a)).unwrap();
    prepare(&small_config(vec![zst], vec![], &out_b)).unwrap();
    let a = TokenDataset::open(out_a.join("train")).unwrap();
    let b = TokenDataset::open(out_b.join("train")).unwrap();
    assert_eq!(a.to_vec(), b.to_vec());
}

#[test]
fn overlap_with_validation_and_duplicates_are_removed_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let valid = std::fs::read_to_string(valid_fixture()).unwrap();
    let first_valid = valid.split(EOT).next().unwrap();
    // Two copies of a validation story (one with messy whitespace), a duplicate within the
    // file and one of the fixture's stories again, in a second training file.
    let train = std::fs::read_to_string(train_fixture()).unwrap();
    let extra = format!(
        "{first_valid}{EOT}\n  {}  {EOT}\nDup story.{EOT}\nDup story.\n{EOT}\n{}{EOT}\n",
        first_valid.trim().replace(' ', "  "),
        train.split(EOT).nth(3).unwrap(),
    );
    let path = tmp.path().join("extra.txt");
    std::fs::write(&path, extra).unwrap();
    let out = tmp.path().join("out");
    let mut cfg = small_config(vec![train_fixture(), path], vec![valid_fixture()], &out);
    cfg.clean.dedup = true;
    let report = prepare(&cfg).unwrap();
    assert_eq!(report.overlap_dropped, 2);
    let split = &report.splits[0];
    let stats = &split.cleaning;
    assert_eq!(stats.read, 165);
    assert_eq!(stats.dropped_for(DropReason::Duplicate), 2);
    assert_eq!(stats.kept, 161);
    assert_eq!(split.num_stories, 161);
    // Per input file: the fixture is kept whole; the second file loses all but one story.
    let per_file: Vec<(u64, u64, u64, u64)> = split
        .sources
        .iter()
        .map(|s| {
            let c = &s.cleaning;
            let dup = c.dropped_for(DropReason::Duplicate);
            (
                c.read,
                c.kept,
                dup,
                c.dropped_for(DropReason::OverlapsValidation),
            )
        })
        .collect();
    assert_eq!(per_file, [(160, 160, 0, 0), (5, 1, 2, 2)]);
}

#[test]
fn existing_tokenizer_is_reused() {
    let tmp = tempfile::tempdir().unwrap();
    let first = tmp.path().join("first");
    let r1 = prepare(&small_config(vec![train_fixture()], vec![], &first)).unwrap();
    let second = tmp.path().join("second");
    let mut cfg = small_config(vec![], vec![valid_fixture()], &second);
    cfg.tokenizer = TokenizerSource::Existing(first.join("tokenizer.json"));
    let r2 = prepare(&cfg).unwrap();
    assert!(!r2.tokenizer_trained);
    assert_eq!(r2.tokenizer_hash, r1.tokenizer_hash);
    assert_eq!(r2.splits[0].split, "valid");
}

#[test]
fn shards_from_a_different_tokenizer_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    prepare(&small_config(vec![train_fixture()], vec![], &out)).unwrap();
    // A different vocabulary size gives a different tokenizer.
    let other_dir = tmp.path().join("other");
    let mut cfg = small_config(vec![train_fixture()], vec![], &other_dir);
    cfg.tokenizer = TokenizerSource::Train {
        options: slm_tokenizer::TrainOptions {
            vocab_size: 700,
            ..Default::default()
        },
        sample_bytes: 1 << 30,
    };
    prepare(&cfg).unwrap();
    let other = Tokenizer::from_file(other_dir.join("tokenizer.json")).unwrap();

    let err = TokenDataset::open_for(out.join("train"), &other).unwrap_err();
    assert!(matches!(err, DataError::TokenizerMismatch { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("train") && msg.contains(&other.content_hash()),
        "{msg}"
    );

    // prepare refuses to overwrite them with the other tokenizer unless forced.
    let mut cfg = small_config(vec![train_fixture()], vec![], &out);
    cfg.tokenizer = TokenizerSource::Existing(other_dir.join("tokenizer.json"));
    let msg = prepare(&cfg).unwrap_err().to_string();
    assert!(
        msg.contains("written with tokenizer") && msg.contains("--force"),
        "{msg}"
    );
    cfg.force = true;
    prepare(&cfg).unwrap();
    TokenDataset::open_for(out.join("train"), &other).unwrap();
}

#[test]
fn corrupt_or_truncated_shards_are_refused_with_the_file_named() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    prepare(&small_config(vec![train_fixture()], vec![], &out)).unwrap();
    let split = out.join("train");
    let shard = split.join("shard-00000.bin");
    let original = std::fs::read(&shard).unwrap();

    // Truncated.
    std::fs::write(&shard, &original[..original.len() - 3]).unwrap();
    let msg = TokenDataset::open(&split).unwrap_err().to_string();
    assert!(
        msg.contains("shard-00000.bin") && msg.contains("truncated"),
        "{msg}"
    );

    // Same size, bytes outside the vocabulary.
    let mut bad = original.clone();
    bad[10] = 0xff;
    bad[11] = 0xff;
    std::fs::write(&shard, &bad).unwrap();
    let msg = TokenDataset::open(&split).unwrap_err().to_string();
    assert!(
        msg.contains("shard-00000.bin") && msg.contains("65535"),
        "{msg}"
    );

    // In-vocabulary corruption is caught by the checksum.
    let mut subtle = original.clone();
    subtle.swap(0, 2);
    subtle.swap(1, 3);
    std::fs::write(&shard, &subtle).unwrap();
    let data = TokenDataset::open(&split).unwrap();
    let msg = data.verify_checksums().unwrap_err().to_string();
    assert!(
        msg.contains("shard-00000.bin") && msg.contains("sha256"),
        "{msg}"
    );

    // Missing shard file.
    std::fs::remove_file(&shard).unwrap();
    let msg = TokenDataset::open(&split).unwrap_err().to_string();
    assert!(msg.contains("shard-00000.bin"), "{msg}");

    // Corrupt meta.json.
    std::fs::write(split.join("meta.json"), "{\"format\": ").unwrap();
    let msg = TokenDataset::open(&split).unwrap_err().to_string();
    assert!(
        msg.contains("meta.json") && msg.contains("invalid JSON"),
        "{msg}"
    );

    // No meta.json at all.
    let msg = TokenDataset::open(tmp.path()).unwrap_err().to_string();
    assert!(msg.contains("meta.json"), "{msg}");
}

#[test]
fn empty_corpus_is_an_error_naming_the_files() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("empty.txt");
    std::fs::write(&path, "\n  \n<|endoftext|>\n\t\n<|endoftext|>\n").unwrap();
    let out = tmp.path().join("out");
    let msg = prepare(&small_config(vec![path.clone()], vec![], &out))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("empty corpus") && msg.contains("empty.txt"),
        "{msg}"
    );

    let zero = tmp.path().join("zero.jsonl");
    std::fs::write(&zero, "").unwrap();
    let mut cfg = small_config(vec![], vec![zero], &out);
    cfg.tokenizer = TokenizerSource::Existing(path.clone());
    // The "tokenizer" is not valid JSON: that error names the tokenizer file.
    let msg = prepare(&cfg).unwrap_err().to_string();
    assert!(
        msg.contains("empty.txt") && msg.contains("not a valid tokenizer.json"),
        "{msg}"
    );
}

#[test]
fn bad_inputs_fail_before_any_work_with_the_file_named() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let msg = prepare(&small_config(
        vec![train_fixture(), tmp.path().join("missing.txt.zst")],
        vec![],
        &out,
    ))
    .unwrap_err()
    .to_string();
    assert!(msg.contains("missing.txt.zst"), "{msg}");
    assert!(!out.join("tokenizer.json").exists());

    let bad = tmp.path().join("bad.txt");
    std::fs::write(&bad, b"ok\n<|endoftext|>\nbroken \xc3(\n").unwrap();
    let msg = prepare(&small_config(vec![bad], vec![], &out))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("bad.txt") && msg.contains("line 3"), "{msg}");
}

#[test]
fn vocabulary_larger_than_u16_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut cfg = small_config(vec![train_fixture()], vec![], &out);
    cfg.tokenizer = TokenizerSource::Train {
        options: slm_tokenizer::TrainOptions {
            vocab_size: 70_000,
            ..Default::default()
        },
        sample_bytes: 1 << 20,
    };
    let msg = prepare(&cfg).unwrap_err().to_string();
    assert!(msg.contains("70000") && msg.contains("u16"), "{msg}");

    // An existing tokenizer.json with too many tokens.
    prepare(&small_config(vec![train_fixture()], vec![], &out)).unwrap();
    let json = std::fs::read_to_string(out.join("tokenizer.json")).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let vocab = value["model"]["vocab"].as_object_mut().unwrap();
    let base = vocab.len();
    for i in 0..(66_000 - base) {
        vocab.insert(format!("zz{i}"), serde_json::json!(base + i));
    }
    let big = tmp.path().join("big-tokenizer.json");
    std::fs::write(&big, value.to_string()).unwrap();
    let mut cfg = small_config(vec![train_fixture()], vec![], &tmp.path().join("out2"));
    cfg.tokenizer = TokenizerSource::Existing(big);
    let msg = prepare(&cfg).unwrap_err().to_string();
    assert!(
        msg.contains("big-tokenizer.json") && msg.contains("66000"),
        "{msg}"
    );
}
