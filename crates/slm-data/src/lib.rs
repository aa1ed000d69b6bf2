//! slm-data
