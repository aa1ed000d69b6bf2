//! Corpus readers: formats, streaming and every bad-input error.

mod common;

use std::path::Path;

use common::*;
use slm_data::reader::Broken;
use slm_data::{CorpusReader, DataError, Record};

fn read_all(path: &Path) -> Result<Vec<Record>, DataError> {
    CorpusReader::open(path)?.collect()
}

fn stories(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Story(s) => Some(s.trim().to_string()),
            Record::Broken(_) => None,
        })
        .collect()
}

#[test]
fn text_fixture_has_all_its_stories() {
    let recs = read_all(&train_fixture()).unwrap();
    assert_eq!(recs.len(), 160);
    let first = stories(&recs)[0].clone();
    assert!(first.starts_with("One day, a little girl named Lily found a needle"));
    assert!(!first.contains("<|endoftext|>"));
}

#[test]
fn all_formats_give_the_same_stories() {
    let dir = tempfile::tempdir().unwrap();
    let txt = "First story.\nSecond line.\n<|endoftext|>\nSecond story.\n<|endoftext|>\nNo trailing separator\n";
    let expected = vec![
        "First story.\nSecond line.".to_string(),
        "Second story.".to_string(),
        "No trailing separator".to_string(),
    ];
    let jsonl = "{\"story\": \"First story.\\nSecond line.\"}\n\n{\"text\": \"Second story.\", \"id\": 7}\n{\"story\":\"No trailing separator\"}";
    let json = format!(
        "  [{}]",
        jsonl
            .lines()
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(",\n")
    );
    let cases = [
        ("a.txt", txt.to_string()),
        ("a.jsonl", jsonl.to_string()),
        ("a.json", json.clone()),
        ("lines.json", jsonl.to_string()),
    ];
    for (name, content) in &cases {
        let plain = dir.path().join(name);
        std::fs::write(&plain, content).unwrap();
        assert_eq!(stories(&read_all(&plain).unwrap()), expected, "{name}");
        let zst = zstd_file(dir.path(), &format!("{name}.zst"), content.as_bytes());
        assert_eq!(stories(&read_all(&zst).unwrap()), expected, "{name}.zst");
    }
}

#[test]
fn broken_json_records_are_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.jsonl");
    std::fs::write(
        &path,
        "{\"story\": \"ok\"}\n{not json\n{\"title\": \"no story\"}\n",
    )
    .unwrap();
    let recs = read_all(&path).unwrap();
    assert_eq!(
        recs,
        vec![
            Record::Story("ok".into()),
            Record::Broken(Broken::InvalidJson),
            Record::Broken(Broken::MissingField)
        ]
    );
    let path = dir.path().join("b.json");
    std::fs::write(&path, "[{\"story\": \"ok\"}, {\"title\": 1}, 5]").unwrap();
    let recs = read_all(&path).unwrap();
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[1], Record::Broken(Broken::MissingField));
}

#[test]
fn reader_hashes_the_raw_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = std::fs::read(valid_fixture()).unwrap();
    let zst = zstd_file(dir.path(), "v.txt.zst", &data);
    let mut reader = CorpusReader::open(&zst).unwrap();
    assert_eq!(reader.by_ref().count(), 40);
    let raw = std::fs::read(&zst).unwrap();
    assert_eq!(reader.sha256(), slm_data::sha256_hex(&raw));
    assert_eq!(reader.bytes_read(), raw.len() as u64);
}

#[test]
fn reader_can_be_dropped_midway_through_a_json_array() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.json");
    let items: Vec<String> = (0..5000)
        .map(|i| format!("{{\"story\": \"story {i}\"}}"))
        .collect();
    std::fs::write(&path, format!("[{}]", items.join(","))).unwrap();
    let first: Vec<_> = CorpusReader::open(&path).unwrap().take(3).collect();
    assert_eq!(first.len(), 3);
}

#[test]
fn missing_file_names_the_file() {
    let err = CorpusReader::open("/no/such/train.txt")
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("/no/such/train.txt") && err.contains("cannot open"),
        "{err}"
    );
}

#[test]
fn unreadable_directory_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("corpus.txt");
    std::fs::create_dir(&sub).unwrap();
    let err = CorpusReader::open(&sub).err().unwrap().to_string();
    assert!(
        err.contains("corpus.txt") && err.contains("directory"),
        "{err}"
    );
}

#[test]
fn unknown_format_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.parquet");
    std::fs::write(&path, "x").unwrap();
    let err = CorpusReader::open(&path).err().unwrap().to_string();
    assert!(
        err.contains("data.parquet") && err.contains("unknown corpus format"),
        "{err}"
    );
}

#[test]
fn truncated_zstd_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = std::fs::read(train_fixture()).unwrap();
    let full = zstd::encode_all(&data[..], 3).unwrap();
    let path = dir.path().join("cut.txt.zst");
    std::fs::write(&path, &full[..full.len() / 2]).unwrap();
    let err = read_all(&path).unwrap_err().to_string();
    assert!(
        err.contains("cut.txt.zst") && err.contains("truncated or corrupt zstd"),
        "{err}"
    );

    let path = dir.path().join("garbage.jsonl.zst");
    std::fs::write(&path, b"this is not zstd at all").unwrap();
    let err = read_all(&path).unwrap_err().to_string();
    assert!(
        err.contains("garbage.jsonl.zst") && err.contains("zstd"),
        "{err}"
    );
}

#[test]
fn invalid_utf8_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["bad.txt", "bad.jsonl"] {
        let path = dir.path().join(name);
        std::fs::write(&path, b"{\"story\": \"fine\"}\n{\"story\": \"caf\xe9\"}\n").unwrap();
        let err = read_all(&path).unwrap_err().to_string();
        assert!(
            err.contains(name) && err.contains("line 2") && err.contains("UTF-8"),
            "{err}"
        );
    }
}

#[test]
fn malformed_json_array_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.json");
    std::fs::write(&path, "[{\"story\": \"a\"}, {\"story\": \"b").unwrap();
    let err = read_all(&path).unwrap_err().to_string();
    assert!(
        err.contains("cut.json") && err.contains("invalid JSON"),
        "{err}"
    );
}
