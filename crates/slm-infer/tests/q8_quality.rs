//! int8 weights keep the bundled model's quality: bits per byte on held-out
//! stories within +0.005 of f16 (the bound stated for `--dtype q8`), on every
//! vector ISA.

use std::path::Path;

use slm_data::{CorpusReader, Record};
use slm_infer::{Isa, NativeModel, NativeOptions, WeightDtype};
use slm_tokenizer::Tokenizer;

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn q8_bits_per_byte_within_0_005_of_f16_on_the_bundled_model() {
    let dir = repo().join("models/tinystories-15m");
    let tok = Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    let mut ids = Vec::new();
    let valid = slm_testdata::shared_data("fixtures/tinystories-valid-40.txt");
    let reader = CorpusReader::open(&valid).unwrap();
    for record in reader {
        if let Record::Story(story) = record.unwrap()
            && !story.trim().is_empty()
        {
            ids.extend(tok.encode(story.trim()).unwrap());
            ids.push(tok.eot_id());
        }
    }
    // Two full context windows (1,022 scored tokens): the same text for both
    // precisions, so the difference is the quantisation's alone.
    let windows: Vec<&[u32]> = ids.chunks(512).take(2).collect();
    assert!(windows.iter().all(|w| w.len() == 512));
    let bytes: usize = windows
        .iter()
        .flat_map(|w| &w[1..])
        .map(|&t| tok.token_bytes(t).unwrap().len())
        .sum();
    let bpb = |dtype, isa| {
        let m = NativeModel::load_with(
            &dir,
            &NativeOptions {
                weight_dtype: dtype,
                vocab_rows: Some(tok.vocab_size()),
                isa: Some(isa),
                ..Default::default()
            },
        )
        .unwrap();
        let nats: f64 = windows.iter().map(|w| m.nll_nats(w).unwrap()).sum();
        nats / std::f64::consts::LN_2 / bytes as f64
    };
    let f16 = bpb(WeightDtype::F16, Isa::detect());
    assert!(f16 > 0.3 && f16 < 2.0, "implausible f16 bits/byte {f16}");
    // Every vector ISA this machine has.
    for isa in Isa::available().into_iter().filter(|&i| i != Isa::Portable) {
        let q8 = bpb(WeightDtype::Q8, isa);
        assert!(q8 - f16 < 0.005, "{isa}: q8 {q8} vs f16 {f16} bits/byte");
    }
}
