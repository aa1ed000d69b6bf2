//! slm-tokenizer
