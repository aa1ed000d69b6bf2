//! slm-model
