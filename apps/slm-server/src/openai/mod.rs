//! OpenAI API request and response shapes.

pub mod request;
pub mod response;
