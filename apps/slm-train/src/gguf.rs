//! GGUF export (llama.cpp's model format, version 3) of a model directory, and a reader
//! for checking what was written.
//!
//! Layout: header (magic, version, tensor and metadata counts), metadata key/values,
//! tensor infos (name, dims with the contiguous dimension first, ggml type, offset), then
//! the tensor data, each tensor aligned to 32 bytes. The metadata is what llama.cpp's
//! `llama` architecture and its GPT-2-style BPE tokenizer read; tensor names and the Q/K
//! row order follow llama.cpp's own Hugging Face converter (q_proj and k_proj rows are
//! permuted from "rotate half" to interleaved pairs, the RoPE layout llama.cpp's llama
//! graph uses). Only the tokenizer's rows of the embedding (and head) are written, so the
//! vocabulary llama.cpp sees is exactly the tokenizer's.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail, ensure};
use half::f16;
use safetensors::SafeTensors;
use slm_model::{ModelConfig, TensorName, view_to_f32};

const MAGIC: &[u8; 4] = b"GGUF";
const VERSION: u32 = 3;
const ALIGNMENT: usize = 32;
/// Q8_0: blocks of 32 weights, one f16 scale + 32 int8 each.
const Q8_BLOCK: usize = 32;

/// Storage type of the matrices (norm gains are always f32, as llama.cpp expects).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GgufType {
    F32,
    F16,
    Q8_0,
}

impl GgufType {
    fn ggml_type(self) -> u32 {
        match self {
            GgufType::F32 => 0,
            GgufType::F16 => 1,
            GgufType::Q8_0 => 8,
        }
    }
    /// `general.file_type` (llama.cpp's LLAMA_FTYPE_ALL_F32, MOSTLY_F16, MOSTLY_Q8_0).
    fn file_type(self) -> u32 {
        match self {
            GgufType::F32 => 0,
            GgufType::F16 => 1,
            GgufType::Q8_0 => 7,
        }
    }
}

/// A metadata value (the subset of GGUF value types this export writes).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    Str(String),
    ArrStr(Vec<String>),
    ArrI32(Vec<i32>),
}

impl Value {
    fn type_id(&self) -> u32 {
        match self {
            Value::U32(_) => 4,
            Value::I32(_) => 5,
            Value::F32(_) => 6,
            Value::Bool(_) => 7,
            Value::Str(_) => 8,
            Value::ArrStr(_) | Value::ArrI32(_) => 9,
        }
    }
}

/// One tensor: name, dims as the model stores them (rows, cols), ggml type, bytes.
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub ggml_type: u32,
    pub data: Vec<u8>,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

fn put_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::U32(x) => out.extend(x.to_le_bytes()),
        Value::I32(x) => out.extend(x.to_le_bytes()),
        Value::F32(x) => out.extend(x.to_le_bytes()),
        Value::Bool(x) => out.push(u8::from(*x)),
        Value::Str(s) => put_str(out, s),
        Value::ArrStr(items) => {
            out.extend(8u32.to_le_bytes());
            out.extend((items.len() as u64).to_le_bytes());
            for s in items {
                put_str(out, s);
            }
        }
        Value::ArrI32(items) => {
            out.extend(5u32.to_le_bytes());
            out.extend((items.len() as u64).to_le_bytes());
            for x in items {
                out.extend(x.to_le_bytes());
            }
        }
    }
}

fn pad(out: &mut Vec<u8>) {
    out.resize(out.len().next_multiple_of(ALIGNMENT), 0);
}

/// Serialises a GGUF v3 file.
pub fn encode(metadata: &[(String, Value)], tensors: &[Tensor]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(MAGIC);
    out.extend(VERSION.to_le_bytes());
    out.extend((tensors.len() as u64).to_le_bytes());
    out.extend((metadata.len() as u64).to_le_bytes());
    for (key, value) in metadata {
        put_str(&mut out, key);
        out.extend(value.type_id().to_le_bytes());
        put_value(&mut out, value);
    }
    let mut offset = 0usize;
    for t in tensors {
        put_str(&mut out, &t.name);
        out.extend((t.shape.len() as u32).to_le_bytes());
        for d in t.shape.iter().rev() {
            out.extend((*d as u64).to_le_bytes());
        }
        out.extend(t.ggml_type.to_le_bytes());
        out.extend((offset as u64).to_le_bytes());
        offset = (offset + t.data.len()).next_multiple_of(ALIGNMENT);
    }
    pad(&mut out);
    for t in tensors {
        out.extend(&t.data);
        pad(&mut out);
    }
    out
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn f16_bytes(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|v| f16::from_f32(*v).to_le_bytes())
        .collect()
}

/// Q8_0 as llama.cpp's reference quantiser computes it: per block of 32, d = max|x| / 127
/// (stored as f16), q = round(x / d).
pub fn q8_0_bytes(values: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() / Q8_BLOCK * 34);
    for block in values.chunks(Q8_BLOCK) {
        let amax = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let inv = if d == 0.0 { 0.0 } else { 1.0 / d };
        out.extend(f16::from_f32(d).to_le_bytes());
        out.extend(block.iter().map(|v| (v * inv).round() as i8 as u8));
    }
    out
}

/// Rows of a q/k projection from Hugging Face's rotate-half order to interleaved pairs:
/// within each head, row `j * half + i` moves to `2 * i + j`.
fn permute_rows(values: &[f32], cols: usize, heads: usize) -> Vec<f32> {
    let rows = values.len() / cols;
    let head_dim = rows / heads;
    let half = head_dim / 2;
    let mut out = vec![0.0; values.len()];
    for h in 0..heads {
        for i in 0..half {
            for j in 0..2 {
                let src = h * head_dim + j * half + i;
                let dst = h * head_dim + 2 * i + j;
                out[dst * cols..(dst + 1) * cols]
                    .copy_from_slice(&values[src * cols..(src + 1) * cols]);
            }
        }
    }
    out
}

/// The tokenizer.json parts GGUF needs: tokens by id, merges, special ids.
struct Vocab {
    tokens: Vec<String>,
    merges: Vec<String>,
    special: Vec<u32>,
}

fn read_vocab(tokenizer_json: &[u8]) -> anyhow::Result<Vocab> {
    let tok: serde_json::Value = serde_json::from_slice(tokenizer_json)?;
    let model = &tok["model"];
    ensure!(
        model["type"] == "BPE",
        "GGUF export supports BPE tokenizers only"
    );
    let vocab = model["vocab"]
        .as_object()
        .context("tokenizer.json: model.vocab")?;
    let mut by_id: BTreeMap<u64, String> = BTreeMap::new();
    for (text, id) in vocab {
        by_id.insert(id.as_u64().context("vocab id")?, text.clone());
    }
    let mut special = Vec::new();
    for t in tok["added_tokens"].as_array().into_iter().flatten() {
        let id = t["id"].as_u64().context("added token id")?;
        by_id.insert(
            id,
            t["content"].as_str().context("added token")?.to_string(),
        );
        if t["special"].as_bool() == Some(true) {
            special.push(id as u32);
        }
    }
    let tokens: Vec<String> = by_id.values().cloned().collect();
    ensure!(
        by_id.keys().copied().eq(0..tokens.len() as u64),
        "tokenizer.json token ids are not contiguous from 0"
    );
    let merges = model["merges"]
        .as_array()
        .context("tokenizer.json: model.merges")?
        .iter()
        .map(|m| match m {
            serde_json::Value::String(s) => Ok(s.clone()),
            serde_json::Value::Array(pair) if pair.len() == 2 => Ok(format!(
                "{} {}",
                pair[0].as_str().unwrap_or_default(),
                pair[1].as_str().unwrap_or_default()
            )),
            other => bail!("tokenizer.json: unexpected merge {other}"),
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Vocab {
        tokens,
        merges,
        special,
    })
}

/// GGUF bytes for the model directory `dir` (config.json, model.safetensors,
/// tokenizer.json) with matrices stored as `ty`.
pub fn export_dir(dir: &Path, ty: GgufType) -> anyhow::Result<Vec<u8>> {
    let cfg = slm_model::read_config(dir)?;
    let read = |name: &str| {
        let p = dir.join(name);
        std::fs::read(&p).with_context(|| format!("reading {}", p.display()))
    };
    let weights = read(slm_model::WEIGHTS_FILE)?;
    let vocab = read_vocab(&read("tokenizer.json")?)?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "slm".into());
    build(
        &cfg,
        &SafeTensors::deserialize(&weights)?,
        &vocab,
        &name,
        ty,
    )
}

fn build(
    cfg: &ModelConfig,
    st: &SafeTensors<'_>,
    vocab: &Vocab,
    name: &str,
    ty: GgufType,
) -> anyhow::Result<Vec<u8>> {
    let n_vocab = vocab.tokens.len();
    ensure!(
        n_vocab <= cfg.vocab_size,
        "tokenizer has {n_vocab} tokens, the model {} rows",
        cfg.vocab_size
    );
    if ty == GgufType::Q8_0 {
        for cols in [cfg.dim, cfg.hidden_dim] {
            ensure!(
                cols.is_multiple_of(Q8_BLOCK),
                "Q8_0 needs rows that are a multiple of 32 wide ({cols} is not)"
            );
        }
    }
    let eot = *vocab.special.first().unwrap_or(&0);
    let u = |v: usize| Value::U32(v as u32);
    let s = |v: &str| Value::Str(v.to_string());
    let mut metadata: Vec<(String, Value)> = vec![
        ("general.architecture".into(), s("llama")),
        ("general.name".into(), s(name)),
        ("general.file_type".into(), Value::U32(ty.file_type())),
        ("llama.context_length".into(), u(cfg.max_seq_len)),
        ("llama.embedding_length".into(), u(cfg.dim)),
        ("llama.block_count".into(), u(cfg.n_layers)),
        ("llama.feed_forward_length".into(), u(cfg.hidden_dim)),
        ("llama.attention.head_count".into(), u(cfg.n_heads)),
        ("llama.attention.head_count_kv".into(), u(cfg.n_kv_heads)),
        ("llama.rope.dimension_count".into(), u(cfg.head_dim())),
        (
            "llama.rope.freq_base".into(),
            Value::F32(cfg.rope_theta as f32),
        ),
        (
            "llama.attention.layer_norm_rms_epsilon".into(),
            Value::F32(cfg.norm_eps as f32),
        ),
        ("llama.vocab_size".into(), u(n_vocab)),
        ("tokenizer.ggml.model".into(), s("gpt2")),
        // Our pre-tokenizer is byte-level BPE with GPT-2's split regex.
        ("tokenizer.ggml.pre".into(), s("gpt-2")),
        (
            "tokenizer.ggml.tokens".into(),
            Value::ArrStr(vocab.tokens.clone()),
        ),
        (
            "tokenizer.ggml.token_type".into(),
            Value::ArrI32(
                (0..n_vocab as u32)
                    .map(|i| if vocab.special.contains(&i) { 3 } else { 1 })
                    .collect(),
            ),
        ),
        (
            "tokenizer.ggml.merges".into(),
            Value::ArrStr(vocab.merges.clone()),
        ),
        ("tokenizer.ggml.bos_token_id".into(), Value::U32(eot)),
        ("tokenizer.ggml.eos_token_id".into(), Value::U32(eot)),
        ("tokenizer.ggml.add_bos_token".into(), Value::Bool(false)),
    ];
    metadata.sort_by(|a, b| a.0.cmp(&b.0));

    let get = |name: &str| -> anyhow::Result<(Vec<f32>, Vec<usize>)> {
        let view = st
            .tensor(name)
            .with_context(|| format!("model.safetensors has no {name}"))?;
        let values = view_to_f32(&view).with_context(|| format!("{name}: unsupported dtype"))?;
        Ok((values, view.shape().to_vec()))
    };
    let mut tensors = Vec::new();
    let mut matrix = |name: String, values: Vec<f32>, shape: Vec<usize>| {
        let data = match ty {
            GgufType::F32 => f32_bytes(&values),
            GgufType::F16 => f16_bytes(&values),
            GgufType::Q8_0 => q8_0_bytes(&values),
        };
        tensors.push(Tensor {
            name,
            shape,
            ggml_type: ty.ggml_type(),
            data,
        });
    };
    let rows_cut = |(values, shape): (Vec<f32>, Vec<usize>)| {
        let cols = shape[1];
        (values[..n_vocab * cols].to_vec(), vec![n_vocab, cols])
    };
    let (v, sh) = rows_cut(get(&TensorName::Embed.name())?);
    matrix("token_embd.weight".into(), v, sh);
    if !cfg.tied {
        let (v, sh) = rows_cut(get(&TensorName::LmHead.name())?);
        matrix("output.weight".into(), v, sh);
    }
    for i in 0..cfg.n_layers {
        for (ours, theirs, heads) in [
            (TensorName::Q(i), "attn_q", Some(cfg.n_heads)),
            (TensorName::K(i), "attn_k", Some(cfg.n_kv_heads)),
            (TensorName::V(i), "attn_v", None),
            (TensorName::O(i), "attn_output", None),
            (TensorName::Gate(i), "ffn_gate", None),
            (TensorName::Up(i), "ffn_up", None),
            (TensorName::Down(i), "ffn_down", None),
        ] {
            let (mut v, sh) = get(&ours.name())?;
            if let Some(h) = heads {
                v = permute_rows(&v, sh[1], h);
            }
            matrix(format!("blk.{i}.{theirs}.weight"), v, sh);
        }
    }
    let mut vector = |name: String, (values, shape): (Vec<f32>, Vec<usize>)| {
        tensors.push(Tensor {
            name,
            shape,
            ggml_type: 0,
            data: f32_bytes(&values),
        });
    };
    vector(
        "output_norm.weight".into(),
        get(&TensorName::FinalNorm.name())?,
    );
    for i in 0..cfg.n_layers {
        vector(
            format!("blk.{i}.attn_norm.weight"),
            get(&TensorName::AttnNorm(i).name())?,
        );
        vector(
            format!("blk.{i}.ffn_norm.weight"),
            get(&TensorName::FfnNorm(i).name())?,
        );
    }
    Ok(encode(&metadata, &tensors))
}

/// Writes `bytes` to `path` through a temporary file (no half-written file on failure).
pub fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("gguf.tmp");
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// A parsed GGUF file: metadata, tensor infos (dims as stored: contiguous first) and the
/// data section's offset.
#[derive(Debug)]
pub struct Parsed {
    pub version: u32,
    pub metadata: BTreeMap<String, Value>,
    pub tensors: Vec<(String, Vec<u64>, u32, u64)>,
    pub data_start: usize,
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> anyhow::Result<&[u8]> {
        ensure!(
            self.at.checked_add(n).is_some_and(|e| e <= self.b.len()),
            "truncated GGUF at byte {}",
            self.at
        );
        self.at += n;
        Ok(&self.b[self.at - n..self.at])
    }
    fn u32(&mut self) -> anyhow::Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into()?))
    }
    fn u64(&mut self) -> anyhow::Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into()?))
    }
    fn str(&mut self) -> anyhow::Result<String> {
        let n = usize::try_from(self.u64()?)?;
        Ok(String::from_utf8(self.take(n)?.to_vec())?)
    }
    fn value(&mut self, ty: u32) -> anyhow::Result<Value> {
        Ok(match ty {
            4 => Value::U32(self.u32()?),
            5 => Value::I32(self.u32()? as i32),
            6 => Value::F32(f32::from_bits(self.u32()?)),
            7 => Value::Bool(self.take(1)?[0] != 0),
            8 => Value::Str(self.str()?),
            9 => {
                let elem = self.u32()?;
                let n = self.u64()?;
                match elem {
                    8 => Value::ArrStr((0..n).map(|_| self.str()).collect::<Result<_, _>>()?),
                    5 => Value::ArrI32(
                        (0..n)
                            .map(|_| self.u32().map(|v| v as i32))
                            .collect::<Result<_, _>>()?,
                    ),
                    other => bail!("unsupported array element type {other}"),
                }
            }
            other => bail!("unsupported metadata type {other}"),
        })
    }
}

/// Parses a GGUF file's header, metadata and tensor infos (the types this module writes)
/// and checks that every tensor's data lies inside the file.
pub fn parse(bytes: &[u8]) -> anyhow::Result<Parsed> {
    let mut c = Cursor { b: bytes, at: 0 };
    ensure!(c.take(4)? == MAGIC, "not a GGUF file");
    let version = c.u32()?;
    let n_tensors = c.u64()?;
    let n_kv = c.u64()?;
    let mut metadata = BTreeMap::new();
    for _ in 0..n_kv {
        let key = c.str()?;
        let ty = c.u32()?;
        metadata.insert(key, c.value(ty)?);
    }
    let mut tensors = Vec::new();
    for _ in 0..n_tensors {
        let name = c.str()?;
        let n_dims = c.u32()?;
        let dims = (0..n_dims).map(|_| c.u64()).collect::<Result<_, _>>()?;
        let ty = c.u32()?;
        let offset = c.u64()?;
        tensors.push((name, dims, ty, offset));
    }
    let parsed = Parsed {
        version,
        metadata,
        tensors,
        data_start: c.at.next_multiple_of(ALIGNMENT),
    };
    ensure!(
        parsed.version == VERSION,
        "GGUF version {version}, expected {VERSION}"
    );
    for (name, dims, ty, offset) in &parsed.tensors {
        let elems: u64 = dims.iter().product();
        let size = match ty {
            0 => elems * 4,
            1 => elems * 2,
            8 => elems / Q8_BLOCK as u64 * 34,
            other => bail!("{name}: ggml type {other} is not one this module writes"),
        };
        let end = parsed.data_start as u64 + offset + size;
        ensure!(
            end <= bytes.len() as u64,
            "{name}: data ends at byte {end}, past the file's {}",
            bytes.len()
        );
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q8_0_matches_the_reference_quantiser() {
        let x: Vec<f32> = (0..64).map(|i| (i as f32 - 20.0) * 0.1).collect();
        let q = q8_0_bytes(&x);
        assert_eq!(q.len(), 2 * 34);
        for (b, block) in x.chunks(32).enumerate() {
            let d = f16::from_le_bytes([q[b * 34], q[b * 34 + 1]]).to_f32();
            let amax = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!((d - amax / 127.0).abs() <= 1e-3 * d);
            for (j, v) in block.iter().enumerate() {
                let back = (q[b * 34 + 2 + j] as i8) as f32 * d;
                assert!((back - v).abs() <= d * 0.5 + 1e-3, "{back} vs {v}");
            }
        }
    }

    #[test]
    fn permutation_interleaves_the_two_halves_of_each_head() {
        // 2 heads of 4 rows, 1 column: rows [a0 a1 b0 b1] per head become [a0 b0 a1 b1].
        let v: Vec<f32> = (0..8).map(|i| i as f32).collect();
        assert_eq!(
            permute_rows(&v, 1, 2),
            vec![0.0, 2.0, 1.0, 3.0, 4.0, 6.0, 5.0, 7.0]
        );
    }

    #[test]
    fn encode_then_parse_gives_back_metadata_and_tensors() {
        let metadata = vec![
            ("a.u".to_string(), Value::U32(7)),
            ("a.f".to_string(), Value::F32(1.5)),
            ("a.b".to_string(), Value::Bool(true)),
            ("a.s".to_string(), Value::Str("llama".into())),
            (
                "a.t".to_string(),
                Value::ArrStr(vec!["x".into(), "Ġy".into()]),
            ),
            ("a.i".to_string(), Value::ArrI32(vec![1, -3])),
        ];
        let tensors = vec![
            Tensor {
                name: "m".into(),
                shape: vec![2, 3],
                ggml_type: 0,
                data: f32_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            },
            Tensor {
                name: "v".into(),
                shape: vec![3],
                ggml_type: 1,
                data: f16_bytes(&[0.5, -0.5, 2.0]),
            },
        ];
        let bytes = encode(&metadata, &tensors);
        let p = parse(&bytes).unwrap();
        assert_eq!(p.version, 3);
        for (k, v) in &metadata {
            assert_eq!(&p.metadata[k], v);
        }
        assert_eq!(p.tensors[0].1, vec![3, 2], "contiguous dimension first");
        assert_eq!(p.tensors[1].2, 1);
        assert_eq!(p.data_start % ALIGNMENT, 0);
        let off = p.data_start + p.tensors[1].3 as usize;
        assert_eq!(p.tensors[1].3 % ALIGNMENT as u64, 0);
        assert_eq!(&bytes[off..off + 6], &f16_bytes(&[0.5, -0.5, 2.0])[..]);
        let m = p.data_start + p.tensors[0].3 as usize;
        assert_eq!(
            &bytes[m..m + 24],
            &f32_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])[..]
        );
        assert!(
            parse(&bytes[..20])
                .unwrap_err()
                .to_string()
                .contains("truncated")
        );
        assert!(parse(b"GGML....").is_err());
    }
}
