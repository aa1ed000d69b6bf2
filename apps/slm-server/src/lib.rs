//! slm-server: the OpenAI-compatible HTTP API for the slm TinyStories model.
//!
//! It validates requests, turns chat messages into a story prompt, enqueues
//! work on the `slm-infer` engine and streams the results back (SSE); it
//! also serves Prometheus metrics and the static web UI. It deliberately does
//! no model maths or scheduling itself (that is the engine's job) and does not
//! terminate TLS (put a reverse proxy in front for that).

pub mod auth;
pub mod body;
pub mod chat_template;
pub mod config;
pub mod error;
pub mod generation;
pub mod metrics;
pub mod openai;
pub mod openapi;
pub mod prompt_fit;
pub mod routes;
pub mod server;
pub mod state;
pub mod validate;
