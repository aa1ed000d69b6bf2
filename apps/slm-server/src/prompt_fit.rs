//! Fitting a prompt and its completion into the model's context window:
//! prompt tokens + `max_tokens` must not exceed the context length.

use crate::error::ApiError;

/// Picks the completion budget for a prompt of `prompt_tokens` tokens.
///
/// An explicit `requested` budget that does not fit is refused with a 400
/// saying how far to reduce it; without one, `default` is shrunk to the room
/// left. `prompt_param` names the field holding the prompt (`prompt` or
/// `messages`) for the error.
pub fn fit_max_tokens(
    prompt_tokens: usize,
    requested: Option<usize>,
    default: usize,
    context_length: usize,
    prompt_param: &str,
) -> Result<usize, ApiError> {
    if prompt_tokens >= context_length {
        return Err(ApiError::context_overflow(
            prompt_param,
            format!(
                "the prompt is {prompt_tokens} tokens, but the model's context length is \
                 {context_length} tokens (prompt + max_tokens); shorten the prompt"
            ),
        ));
    }
    let room = context_length - prompt_tokens;
    match requested {
        Some(m) if m > room => Err(ApiError::context_overflow(
            "max_tokens",
            format!(
                "the prompt is {prompt_tokens} tokens and max_tokens is {m}; together they exceed \
                 the model's context length of {context_length} tokens. Reduce max_tokens to at \
                 most {room} or shorten the prompt"
            ),
        )),
        Some(m) => Ok(m),
        None => Ok(default.min(room)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn explicit_budget_that_fits_is_kept() {
        assert_eq!(
            fit_max_tokens(10, Some(502), 64, 512, "prompt").unwrap(),
            502
        );
    }

    #[test]
    fn explicit_budget_too_large_names_max_tokens_and_the_room() {
        let e = fit_max_tokens(500, Some(20), 64, 512, "prompt").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("max_tokens"));
        assert_eq!(e.code, Some("context_length_exceeded"));
        assert!(e.message.contains("at most 12"), "{}", e.message);
    }

    #[test]
    fn default_budget_shrinks_to_fit() {
        assert_eq!(fit_max_tokens(500, None, 64, 512, "prompt").unwrap(), 12);
        assert_eq!(fit_max_tokens(5, None, 64, 512, "prompt").unwrap(), 64);
    }

    #[test]
    fn prompt_filling_the_context_is_refused_naming_the_prompt_field() {
        let e = fit_max_tokens(512, None, 64, 512, "messages").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages"));
        assert!(e.message.contains("512"), "{}", e.message);
    }

    proptest! {
        #[test]
        fn accepted_budgets_always_fit(p in 0usize..700, m in proptest::option::of(1usize..700), d in 1usize..600) {
            if let Ok(n) = fit_max_tokens(p, m, d, 512, "prompt") {
                prop_assert!(n >= 1);
                prop_assert!(p + n <= 512);
                if let Some(m) = m { prop_assert_eq!(n, m); }
            } else {
                prop_assert!(p >= 512 || m.is_some_and(|m| p + m > 512));
            }
        }
    }
}
