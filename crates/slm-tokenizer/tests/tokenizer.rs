//! Behaviour of the tokenizer trained on the TinyStories fixture in `../shared`.

use std::path::PathBuf;
use std::sync::OnceLock;

use proptest::prelude::*;
use slm_testdata::shared_data;
use slm_tokenizer::{EOT, Tokenizer, TrainOptions};

fn fixture() -> PathBuf {
    shared_data("fixtures/tinystories-train-160.txt")
}

/// Training takes a moment, so all tests share one tokenizer.
fn tok() -> &'static Tokenizer {
    static TOK: OnceLock<Tokenizer> = OnceLock::new();
    TOK.get_or_init(|| {
        Tokenizer::train_from_files(
            &[fixture()],
            &TrainOptions {
                vocab_size: 2_000,
                ..TrainOptions::default()
            },
        )
        .expect("training on the fixture")
    })
}

#[test]
fn trains_a_vocabulary_that_compresses_stories() {
    let tok = tok();
    assert!(
        tok.vocab_size() > 1_000 && tok.vocab_size() <= 2_000,
        "{}",
        tok.vocab_size()
    );
    let text = std::fs::read_to_string(fixture()).unwrap();
    let ids = tok.encode(&text).unwrap();
    let bytes_per_token = text.len() as f64 / ids.len() as f64;
    // A 2k-vocab BPE on simple English should average well over 3 bytes per token.
    assert!(bytes_per_token > 3.0, "bytes/token {bytes_per_token}");
    // Common words are single tokens with the leading space attached.
    assert_eq!(tok.encode(" upon a time").unwrap().len(), 3);
    assert_eq!(tok.encode("Once").unwrap().len(), 1);
    assert_eq!(tok.decode(&ids).unwrap(), text);
}

#[test]
fn training_is_deterministic() {
    let again = Tokenizer::train_from_files(
        &[fixture()],
        &TrainOptions {
            vocab_size: 2_000,
            ..TrainOptions::default()
        },
    )
    .unwrap();
    assert_eq!(again.content_hash(), tok().content_hash());
}

#[test]
fn eot_is_never_split_even_next_to_words() {
    let tok = tok();
    let eot = tok.eot_id();
    assert_eq!(eot, 0);
    for text in [
        "The end.<|endoftext|>Once upon",
        "word<|endoftext|>word",
        "<|endoftext|><|endoftext|>",
        " <|endoftext|>\n",
    ] {
        let ids = tok.encode(text).unwrap();
        let eots = ids.iter().filter(|&&i| i == eot).count();
        assert_eq!(eots, text.matches(EOT).count(), "{text:?} -> {ids:?}");
        assert_eq!(tok.decode(&ids).unwrap(), text);
    }
    // Training never learns a second, mergeable copy of the marker.
    for id in 0..tok.vocab_size() as u32 {
        let bytes = tok.token_bytes(id).unwrap();
        assert!(
            id == eot || !String::from_utf8_lossy(&bytes).contains("endoftext"),
            "{id}"
        );
    }
    // Pieces of the marker are ordinary text, not the special token.
    let ids = tok.encode("<|endoftext|").unwrap();
    assert!(!ids.contains(&eot));
    let ids = tok.encode("a<|endoftext|>b").unwrap();
    assert_eq!(tok.decode(&ids[..1]).unwrap(), "a");
    assert_eq!(ids[1], eot);
}

#[test]
fn unusual_text_round_trips() {
    let tok = tok();
    for text in [
        "",
        " ",
        "  leading and trailing  ",
        "tabs\tand\r\nCRLF\u{0}nul",
        "emoji 🦀👩‍👩‍👧 and CJK 漢字かな",
        "combining e\u{301} and \u{10FFFF} \u{FEFF}",
        "\u{7f}\u{80}\u{ff}",
    ] {
        let ids = tok.encode(text).unwrap();
        assert_eq!(tok.decode(&ids).unwrap(), text);
    }
}

#[test]
fn token_bytes_concatenate_to_the_text() {
    let tok = tok();
    let text = "Lily saw a 🐶 — “hello”!";
    let ids = tok.encode(text).unwrap();
    let bytes: Vec<u8> = ids
        .iter()
        .flat_map(|&i| tok.token_bytes(i).unwrap())
        .collect();
    assert_eq!(bytes, text.as_bytes());
}

#[test]
fn batch_encoding_matches_single_encoding() {
    let tok = tok();
    let texts = ["one story", "another <|endoftext|> story", "", "ünïcödé"];
    let batch = tok.encode_batch(&texts).unwrap();
    for (text, ids) in texts.iter().zip(&batch) {
        assert_eq!(&tok.encode(text).unwrap(), ids);
    }
}

#[test]
fn save_and_load_give_identical_encodings() {
    let tok = tok();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    tok.save(&path).unwrap();
    let loaded = Tokenizer::from_file(&path).unwrap();
    assert_eq!(loaded.content_hash(), tok.content_hash());
    assert_eq!(loaded.vocab_size(), tok.vocab_size());
    assert_eq!(loaded.eot_id(), tok.eot_id());
    let text = std::fs::read_to_string(fixture()).unwrap();
    assert_eq!(loaded.encode(&text).unwrap(), tok.encode(&text).unwrap());
    let from_bytes = Tokenizer::from_bytes(tok.to_json().as_bytes()).unwrap();
    assert_eq!(from_bytes.content_hash(), tok.content_hash());
    // The file is a standard Hugging Face tokenizer.json.
    let json: serde_json::Value = serde_json::from_str(&tok.to_json()).unwrap();
    assert_eq!(json["model"]["type"], "BPE");
    assert_eq!(json["added_tokens"][0]["content"], EOT);
}

#[test]
fn missing_tokenizer_file_names_the_path() {
    let err = Tokenizer::from_file("/nonexistent/dir/tokenizer.json").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("/nonexistent/dir/tokenizer.json"), "{msg}");
    assert!(msg.contains("cannot read tokenizer file"), "{msg}");
}

#[test]
fn corrupt_tokenizer_file_names_the_path_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    let json = tok().to_json();
    std::fs::write(&path, &json[..json.len() / 2]).unwrap();
    let msg = Tokenizer::from_file(&path).unwrap_err().to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("not a valid tokenizer.json"), "{msg}");

    // Valid JSON whose end-of-text token is an ordinary (splittable) token.
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    value["added_tokens"] = serde_json::json!([]);
    let msg = Tokenizer::from_bytes(value.to_string().as_bytes())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("not marked as a special token"), "{msg}");

    // Valid JSON without the end-of-text token at all.
    let vocab = value["model"]["vocab"].as_object_mut().unwrap();
    let id = vocab.remove(EOT).unwrap();
    vocab.insert("<|other|>".to_string(), id);
    let msg = Tokenizer::from_bytes(value.to_string().as_bytes())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("no <|endoftext|> token"), "{msg}");
}

#[test]
fn missing_training_file_is_reported() {
    let msg = Tokenizer::train_from_files(&["/no/such/corpus.txt"], &TrainOptions::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("/no/such/corpus.txt"), "{msg}");
}

#[test]
fn invalid_utf8_training_file_is_reported_with_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.txt");
    std::fs::write(&path, b"fine line\nbad \xff byte\n").unwrap();
    let msg = Tokenizer::train_from_files(&[&path], &TrainOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("bad.txt") && msg.contains("UTF-8") && msg.contains("line 2"),
        "{msg}"
    );
}

#[test]
fn incremental_decoder_holds_back_partial_characters() {
    let tok = tok();
    // A byte-level vocabulary contains the single bytes; feed "é" (C3 A9) byte by byte.
    let byte_id = |b: u8| -> u32 {
        (0..tok.vocab_size() as u32)
            .find(|&i| tok.token_bytes(i).as_deref() == Some(&[b][..]))
            .unwrap()
    };
    let mut dec = tok.incremental_decoder();
    assert_eq!(dec.push(byte_id(0xC3)).unwrap(), "");
    assert!(dec.has_pending());
    assert_eq!(dec.push(byte_id(0xA9)).unwrap(), "é");
    assert!(!dec.has_pending());
    // An incomplete tail at the end becomes one replacement character.
    assert_eq!(dec.push(byte_id(0xE6)).unwrap(), "");
    assert_eq!(dec.finish(), "\u{FFFD}");
    // A byte that can never start a character is replaced immediately.
    assert_eq!(dec.push(byte_id(0xFF)).unwrap(), "\u{FFFD}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decode_inverts_encode(s in any::<String>()) {
        let tok = tok();
        let ids = tok.encode(&s).unwrap();
        prop_assert_eq!(tok.decode(&ids).unwrap(), s);
    }

    #[test]
    fn decode_inverts_encode_with_separators(parts in prop::collection::vec(any::<String>(), 0..5)) {
        let tok = tok();
        let s = parts.join(EOT);
        let ids = tok.encode(&s).unwrap();
        let eots = ids.iter().filter(|&&i| i == tok.eot_id()).count();
        prop_assert_eq!(eots, s.matches(EOT).count());
        prop_assert_eq!(tok.decode(&ids).unwrap(), s);
    }

    #[test]
    fn incremental_decode_equals_full_decode(s in any::<String>()) {
        let tok = tok();
        let ids = tok.encode(&s).unwrap();
        let mut dec = tok.incremental_decoder();
        let mut out = String::new();
        for &id in &ids {
            // Every chunk is a String, so it is valid UTF-8 by construction;
            // it must also be a prefix-consistent piece of the final text.
            out.push_str(&dec.push(id).unwrap());
            prop_assert!(s.starts_with(&out));
        }
        out.push_str(&dec.finish());
        prop_assert_eq!(out, s);
    }

    #[test]
    fn incremental_decode_of_arbitrary_ids_equals_lossy_decode(
        raw in prop::collection::vec(any::<u32>(), 0..40)
    ) {
        let tok = tok();
        // Bias toward single-byte tokens (ids 1..=256 after EOT) so partial characters are common.
        let ids: Vec<u32> = raw.iter().map(|r| r % (tok.vocab_size() as u32).min(300)).collect();
        let mut dec = tok.incremental_decoder();
        let mut out = String::new();
        for &id in &ids {
            out.push_str(&dec.push(id).unwrap());
        }
        out.push_str(&dec.finish());
        prop_assert_eq!(out, tok.decode(&ids).unwrap());
    }
}

#[test]
fn fast_path_matches_the_tokenizers_pipeline_on_stories() {
    let tok = tok();
    for path in [
        fixture(),
        fixture().with_file_name("tinystories-valid-40.txt"),
    ] {
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(
            tok.encode(&text).unwrap(),
            tok.encode_reference(&text).unwrap()
        );
    }
    for text in [
        "a  b",
        "a \n\n b",
        "x   ",
        "  'sup 's'S 123 4five",
        "\t\u{3000}漢字 🦀!!",
        "\r\n \u{85}x",
    ] {
        assert_eq!(
            tok.encode(text).unwrap(),
            tok.encode_reference(text).unwrap(),
            "{text:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn fast_path_matches_the_tokenizers_pipeline(s in any::<String>()) {
        let tok = tok();
        prop_assert_eq!(tok.encode(&s).unwrap(), tok.encode_reference(&s).unwrap());
    }

    #[test]
    fn fast_path_matches_on_whitespace_heavy_text(
        s in "[ a-zA-Z0-9'.,!\\n\\t\\r\u{a0}\u{3000}é漢-]{0,60}"
    ) {
        let tok = tok();
        prop_assert_eq!(tok.encode(&s).unwrap(), tok.encode_reference(&s).unwrap());
    }
}

/// A tokenizer.json with a stray invalid UTF-8 byte in a decoder key made the `tokenizers`
/// crate panic (found by `scripts/fuzz.sh`, target tokenizer_json): it must be a clean error.
#[test]
fn malformed_decoder_is_an_error_not_a_panic() {
    let json = tok().to_json().into_bytes();
    let decoder = json.windows(9).position(|w| w == b"\"decoder\"").unwrap();
    let key = decoder
        + json[decoder..]
            .windows(5)
            .position(|w| w == b"\"type")
            .unwrap()
        + 3;
    let mut bad = json.clone();
    bad.insert(key, 0xC0);
    let err = Tokenizer::from_bytes(&bad).unwrap_err().to_string();
    assert!(err.contains("not a valid tokenizer.json"), "{err}");
}
