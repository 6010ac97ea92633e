//! The decisions: which permission a request needs, and what the reviews' answers make of it.
//! No I/O: the guard in `server::auth` asks the cluster and applies these.

use std::time::Duration;

use serde_json::{Value, json};

use super::{AccessReviewed, Attributes, GROUP, Token, TokenReviewed, User};
use crate::config::{ApiAuth, Server};

/// How long an accepted token, or an allowed review, is trusted without asking again.
pub const ALLOWED_TTL: Duration = Duration::from_secs(10);
/// How long a rejected token, or a refused review, is remembered: short, so a new grant or a
/// new token works within seconds.
pub const DENIED_TTL: Duration = Duration::from_secs(2);

/// What a request must show before it is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// Nothing: `/validate` (the API server's TLS call), `/healthz`, `/readyz`, `/metrics` by default.
    Open,
    /// A token whose user is allowed these attributes.
    Check(Attributes),
}

/// The permission a request needs. Everything under `/api/` is checked: `/api/v1/{resource}`
/// and `/api/v1/{resource}/{name}` as `driftgate.dev` resources, any other path there as a
/// non-resource URL, so a route added later is never open by mistake. `/metrics` is checked
/// only with `server.metricsAuth`; nothing is with `server.auth: none`. Empty segments are
/// skipped, so `//api/v1/sources` is checked like `/api/v1/sources`.
pub fn requirement(path: &str, method: &str, server: &Server) -> Requirement {
    if server.auth == ApiAuth::None {
        return Requirement::Open;
    }
    let verb = verb(method);
    let resource = |resource: &str, name: Option<&str>| {
        Requirement::Check(Attributes::Resource {
            group: GROUP.to_owned(),
            resource: percent_decode(resource),
            verb: verb.clone(),
            name: name.map(percent_decode),
        })
    };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["api", "v1", r] => resource(r, None),
        ["api", "v1", r, name] => resource(r, Some(name)),
        ["api", ..] => Requirement::Check(Attributes::NonResource { path: path.to_owned(), verb }),
        ["metrics", ..] if server.metrics_auth => resource("metrics", None),
        _ => Requirement::Open,
    }
}

/// The Kubernetes verb of an HTTP method: reads are `get` (a list too: the status API's list
/// and the event stream are one resource each).
fn verb(method: &str) -> String {
    match method {
        "GET" | "HEAD" => "get".to_owned(),
        "POST" => "create".to_owned(),
        "PUT" => "update".to_owned(),
        other => other.to_ascii_lowercase(),
    }
}

/// Decodes `%XX` escapes, as the router does for the `{name}` it hands the handler.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Why a request is not served: the HTTP status and the JSON error. Never holds the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 401 (no or bad token), 403 (not allowed) or 503 (cannot check).
    pub status: u16,
    /// What went wrong, for people.
    pub message: String,
    /// The user a 403 is about.
    pub user: Option<String>,
    /// The permission a 403 lacked.
    pub permission: Option<Attributes>,
}

impl Refusal {
    fn unauthenticated(message: &str) -> Self {
        Self { status: 401, message: message.to_owned(), user: None, permission: None }
    }

    /// Whether the answer carries `WWW-Authenticate: Bearer` (a 401).
    pub fn challenges(&self) -> bool {
        self.status == 401
    }

    /// The JSON body: `error`, and for a 403 `user` and `permission`.
    pub fn body(&self) -> Value {
        let mut body = json!({"error": self.message});
        if let Some(u) = &self.user {
            body["user"] = json!(u);
        }
        if let Some(p) = &self.permission {
            body["permission"] = json!(p);
        }
        body
    }
}

const NO_TOKEN: &str =
    "this API needs a Kubernetes bearer token (Authorization: Bearer <token>), e.g. `kubectl create token`";

/// The token of an `Authorization` header (`Bearer <token>`, the scheme in any case).
pub fn bearer(header: Option<&[u8]>) -> Result<Token, Refusal> {
    let Some(raw) = header else { return Err(Refusal::unauthenticated(NO_TOKEN)) };
    let not_bearer = || Refusal::unauthenticated("the Authorization header is not `Bearer <token>`");
    let text = std::str::from_utf8(raw).map_err(|_| not_bearer())?.trim();
    let (scheme, rest) = text.split_once(' ').ok_or_else(not_bearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(not_bearer());
    }
    Token::new(rest).ok_or_else(not_bearer)
}

/// The user a TokenReview vouched for; 401 when it did not (the review's own error is not
/// passed on: like the API server, a bad token learns only that it is bad).
pub fn authenticate(review: &TokenReviewed) -> Result<User, Refusal> {
    if review.authenticated && !review.user.username.is_empty() {
        Ok(review.user.clone())
    } else {
        Err(Refusal::unauthenticated("invalid bearer token: the Kubernetes API did not authenticate it (TokenReview)"))
    }
}

/// Whether a SubjectAccessReview lets `user` have `needed`; 403 naming both, in the API
/// server's words, when it does not.
pub fn authorize(user: &User, needed: &Attributes, review: &AccessReviewed) -> Result<(), Refusal> {
    if review.allowed && !review.denied {
        return Ok(());
    }
    let who = &user.username;
    let mut message = match needed {
        Attributes::Resource { group, resource, verb, name } => {
            let object = match name {
                Some(n) => format!("{resource}.{group} {n:?}"),
                None => format!("{resource}.{group}"),
            };
            format!("{object} is forbidden: User {who:?} cannot {verb} resource {resource:?} in API group {group:?}")
        }
        Attributes::NonResource { path, verb } => format!("forbidden: User {who:?} cannot {verb} path {path:?}"),
    };
    for (what, text) in [("", &review.reason), ("evaluation error: ", &review.evaluation_error)] {
        if let Some(t) = text.as_deref().filter(|t| !t.is_empty()) {
            message.push_str("; ");
            message.push_str(what);
            message.push_str(t);
        }
    }
    Err(Refusal { status: 403, message, user: Some(who.clone()), permission: Some(needed.clone()) })
}

/// 503: the reviews cannot be made (no cluster yet, the API failed or timed out).
pub fn unavailable(why: &str) -> Refusal {
    Refusal { status: 503, message: format!("cannot authenticate API readers: {why}"), user: None, permission: None }
}

/// How long a TokenReview's answer is cached.
pub fn token_ttl(review: &TokenReviewed) -> Duration {
    if review.authenticated { ALLOWED_TTL } else { DENIED_TTL }
}

/// How long a SubjectAccessReview's answer is cached.
pub fn access_ttl(review: &AccessReviewed) -> Duration {
    if review.allowed && !review.denied { ALLOWED_TTL } else { DENIED_TTL }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on() -> Server {
        Server::default()
    }

    fn res(resource: &str, name: Option<&str>) -> Requirement {
        Requirement::Check(Attributes::Resource {
            group: "driftgate.dev".into(),
            resource: resource.into(),
            verb: "get".into(),
            name: name.map(Into::into),
        })
    }

    #[test]
    fn the_apis_need_their_resource_and_the_rest_is_open() {
        let s = on();
        assert_eq!(requirement("/api/v1/sources", "GET", &s), res("sources", None));
        assert_eq!(requirement("/api/v1/sources/shop", "GET", &s), res("sources", Some("shop")));
        assert_eq!(requirement("/api/v1/sources/a%2Fb", "GET", &s), res("sources", Some("a/b")));
        assert_eq!(requirement("/api/v1/events", "GET", &s), res("events", None));
        assert_eq!(requirement("//api//v1/events", "HEAD", &s), res("events", None));
        for open in ["/validate", "/healthz", "/readyz", "/metrics", "/", "/nope"] {
            assert_eq!(requirement(open, "GET", &s), Requirement::Open, "{open}");
        }
        assert_eq!(requirement("/validate", "POST", &s), Requirement::Open);
    }

    #[test]
    fn unknown_api_paths_are_checked_as_urls() {
        for path in ["/api", "/api/v2/sources", "/api/v1/sources/shop/extra"] {
            assert_eq!(
                requirement(path, "GET", &on()),
                Requirement::Check(Attributes::NonResource { path: path.into(), verb: "get".into() }),
                "{path}"
            );
        }
        let Requirement::Check(Attributes::Resource { verb, .. }) = requirement("/api/v1/sources", "DELETE", &on())
        else {
            panic!("a resource")
        };
        assert_eq!(verb, "delete");
    }

    #[test]
    fn metrics_are_checked_when_configured_and_nothing_without_auth() {
        let metrics = Server { metrics_auth: true, ..Server::default() };
        assert_eq!(requirement("/metrics", "GET", &metrics), res("metrics", None));
        assert_eq!(requirement("/healthz", "GET", &metrics), Requirement::Open);
        let none = Server { auth: ApiAuth::None, metrics_auth: false };
        assert_eq!(requirement("/api/v1/events", "GET", &none), Requirement::Open);
    }

    #[test]
    fn the_bearer_token_of_the_header() {
        assert_eq!(bearer(Some(b"Bearer abc")).unwrap().expose(), "abc");
        assert_eq!(bearer(Some(b"bearer  abc ")).unwrap().expose(), "abc");
        for bad in [&b"Basic dXNlcjpwdw=="[..], b"Bearer", b"Bearer ", b"Bearer a b", b"abc", b"Bearer \xff"] {
            let r = bearer(Some(bad)).unwrap_err();
            assert_eq!(r.status, 401, "{bad:?}");
            assert!(r.challenges());
        }
        let none = bearer(None).unwrap_err();
        assert_eq!((none.status, none.body()["error"].as_str().unwrap().contains("Bearer")), (401, true));
    }

    fn alice() -> User {
        User { username: "alice".into(), groups: vec!["system:authenticated".into()], ..User::default() }
    }

    #[test]
    fn a_token_is_good_only_when_the_review_names_someone() {
        let ok = TokenReviewed { authenticated: true, user: alice(), error: None };
        assert_eq!(authenticate(&ok).unwrap().username, "alice");
        assert_eq!(token_ttl(&ok), ALLOWED_TTL);
        let bad = TokenReviewed { authenticated: false, user: User::default(), error: Some("expired".into()) };
        let r = authenticate(&bad).unwrap_err();
        assert_eq!(r.status, 401);
        assert!(!r.message.contains("expired"), "the review's error is not passed on");
        assert_eq!(token_ttl(&bad), DENIED_TTL);
        let nameless = TokenReviewed { authenticated: true, ..TokenReviewed::default() };
        assert_eq!(authenticate(&nameless).unwrap_err().status, 401);
    }

    #[test]
    fn a_refusal_names_the_user_and_the_missing_permission() {
        let Requirement::Check(needed) = requirement("/api/v1/sources/shop", "GET", &on()) else { panic!() };
        assert_eq!(authorize(&alice(), &needed, &AccessReviewed { allowed: true, ..Default::default() }), Ok(()));
        let r = authorize(&alice(), &needed, &AccessReviewed::default()).unwrap_err();
        assert_eq!(r.status, 403);
        assert!(!r.challenges());
        assert_eq!(
            r.message,
            "sources.driftgate.dev \"shop\" is forbidden: User \"alice\" cannot get resource \"sources\" in API group \"driftgate.dev\""
        );
        assert_eq!(
            r.body(),
            json!({"error": r.message, "user": "alice",
                   "permission": {"group": "driftgate.dev", "resource": "sources", "verb": "get", "name": "shop"}})
        );
        assert_eq!(access_ttl(&AccessReviewed::default()), DENIED_TTL);
        // an explicit denial wins over an allowance; the reasons are passed on
        let denied = AccessReviewed {
            allowed: true,
            denied: true,
            reason: Some("policy says no".into()),
            evaluation_error: None,
        };
        let r = authorize(&alice(), &needed, &denied).unwrap_err();
        assert!(r.message.ends_with("; policy says no"), "{}", r.message);
        assert_eq!(access_ttl(&denied), DENIED_TTL);
        let Requirement::Check(url) = requirement("/api/v2", "GET", &on()) else { panic!() };
        let r = authorize(&alice(), &url, &AccessReviewed::default()).unwrap_err();
        assert_eq!(r.message, "forbidden: User \"alice\" cannot get path \"/api/v2\"");
        assert_eq!(r.body()["permission"], json!({"nonResourceURL": "/api/v2", "verb": "get"}));
    }

    #[test]
    fn unavailable_is_503() {
        let r = unavailable("no cluster");
        assert_eq!((r.status, r.challenges()), (503, false));
        assert_eq!(r.body(), json!({"error": "cannot authenticate API readers: no cluster"}));
    }
}
