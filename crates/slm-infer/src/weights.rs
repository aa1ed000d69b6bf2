//! Reads `model.safetensors` into the native model's weight layout, checking
//! every tensor's presence, dtype and shape against `config.json`.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use half::{bf16, f16};
use safetensors::{Dtype, SafeTensors};

use slm_model::TensorName;

use crate::config::ModelConfig;
use crate::error::InferError;
use crate::kernels::matrix::{Matrix, WeightDtype};

/// One Transformer block, with Q/K/V and gate/up fused so each is one
/// matrix product per step.
#[derive(Debug, Clone)]
pub struct LayerWeights {
    pub attn_norm: Vec<f32>,
    /// `[q; k; v]` rows: `dim + 2 * kv_dim` by `dim`.
    pub wqkv: Matrix,
    pub wo: Matrix,
    pub ffn_norm: Vec<f32>,
    /// `[gate; up]` rows: `2 * hidden_dim` by `dim`.
    pub w_gate_up: Matrix,
    pub w_down: Matrix,
}

/// All weights of a model directory.
#[derive(Debug, Clone)]
pub struct ModelWeights {
    pub embed: Matrix,
    pub layers: Vec<LayerWeights>,
    pub final_norm: Vec<f32>,
    /// `None` when tied to the embedding.
    pub lm_head: Option<Matrix>,
    /// Matrices held in another precision than asked for, by tensor name.
    pub dtype_exceptions: Vec<(String, WeightDtype)>,
}

impl ModelWeights {
    pub fn bytes(&self) -> usize {
        let norms = 4
            * (self.final_norm.len()
                + self
                    .layers
                    .iter()
                    .map(|l| l.attn_norm.len() + l.ffn_norm.len())
                    .sum::<usize>());
        let mats: usize = self
            .layers
            .iter()
            .map(|l| l.wqkv.bytes() + l.wo.bytes() + l.w_gate_up.bytes() + l.w_down.bytes())
            .sum();
        norms + mats + self.embed.bytes() + self.lm_head.as_ref().map_or(0, |m| m.bytes())
    }

    /// Rows of the embedding (and output head): the vocabulary the model
    /// accepts as input and computes logits for.
    pub fn vocab_rows(&self) -> usize {
        self.embed.rows()
    }

    /// Keeps only the first `rows` rows of the embedding and output head.
    pub fn truncate_vocab(&mut self, rows: usize) {
        self.embed.truncate_rows(rows);
        if let Some(h) = &mut self.lm_head {
            h.truncate_rows(rows);
        }
    }

    /// Loads and validates `path` against `cfg`, keeping matrices in `dtype`.
    /// Only the first `vocab_rows` (`<= cfg.vocab_size`) rows of the embedding
    /// and output head are kept; the file must still hold all of them.
    pub fn load(
        path: &Path,
        cfg: &ModelConfig,
        dtype: WeightDtype,
        vocab_rows: usize,
    ) -> Result<Self, InferError> {
        debug_assert!(vocab_rows <= cfg.vocab_size);
        let bytes = std::fs::read(path).map_err(|source| InferError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let st = SafeTensors::deserialize(&bytes)
            .map_err(|e| werr(path, format!("not a valid safetensors file: {e}")))?;
        let r = Reader {
            st: &st,
            path: path.to_path_buf(),
            dtype,
            exceptions: RefCell::default(),
        };
        let dim = cfg.dim;
        let mut layers = Vec::with_capacity(cfg.n_layers);
        let matrix = |t: TensorName| {
            let shape = t.shape(cfg);
            r.matrix(&t.name(), shape[0], shape[1])
        };
        let vector = |t: TensorName| r.vector(&t.name(), t.shape(cfg)[0]);
        for i in 0..cfg.n_layers {
            let (q, k, v) = (
                matrix(TensorName::Q(i))?,
                matrix(TensorName::K(i))?,
                matrix(TensorName::V(i))?,
            );
            let (gate, up) = (matrix(TensorName::Gate(i))?, matrix(TensorName::Up(i))?);
            layers.push(LayerWeights {
                attn_norm: vector(TensorName::AttnNorm(i))?,
                wqkv: Matrix::vstack(&[q, k, v]),
                wo: matrix(TensorName::O(i))?,
                ffn_norm: vector(TensorName::FfnNorm(i))?,
                w_gate_up: Matrix::vstack(&[gate, up]),
                w_down: matrix(TensorName::Down(i))?,
            });
        }
        let v = cfg.vocab_size;
        let embed = r.matrix_head(&TensorName::Embed.name(), v, dim, vocab_rows)?;
        let lm_head = if cfg.tied {
            None
        } else {
            Some(r.matrix_head(&TensorName::LmHead.name(), v, dim, vocab_rows)?)
        };
        Ok(ModelWeights {
            embed,
            layers,
            final_norm: vector(TensorName::FinalNorm)?,
            lm_head,
            dtype_exceptions: r.exceptions.into_inner(),
        })
    }
}

fn werr(path: &Path, message: String) -> InferError {
    InferError::Weights {
        path: path.to_path_buf(),
        message,
    }
}

struct Reader<'a> {
    st: &'a SafeTensors<'a>,
    path: PathBuf,
    dtype: WeightDtype,
    /// Matrices that could not be held in `dtype`, and what they are held in.
    exceptions: RefCell<Vec<(String, WeightDtype)>>,
}

enum Raw {
    F32(Vec<f32>),
    F16(Vec<f16>),
    Bf16(Vec<bf16>),
}

impl Reader<'_> {
    /// The tensor `name` checked against `shape`, converting only its first
    /// `keep` elements (row-major), or all of them when `keep` is `None`.
    fn raw(&self, name: &str, shape: &[usize], keep: Option<usize>) -> Result<Raw, InferError> {
        let t = self
            .st
            .tensor(name)
            .map_err(|_| werr(&self.path, format!("missing tensor {name}")))?;
        if t.shape() != shape {
            return Err(werr(
                &self.path,
                format!(
                    "tensor {name} has shape {:?}, expected {shape:?}",
                    t.shape()
                ),
            ));
        }
        let data = t.data();
        let data = match keep {
            Some(n) => &data[..(n * t.dtype().bitsize() / 8).min(data.len())],
            None => data,
        };
        let u16s = || {
            data.chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
        };
        Ok(match t.dtype() {
            Dtype::F32 => Raw::F32(
                data.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            Dtype::F16 => Raw::F16(u16s().map(f16::from_bits).collect()),
            Dtype::BF16 => Raw::Bf16(u16s().map(bf16::from_bits).collect()),
            other => {
                return Err(werr(
                    &self.path,
                    format!(
                        "tensor {name} has dtype {other:?}; only F32, F16 and BF16 are supported"
                    ),
                ));
            }
        })
    }

    fn matrix(&self, name: &str, rows: usize, cols: usize) -> Result<Matrix, InferError> {
        self.matrix_head(name, rows, cols, rows)
    }

    /// The first `keep` rows of the `rows × cols` matrix `name`.
    fn matrix_head(
        &self,
        name: &str,
        rows: usize,
        cols: usize,
        keep: usize,
    ) -> Result<Matrix, InferError> {
        let keep = keep.min(rows);
        let m = match self.raw(name, &[rows, cols], Some(keep * cols))? {
            Raw::F32(v) => Matrix::from_f32(keep, cols, &v, self.dtype),
            Raw::F16(v) => Matrix::from_f16(keep, cols, v, self.dtype),
            Raw::Bf16(v) => Matrix::from_bf16(keep, cols, v, self.dtype),
        };
        if m.dtype() != self.dtype {
            tracing::warn!(
                tensor = name,
                cols,
                "{} asked for, but this matrix is held in {}",
                self.dtype.name(),
                m.dtype().name()
            );
            self.exceptions
                .borrow_mut()
                .push((name.to_string(), m.dtype()));
        }
        Ok(m)
    }

    /// Norm weights stay f32: they are tiny and multiply every activation.
    fn vector(&self, name: &str, len: usize) -> Result<Vec<f32>, InferError> {
        Ok(match self.raw(name, &[len], None)? {
            Raw::F32(v) => v,
            Raw::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
            Raw::Bf16(v) => v.iter().map(|x| x.to_f32()).collect(),
        })
    }
}
