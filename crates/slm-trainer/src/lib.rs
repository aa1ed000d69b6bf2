//! slm-trainer
