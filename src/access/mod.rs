//! Who may read driftgate's HTTP APIs, decided the way the Kubernetes API server delegates it:
//! a bearer token is checked with a TokenReview, and the user it names is authorized with a
//! SubjectAccessReview on a virtual resource of the `driftgate.dev` group (`sources`, `events`,
//! `metrics`). This module is the pure part: which permission a request needs
//! ([`decide::requirement`]), what the reviews' answers mean for it ([`decide`]), and the
//! short-lived cache of those answers ([`cache`]). The reviews themselves are made by
//! `cluster::AccessReviewer`; the HTTP guard is `server::auth`.

pub mod cache;
pub mod decide;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

/// The API group of driftgate's virtual resources, named in ClusterRoles.
pub const GROUP: &str = "driftgate.dev";

/// A bearer token. Its `Debug` never shows it; only [`Token::expose`] does, to send it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A token from text (a header value, a file): surrounding whitespace is dropped; `None`
    /// when nothing is left or the rest holds whitespace or control characters.
    pub fn new(text: &str) -> Option<Self> {
        let t = text.trim();
        if t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return None;
        }
        Some(Self(t.to_owned()))
    }

    /// The token itself, to put in a request.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Its SHA-256: what caches are keyed by, so they never hold a token.
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(redacted)")
    }
}

/// The SHA-256 of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

/// What a request needs permission for: a SubjectAccessReview's attributes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum Attributes {
    /// A virtual resource, e.g. `get` on `sources.driftgate.dev` named `shop`.
    Resource {
        /// The API group, [`GROUP`].
        group: String,
        /// `sources`, `events` or `metrics`.
        resource: String,
        /// `get` for reads.
        verb: String,
        /// The object's name, when the request names one.
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// A path that is no known resource: its URL and verb, as Kubernetes checks `/healthz`.
    NonResource {
        /// The request path.
        #[serde(rename = "nonResourceURL")]
        path: String,
        /// `get` for reads.
        verb: String,
    },
}

/// Who a TokenReview said the token belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct User {
    /// `alice`, `system:serviceaccount:driftgate-system:driftgate`.
    pub username: String,
    /// The identity's uid, when the authenticator gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Groups, `system:authenticated` among them.
    pub groups: Vec<String>,
    /// Extra attributes (scopes, the pod a service account token is bound to); the
    /// SubjectAccessReview needs them back.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<String>>,
}

/// A TokenReview's status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenReviewed {
    /// `status.authenticated`.
    pub authenticated: bool,
    /// `status.user`.
    pub user: User,
    /// `status.error`: why the token was not accepted.
    pub error: Option<String>,
}

/// A SubjectAccessReview's status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessReviewed {
    /// `status.allowed`.
    pub allowed: bool,
    /// `status.denied`: an authorizer denied outright.
    pub denied: bool,
    /// `status.reason`.
    pub reason: Option<String>,
    /// `status.evaluationError`: an authorizer failed (the review may still be decided).
    pub evaluation_error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_trimmed_checked_and_never_shown() {
        let t = Token::new(" abc.def\n").unwrap();
        assert_eq!(t.expose(), "abc.def");
        assert_eq!(format!("{t:?}"), "Token(redacted)");
        assert!(Token::new("  ").is_none());
        assert!(Token::new("a b").is_none());
        assert_eq!(t.hash(), Token::new("abc.def").unwrap().hash());
        assert_ne!(t.hash(), Token::new("abc.deg").unwrap().hash());
    }
}
