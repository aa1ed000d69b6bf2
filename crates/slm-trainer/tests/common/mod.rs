//! Shared helpers for the trainer's integration tests: a tiny model and synthetic tokens.
#![allow(dead_code)]

use std::sync::Arc;

use slm_trainer::TrainConfig;

pub fn tiny_config(dropout: f64) -> TrainConfig {
    let toml = format!(
        r#"
seed = 11
[model]
dim = 32
n_layers = 2
n_heads = 4
n_kv_heads = 2
hidden_dim = 64
vocab_size = 64
max_seq_len = 32
rope_theta = 10000.0
norm_eps = 1e-5
tied = true
dropout = {dropout}
[data]
train = "unused"
valid = "unused"
[optim]
lr = 0.01
min_lr = 0.001
warmup_steps = 2
max_steps = 8
grad_clip = 1.0
[batch]
micro_batch = 4
accum_steps = 1
seq_len = 16
[checkpoint]
every = 4
keep = 2
[eval]
every = 4
batch_size = 4
samples = 1
sample_tokens = 8
"#
    );
    TrainConfig::from_toml(&toml).unwrap()
}

/// A learnable token stream: a repeating pattern with a little noise.
pub fn pattern_tokens(n: usize, seed: u64) -> Arc<[u16]> {
    let mut x = seed | 1;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x.is_multiple_of(10) {
                (x % 64) as u16
            } else {
                ((i * 7) % 23) as u16
            }
        })
        .collect()
}
