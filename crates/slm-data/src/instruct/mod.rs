//! Instruction-tuning requests made from real TinyStories stories, with no
//! external model: each story becomes the reply to a request it satisfies
//! ("Tell me a story about Lily and a dog."), the continuation of its own
//! beginning, or the story told after declining an off-topic question in
//! character. Everything is deterministic in the story text and a seed.

mod facts;
#[cfg(test)]
mod fixture;
mod follow_ups;
mod lexicon;
mod requests;
mod scoring;
mod text;
mod wording;

pub use follow_ups::rename_names;
pub use requests::{
    Conversation, InstructOptions, Request, RequestKind, conversations, off_topic_request,
    story_request,
};
pub use scoring::{first_uses, is_in_character, story_of, uses_name, uses_word};
pub use text::{PREFACE_START, with_article};
