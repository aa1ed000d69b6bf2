//! Optional bearer-token check for `/v1/*`.
//!
//! Both the configured key and the presented token are hashed with SHA-256
//! and the digests compared in constant time (`subtle`), so neither the
//! content nor the length of the key leaks through response timing.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// The configured API key, kept only as its digest.
#[derive(Clone)]
pub struct ApiKey {
    digest: [u8; 32],
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl ApiKey {
    pub fn new(key: &str) -> Self {
        Self {
            digest: Sha256::digest(key.as_bytes()).into(),
        }
    }

    fn matches(&self, presented: &str) -> bool {
        let d: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.digest.ct_eq(&d).into()
    }

    /// Checks an `Authorization` header value (`None` when absent).
    pub fn check(&self, header: Option<&[u8]>) -> Result<(), ApiError> {
        let Some(raw) = header else {
            return Err(ApiError::unauthorized(
                "missing API key: send 'Authorization: Bearer <key>'",
            ));
        };
        let value = std::str::from_utf8(raw)
            .map_err(|_| ApiError::unauthorized("the Authorization header is not valid UTF-8"))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must have the form 'Bearer <key>'")
            })?;
        if self.matches(token.trim()) {
            Ok(())
        } else {
            Err(ApiError::unauthorized("invalid API key"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correct_key_passes() {
        let k = ApiKey::new("s3cret");
        assert!(k.check(Some(b"Bearer s3cret")).is_ok());
        assert!(k.check(Some(b"bearer s3cret")).is_ok());
    }

    #[test]
    fn wrong_missing_or_malformed_keys_are_401() {
        let k = ApiKey::new("s3cret");
        for h in [
            Some(&b"Bearer s3cre"[..]),
            Some(b"Bearer s3cret2"),
            Some(b"Basic s3cret"),
            Some(b"s3cret"),
            Some(b"Bearer "),
            Some(b"Bearer \xff"),
            None,
        ] {
            let e = k.check(h).unwrap_err();
            assert_eq!(e.status.as_u16(), 401, "{h:?}");
            assert_eq!(e.kind, "authentication_error");
        }
    }

    #[test]
    fn debug_does_not_print_the_key() {
        assert!(!format!("{:?}", ApiKey::new("s3cret")).contains("s3cret"));
    }
}
