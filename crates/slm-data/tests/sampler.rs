//! Batch sampling: determinism, resume, bounds and complete evaluation passes.

mod common;

use std::sync::OnceLock;

use common::*;
use proptest::prelude::*;
use slm_data::{RandomWindows, SamplerCursor, TokenDataset, prepare};

/// One prepared fixture shared by the tests of this binary.
fn dataset() -> &'static TokenDataset {
    static DATA: OnceLock<(tempfile::TempDir, TokenDataset)> = OnceLock::new();
    &DATA
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            prepare(&small_config(vec![valid_fixture()], vec![], dir.path())).unwrap();
            let data = TokenDataset::open(dir.path().join("train")).unwrap();
            (dir, data)
        })
        .1
}

#[test]
fn same_seed_same_batches_different_seed_different_batches() {
    let data = dataset();
    let mut a = RandomWindows::new(data, 65, 7).unwrap();
    let mut b = RandomWindows::new(data, 65, 7).unwrap();
    let mut c = RandomWindows::new(data, 65, 8).unwrap();
    for _ in 0..5 {
        let (ba, bb, bc) = (a.next_batch(4), b.next_batch(4), c.next_batch(4));
        assert_eq!(ba, bb);
        assert_ne!(ba, bc);
        assert_eq!(ba.tokens.len(), 4 * 65);
    }
}

#[test]
fn resuming_from_a_cursor_continues_exactly() {
    let data = dataset();
    let mut full = RandomWindows::new(data, 33, 42).unwrap();
    let all: Vec<_> = (0..10).map(|_| full.next_batch(3)).collect();

    let mut first = RandomWindows::new(data, 33, 42).unwrap();
    for _ in 0..6 {
        first.next_batch(3);
    }
    let cursor = first.cursor();
    assert_eq!(cursor, SamplerCursor { seed: 42, step: 6 });
    // The cursor survives a serde round trip as it would in a checkpoint.
    let saved = serde_json::to_string(&cursor).unwrap();
    let restored: SamplerCursor = serde_json::from_str(&saved).unwrap();
    let mut resumed = RandomWindows::from_cursor(data, 33, restored).unwrap();
    let rest: Vec<_> = (0..4).map(|_| resumed.next_batch(3)).collect();
    assert_eq!(rest, all[6..]);
}

#[test]
fn windows_cover_the_whole_dataset_over_time() {
    let data = dataset();
    let n = data.num_tokens();
    let mut s = RandomWindows::new(data, 2, 1).unwrap();
    let (mut min, mut max) = (u64::MAX, 0);
    for step in 0..2000 {
        let start = s.window_start(step, 0);
        min = min.min(start);
        max = max.max(start);
    }
    s.next_batch(1);
    // Starts spread over the full range, not a corner of it.
    assert!(min < n / 20 && max > n - n / 20, "{min}..{max} of {n}");
}

#[test]
fn invalid_window_lengths_are_errors() {
    let data = dataset();
    assert!(RandomWindows::new(data, 1, 0).is_err());
    let too_big = data.num_tokens() as usize + 1;
    let msg = RandomWindows::new(data, too_big, 0)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("fewer than one window"), "{msg}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_window_is_a_contiguous_slice_of_the_data(
        seed in any::<u64>(), step in 0u64..1_000_000, len in 2usize..300, batch in 1usize..6
    ) {
        let data = dataset();
        let all = data.to_vec();
        let mut s = RandomWindows::from_cursor(data, len, SamplerCursor { seed, step }).unwrap();
        let b = s.next_batch(batch);
        prop_assert_eq!(b.rows().count(), batch);
        for (row, w) in b.rows().enumerate() {
            let start = s.window_start(step, row as u64) as usize;
            prop_assert!(start + len <= all.len());
            prop_assert_eq!(w, &all[start..start + len]);
        }
        prop_assert_eq!(s.cursor().step, step + 1);
    }
}
