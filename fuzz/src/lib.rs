//! Fuzz targets for every reader of untrusted bytes in slm: request bodies, `tokenizer.json`
//! and the text it encodes, `config.json`, `model.safetensors`, run-config TOML, token
//! shards with their `meta.json`, and a checkpoint's `trainer_state.json`.
//!
//! Each target takes arbitrary bytes and must return without panicking, hanging or running
//! out of memory, whatever the bytes; a bad input is fine as long as it is refused with an
//! error. Targets that read files write the bytes into a scratch directory (one per thread)
//! next to fixed, valid companions from the committed `models/tiny-random`, so the code under
//! test is exactly what the programs run.
//!
//! Everything about fuzzing lives under `fuzz/`: this crate, its committed corpus and every
//! crash ever found (`fuzz/corpus/<target>/`, `fuzz/regressions/<target>/`, replayed on
//! stable by the tests so a fixed bug stays fixed), and `fuzz/libfuzzer/`, the cargo-fuzz
//! project (nightly) that drives these functions with libFuzzer (`scripts/fuzz.sh`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use slm_data::{RandomWindows, SamplerCursor, ShardMeta, TokenDataset};
use slm_infer::{DecodeModel, NativeModel, NativeOptions, SeqWork};
use slm_model::ModelConfig;
use slm_server::config::ServerConfig;
use slm_server::state::AppState;
use slm_server::validate::Endpoint;
use slm_tokenizer::Tokenizer;
use slm_trainer::{Checkpoint, ExampleWindows, TokenWindows, TrainConfig, WindowSource};

/// A fuzz target: any bytes in, no panic out.
pub type Target = fn(&[u8]);

/// Every target, by the name cargo fuzz and the corpus directories use.
pub const TARGETS: &[(&str, Target)] = &[
    ("request", request),
    ("tokenizer_json", tokenizer_json),
    ("tokenize_text", tokenize_text),
    ("model_config", model_config),
    ("safetensors", safetensors),
    ("run_config", run_config),
    ("shards", shards),
    ("trainer_state", trainer_state),
];

/// The target called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|&(_, f)| f)
}

/// The repository root (this crate lives in `fuzz/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The committed tiny model every file target pairs its input with.
pub fn tiny_model_dir() -> PathBuf {
    repo_root().join("models/tiny-random")
}

fn tiny_config() -> &'static ModelConfig {
    static CFG: OnceLock<ModelConfig> = OnceLock::new();
    CFG.get_or_init(|| {
        let text = std::fs::read_to_string(tiny_model_dir().join("config.json"))
            .expect("models/tiny-random/config.json is committed");
        ModelConfig::from_json(&text).expect("the committed tiny config is valid")
    })
}

thread_local! {
    static SCRATCH: tempfile::TempDir = tempfile::Builder::new()
        .prefix("slm-fuzz-")
        .tempdir()
        .expect("a scratch directory in the temp dir");
}

/// A scratch directory `name` of this thread (created empty on first use, then reused).
fn scratch(name: &str) -> PathBuf {
    let dir = SCRATCH.with(|d| d.path().join(name));
    if !dir.exists() {
        std::fs::create_dir_all(&dir).expect("scratch directory");
    }
    dir
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).expect("writing into the scratch directory");
}

/// `data` split at its first NUL byte (the whole of it and nothing when there is none).
fn split_nul(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

// ---------------------------------------------------------------------------------------
// Request bodies

/// Two server states on the tiny model: its own (story) prompt format, and the chat format.
fn server_states() -> &'static [AppState; 2] {
    static STATES: OnceLock<[AppState; 2]> = OnceLock::new();
    STATES.get_or_init(|| {
        let mut config = ServerConfig {
            model: tiny_model_dir(),
            ..Default::default()
        };
        config.engine.threads = 1;
        let story = AppState::load(config.clone()).expect("loading the tiny model");
        let mut chat = AppState::with_engine(story.engine.clone(), config);
        chat.prompt_format = slm_server::chat_template::PromptFormat::Chat;
        [story, chat]
    })
}

/// `POST /v1/completions` and `/v1/chat/completions` bodies through everything the server
/// does before it hands a request to the engine: JSON parsing, parameter validation,
/// prompt or chat-template building, token counting and fitting `max_tokens`. The first
/// byte picks the endpoint and prompt format.
pub fn request(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let states = server_states();
    let (state, endpoint) = match which % 3 {
        0 => (&states[0], Endpoint::Completions),
        1 => (&states[0], Endpoint::Chat),
        _ => (&states[1], Endpoint::Chat),
    };
    if let Ok(job) = slm_server::routes::generate::prepare(state, body, endpoint) {
        assert!(
            job.max_tokens >= 1,
            "an accepted request generates something"
        );
        assert!(
            job.prompt_tokens.len() + job.max_tokens <= state.context_length(),
            "an accepted request fits the context"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Tokenizer

thread_local! {
    static IN_TOKENIZERS_PARSE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `Tokenizer::from_bytes` catches the panics of the `tokenizers` crate on some malformed
/// files and returns an error; libFuzzer's panic hook would abort on them first. This hook
/// lets exactly those through (a panic raised inside the `tokenizers` crate while
/// `from_bytes` runs); every other panic still reaches the previous hook and is a crash.
fn tolerate_caught_tokenizers_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_tokenizers = info
                .location()
                .is_some_and(|l| l.file().contains("/tokenizers-"));
            if !(in_tokenizers && IN_TOKENIZERS_PARSE.with(|f| f.get())) {
                previous(info);
            }
        }));
    });
}

/// `tokenizer.json` bytes: parsed, and when accepted, used to encode and decode.
pub fn tokenizer_json(data: &[u8]) {
    tolerate_caught_tokenizers_panics();
    IN_TOKENIZERS_PARSE.with(|f| f.set(true));
    let parsed = Tokenizer::from_bytes(data);
    IN_TOKENIZERS_PARSE.with(|f| f.set(false));
    let Ok(tok) = parsed else {
        return;
    };
    let text = "Once upon a time, Lily saw a big dog.<|endoftext|> Ünïcode 🙂\n\t";
    if let Ok(ids) = tok.encode(text) {
        let _ = tok.decode(&ids);
        let mut dec = tok.incremental_decoder();
        for &id in &ids {
            let _ = dec.push(id);
        }
        dec.finish();
    }
    let _ = tok.decode(&[0, 1, tok.eot_id(), u32::MAX]);
    let _ = tok.token_bytes(u32::MAX);
}

/// The bundled tokenizers (the base model's and the chat model's).
fn bundled_tokenizers() -> &'static [Tokenizer] {
    static TOKS: OnceLock<Vec<Tokenizer>> = OnceLock::new();
    TOKS.get_or_init(|| {
        ["models/tinystories-15m", "models/tinystories-15m-chat"]
            .iter()
            .map(|d| {
                Tokenizer::from_file(repo_root().join(d).join("tokenizer.json"))
                    .expect("bundled tokenizer loads")
            })
            .collect()
    })
}

/// Any text through the bundled tokenizers: encoding is lossless (`decode(encode(s)) ==
/// s`), the fast encoder agrees with the reference pipeline, and incremental decoding
/// yields the same text as decoding at once.
pub fn tokenize_text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for tok in bundled_tokenizers() {
        let ids = tok.encode(&text).expect("any text encodes");
        let reference = tok.encode_reference(&text).expect("any text encodes");
        assert_eq!(ids, reference, "fast and reference encodings differ");
        assert_eq!(tok.decode(&ids).expect("own ids decode"), text);
        let mut dec = tok.incremental_decoder();
        let mut streamed = String::new();
        for &id in &ids {
            streamed += &dec.push(id).expect("own ids decode");
        }
        streamed += &dec.finish();
        assert_eq!(streamed, text, "incremental decoding differs");
    }
}

// ---------------------------------------------------------------------------------------
// Model directory

fn load_native(dir: &Path) {
    let opts = NativeOptions {
        threads: 1,
        ..Default::default()
    };
    if let Ok(model) = NativeModel::load_with(dir, &opts) {
        // Accepted files must describe a model that runs.
        let mut decoder = Arc::new(model).decoder(1);
        let mut logits = vec![0.0; decoder.vocab_size()];
        let work = SeqWork {
            slot: 0,
            tokens: &[0, 1],
            start_pos: 0,
            want_logits: true,
        };
        decoder
            .step(&[work], &mut logits)
            .expect("a loaded model decodes");
    }
}

/// `config.json` bytes: parsed and validated on their own, then loaded with the tiny
/// model's weights (which a changed shape must be refused against).
pub fn model_config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(cfg) = ModelConfig::from_json(text)
    {
        let _ = cfg.num_params();
        let _ = (cfg.head_dim(), cfg.kv_dim());
        let again = ModelConfig::from_json(&cfg.to_json()).expect("a valid config round-trips");
        assert_eq!(again, cfg);
    }
    let dir = scratch("model_config");
    let weights = dir.join("model.safetensors");
    if !weights.exists() {
        std::fs::copy(tiny_model_dir().join("model.safetensors"), &weights)
            .expect("copying the tiny model");
    }
    write(&dir.join("config.json"), data);
    load_native(&dir);
}

/// The smallest model the loader accepts (one layer, 8 wide, 32 tokens): its weights file is
/// 3 KB, so fuzzing spends its time in the header and shape checks, not in copying floats.
pub fn micro_config() -> ModelConfig {
    ModelConfig::from_json(
        r#"{"dim": 8, "n_layers": 1, "n_heads": 2, "n_kv_heads": 1, "hidden_dim": 16,
            "vocab_size": 32, "max_seq_len": 16, "rope_theta": 10000.0, "norm_eps": 0.00001,
            "tied": true, "dropout": 0.0}"#,
    )
    .expect("the micro config is valid")
}

/// A valid `model.safetensors` for [`micro_config`] (f16, deterministic).
pub fn micro_safetensors() -> Vec<u8> {
    let cfg = micro_config();
    slm_testdata::random_model::safetensors_bytes(
        &slm_testdata::random_model::random_tensors(&cfg, 1),
        slm_infer::FileDtype::F16,
    )
    .expect("random weights serialize")
}

/// `model.safetensors` bytes (header and data) loaded against [`micro_config`].
pub fn safetensors(data: &[u8]) {
    let dir = scratch("safetensors");
    let config = dir.join("config.json");
    if !config.exists() {
        write(&config, micro_config().to_json().as_bytes());
    }
    write(&dir.join("model.safetensors"), data);
    load_native(&dir);
}

// ---------------------------------------------------------------------------------------
// Training inputs

/// Run-config TOML, both as the trainer's CLI reads it (`config` crate, file on disk) and
/// directly (`toml`); a config either reads it accepts must round-trip.
pub fn run_config(data: &[u8]) {
    let path = scratch("run_config").join("run.toml");
    write(&path, data);
    let _ = TrainConfig::load(&path, &[]);
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(cfg) = TrainConfig::from_toml(text)
    {
        let again = TrainConfig::from_toml(&cfg.to_toml()).expect("a valid config round-trips");
        assert_eq!(again, cfg);
        let _ = cfg.recipe_hash();
    }
}

/// Shard file name the seeds use (any plain name meta.json lists works).
pub const SHARD_FILE: &str = "shard-00000.bin";

/// A prepared split: `meta.json`, then a NUL byte, then the bytes of [`SHARD_FILE`].
/// Opened as training does, and when accepted, read whole and through the random sampler.
pub fn shards(data: &[u8]) {
    let (meta, shard) = split_nul(data);
    let dir = scratch("shards");
    write(&dir.join(slm_data::meta::META_FILE), meta);
    write(&dir.join(SHARD_FILE), shard);
    let Ok(ds) = TokenDataset::open(&dir) else {
        return;
    };
    let _ = ds.verify_checksums();
    let mut buf = vec![0u32; 3];
    let mut start = 0;
    while start < ds.num_tokens() && ds.copy_tokens(start, &mut buf).is_ok() {
        start += 3;
    }
    if let Ok(mut random) = RandomWindows::new(&ds, 4, 7) {
        let batch = random.next_batch(2);
        assert!(batch.tokens.iter().all(|&t| (t as usize) < ds.vocab_size()));
    }
}

/// A valid split for the checkpoint target's sampler: 64 tokens of the tiny vocabulary.
fn tiny_dataset() -> &'static TokenDataset {
    static DS: OnceLock<TokenDataset> = OnceLock::new();
    DS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("slm-fuzz-dataset-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dataset directory");
        let (meta, shard) = seed_split(64);
        write(&dir.join(slm_data::meta::META_FILE), &meta);
        write(&dir.join(SHARD_FILE), &shard);
        TokenDataset::open(&dir).expect("the seed split opens")
    })
}

/// Stand-ins for a checkpoint's weight files: their hashes are what trainer_state.json
/// must record.
pub const CHECKPOINT_FILES: [(&str, &[u8]); 2] = [
    ("model.bpk", b"model weights"),
    ("optimizer.bpk", b"optimizer"),
];

/// A checkpoint's `trainer_state.json` (next to [`CHECKPOINT_FILES`]): opened and
/// verified as resume does, checked against the tiny model's config, and its sampler
/// cursor restored into each kind of training window source.
pub fn trainer_state(data: &[u8]) {
    let dir = scratch("trainer_state");
    for (name, bytes) in CHECKPOINT_FILES {
        if !dir.join(name).exists() {
            write(&dir.join(name), bytes);
        }
    }
    write(&dir.join("trainer_state.json"), data);
    let Ok(ckpt) = Checkpoint::open(&dir) else {
        return;
    };
    let _ = ckpt.check_model(tiny_config());
    let state = &ckpt.state;
    let cursor = &state.sampler_cursor;
    let mut out = Vec::new();
    let tokens: Arc<[u16]> = (0..64).collect();
    if let Ok(mut w) = TokenWindows::new(tokens, 8, state.seed)
        && w.restore(cursor).is_ok()
    {
        w.next_window(&mut out)
            .expect("in-memory windows never fail");
    }
    let examples = vec![vec![1, 2, 3], vec![4, 5, 6, 7, 8]];
    if let Ok(mut w) = ExampleWindows::new(examples, 4, state.seed)
        && w.restore(cursor).is_ok()
    {
        w.next_window(&mut out)
            .expect("in-memory windows never fail");
    }
    if let Ok(c) = serde_json::from_value::<SamplerCursor>(cursor.clone())
        && let Ok(mut w) = RandomWindows::from_cursor(tiny_dataset(), 8, c)
    {
        let _ = w.next_batch(1);
    }
}

// ---------------------------------------------------------------------------------------
// Seeds

/// A valid split of `n` tokens (ids cycling through the tiny vocabulary): `meta.json` and
/// the shard bytes.
pub fn seed_split(n: u64) -> (Vec<u8>, Vec<u8>) {
    let vocab = tiny_config().vocab_size;
    let shard: Vec<u8> = (0..n)
        .flat_map(|i| ((i as usize % vocab) as u16).to_le_bytes())
        .collect();
    let meta = serde_json::json!({
        "format": slm_data::meta::FORMAT,
        "version": slm_data::meta::FORMAT_VERSION,
        "dtype": "u16-le",
        "split": "train",
        "tokenizer_hash": "0".repeat(64),
        "vocab_size": vocab,
        "eot_id": 0,
        "num_tokens": n,
        "num_stories": 1,
        "text_bytes": n * 4,
        "shards": [{"file": SHARD_FILE, "num_tokens": n, "sha256": slm_data::sha256_hex(&shard)}],
        "sources": [{"path": "train.txt", "bytes": n * 4, "sha256": "0".repeat(64)}],
        "cleaning": serde_json::to_value(slm_data::CleanStats::default()).expect("serializes"),
    });
    let meta: ShardMeta = serde_json::from_value(meta).expect("the seed meta is valid");
    (serde_json::to_vec_pretty(&meta).expect("serializes"), shard)
}

/// A valid `trainer_state.json` for [`CHECKPOINT_FILES`] and the tiny model.
pub fn seed_trainer_state(cursor: serde_json::Value) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let hashes: serde_json::Map<String, serde_json::Value> = CHECKPOINT_FILES
        .iter()
        .map(|(name, bytes)| {
            let hex: String = Sha256::digest(bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            (name.to_string(), hex.into())
        })
        .collect();
    let state = serde_json::json!({
        "format_version": 1,
        "step": 3,
        "tokens_seen": 96,
        "lr": 1e-4,
        "seed": 7,
        "sampler_cursor": cursor,
        "loss_scaler": slm_trainer::LossScaler::new(false),
        "model_config": tiny_config(),
        "recipe_hash": "0".repeat(16),
        "file_sha256": hashes,
    });
    serde_json::to_vec_pretty(&state).expect("serializes")
}

/// Starting inputs for each target: the committed model files, configs, and valid
/// splits and checkpoint states (so mutations start from inputs that get far).
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let root = repo_root();
    let read = |p: PathBuf| std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut out = Vec::new();
    for (endpoint, body) in [
        (
            0u8,
            r#"{"prompt":"Once upon a time","max_tokens":8,"temperature":0.5,"stop":["."]}"#,
        ),
        (
            0,
            r#"{"prompt":["Lily"],"stream":true,"stream_options":{"include_usage":true},"top_p":0.9,"top_k":5,"seed":1}"#,
        ),
        (
            1,
            r#"{"messages":[{"role":"system","content":"x"},{"role":"user","content":"Tell me a story"}],"max_tokens":16}"#,
        ),
        (
            2,
            r#"{"messages":[{"role":"user","content":[{"type":"text","text":"A cat"}]},{"role":"assistant","content":"Once"}],"n":1}"#,
        ),
    ] {
        let mut data = vec![endpoint];
        data.extend_from_slice(body.as_bytes());
        out.push(("request", format!("seed-{endpoint}-{}", out.len()), data));
    }
    out.push((
        "tokenizer_json",
        "tiny".into(),
        read(tiny_model_dir().join("tokenizer.json")),
    ));
    for text in [
        "Once upon a time, there was a little cat.<|endoftext|>",
        "<|user|>Tell me a story<|assistant|> \"Hi!\" said Tom.  \n\n",
        "Ünïcode 🙂 tabs\tand\r\nlines",
    ] {
        out.push(("tokenize_text", format!("text-{}", out.len()), text.into()));
    }
    out.push((
        "model_config",
        "tiny".into(),
        read(tiny_model_dir().join("config.json")),
    ));
    out.push((
        "model_config",
        "15m".into(),
        read(root.join("models/tinystories-15m/config.json")),
    ));
    out.push(("safetensors", "micro".into(), micro_safetensors()));
    for name in ["smoke", "tinystories-15m", "tinystories-15m-chat"] {
        out.push((
            "run_config",
            name.into(),
            read(root.join(format!("configs/{name}.toml"))),
        ));
    }
    let (meta, shard) = seed_split(40);
    out.push(("shards", "split".into(), [meta, vec![0], shard].concat()));
    let tokens: Arc<[u16]> = (0..64).collect();
    let windows = TokenWindows::new(tokens, 8, 7).expect("valid windows");
    let random = RandomWindows::new(tiny_dataset(), 8, 7).expect("valid sampler");
    for (name, cursor) in [
        ("token-windows", windows.cursor()),
        (
            "random-windows",
            serde_json::to_value(random.cursor()).expect("serializes"),
        ),
    ] {
        out.push(("trainer_state", name.into(), seed_trainer_state(cursor)));
    }
    out
}
