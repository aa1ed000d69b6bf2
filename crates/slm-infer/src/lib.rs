//! slm-infer
