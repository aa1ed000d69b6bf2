//! HTTP handlers, one module per area.

pub mod generate;
pub mod status;
pub mod ui;
