//! Turning chat messages into a story prompt.
//!
//! The model is a TinyStories story writer, not an instruction follower, so a
//! conversation is read as a story written in turns:
//! - `system` / `developer` messages are ignored: instructions would only
//!   become odd story text the model never saw in training;
//! - `user` and `assistant` messages, in order, are the story so far; their
//!   trimmed texts are joined with single spaces, and the model continues it;
//! - when the story does not fit the context window (prompt tokens plus
//!   `max_tokens` ≤ context length), whole messages are dropped from the
//!   oldest end; the latest message is always kept, and if it alone does not
//!   fit, the request is refused with a 400.

use crate::error::ApiError;
use crate::openai::request::{ChatMessage, MessageContent};

/// Separator between turns: each turn continues the same story.
pub const TURN_SEPARATOR: &str = " ";

/// The prompt built from a conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct StoryPrompt {
    pub text: String,
    /// Token count of `text` as the engine will see it.
    pub tokens: usize,
    /// Story turns (user/assistant messages) left out to fit the context.
    pub dropped_turns: usize,
}

/// Extracts the story turns (index in `messages`, trimmed text), refusing
/// roles and content types that have no meaning for a story model.
pub fn story_turns(messages: &[ChatMessage]) -> Result<Vec<(usize, String)>, ApiError> {
    if messages.is_empty() {
        return Err(ApiError::invalid_param(
            "messages",
            "messages must contain at least one message",
        ));
    }
    let mut turns = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let story_turn = match m.role.as_str() {
            "user" | "assistant" => true,
            "system" | "developer" => false,
            other => {
                return Err(ApiError::invalid_param(
                    format!("messages[{i}].role"),
                    format!("role '{other}' is not supported; use 'user', 'assistant' or 'system'"),
                ));
            }
        };
        let text = match &m.content {
            None => String::new(),
            Some(MessageContent::Text(t)) => t.clone(),
            Some(MessageContent::Parts(parts)) => {
                let mut text = String::new();
                for (j, part) in parts.iter().enumerate() {
                    match (part.kind.as_str(), &part.text) {
                        ("text", Some(t)) => text.push_str(t),
                        ("text", None) => {
                            return Err(ApiError::invalid_param(
                                format!("messages[{i}].content[{j}].text"),
                                "text content parts need a 'text' field",
                            ));
                        }
                        (other, _) => {
                            return Err(ApiError::unsupported_param(
                                format!("messages[{i}].content[{j}].type"),
                                format!(
                                    "content type '{other}' is not supported; the model reads text only"
                                ),
                            ));
                        }
                    }
                }
                text
            }
        };
        let text = text.trim();
        if story_turn && !text.is_empty() {
            turns.push((i, text.to_string()));
        }
    }
    if turns.is_empty() {
        return Err(ApiError::invalid_param(
            "messages",
            "messages must contain at least one non-empty 'user' or 'assistant' message \
             (system messages are ignored by this story model)",
        ));
    }
    Ok(turns)
}

/// Builds the prompt from the newest turns that fit in `budget_tokens`.
///
/// `count_tokens` tokenizes the way the engine does. When even the latest
/// turn exceeds the budget it is returned alone (over budget) so the caller
/// can decide between shrinking the completion and refusing the request.
pub fn build_story_prompt(
    messages: &[ChatMessage],
    budget_tokens: usize,
    mut count_tokens: impl FnMut(&str) -> Result<usize, ApiError>,
) -> Result<StoryPrompt, ApiError> {
    let turns = story_turns(messages)?;
    let total = turns.len();
    let mut kept: Vec<&str> = Vec::new();
    let mut best: Option<StoryPrompt> = None;
    // Newest first: the latest turn is what the user just asked to continue.
    for (_, text) in turns.iter().rev() {
        kept.insert(0, text);
        let candidate = kept.join(TURN_SEPARATOR);
        let tokens = count_tokens(&candidate)?;
        if tokens > budget_tokens && best.is_some() {
            break;
        }
        let over = tokens > budget_tokens;
        best = Some(StoryPrompt {
            text: candidate,
            tokens,
            dropped_turns: total - kept.len(),
        });
        if over {
            break;
        }
    }
    // `turns` is non-empty, so the loop ran at least once.
    best.ok_or_else(|| ApiError::internal("chat template produced no prompt"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::request::ContentPart;

    fn msg(role: &str, text: &str) -> ChatMessage {
        ChatMessage {
            role: role.into(),
            content: Some(MessageContent::Text(text.into())),
            name: None,
        }
    }

    /// Whitespace word count stands in for a tokenizer.
    fn words(s: &str) -> Result<usize, ApiError> {
        Ok(s.split_whitespace().count())
    }

    #[test]
    fn system_is_ignored_and_turns_are_joined_in_order() {
        let m = [
            msg("system", "You are a helpful assistant."),
            msg("user", "Once upon a time, "),
            msg("assistant", " there was a cat."),
            msg("user", "The cat was happy."),
        ];
        let p = build_story_prompt(&m, 100, words).unwrap();
        assert_eq!(
            p.text,
            "Once upon a time, there was a cat. The cat was happy."
        );
        assert_eq!(p.tokens, 12);
        assert_eq!(p.dropped_turns, 0);
    }

    #[test]
    fn oldest_turns_are_dropped_to_fit() {
        let m = [
            msg("user", "one two three four"),
            msg("assistant", "five six"),
            msg("user", "seven eight nine"),
        ];
        let p = build_story_prompt(&m, 6, words).unwrap();
        assert_eq!(p.text, "five six seven eight nine");
        assert_eq!(p.dropped_turns, 1);
        let p = build_story_prompt(&m, 3, words).unwrap();
        assert_eq!(p.text, "seven eight nine");
        assert_eq!(p.dropped_turns, 2);
    }

    #[test]
    fn latest_turn_over_budget_is_returned_for_the_caller_to_judge() {
        let m = [msg("user", "a b"), msg("user", "c d e f")];
        let p = build_story_prompt(&m, 2, words).unwrap();
        assert_eq!(p.text, "c d e f");
        assert_eq!(p.tokens, 4);
    }

    #[test]
    fn text_parts_are_concatenated_and_images_refused() {
        let parts = ChatMessage {
            role: "user".into(),
            content: Some(MessageContent::Parts(vec![
                ContentPart {
                    kind: "text".into(),
                    text: Some("Tom saw ".into()),
                },
                ContentPart {
                    kind: "text".into(),
                    text: Some("a dog.".into()),
                },
            ])),
            name: None,
        };
        assert_eq!(
            build_story_prompt(std::slice::from_ref(&parts), 50, words)
                .unwrap()
                .text,
            "Tom saw a dog."
        );
        let image = ChatMessage {
            role: "user".into(),
            content: Some(MessageContent::Parts(vec![ContentPart {
                kind: "image_url".into(),
                text: None,
            }])),
            name: None,
        };
        let e = build_story_prompt(&[image], 50, words).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages[0].content[0].type"));
    }

    #[test]
    fn bad_roles_and_empty_conversations_are_refused() {
        let e = build_story_prompt(&[msg("tool", "x")], 50, words).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages[0].role"));
        let e = build_story_prompt(&[], 50, words).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages"));
        let e = build_story_prompt(&[msg("system", "Be nice."), msg("user", "  ")], 50, words)
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages"));
    }
}
