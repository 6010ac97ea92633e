//! The guard in front of every route: a request that needs a permission
//! ([`decide::requirement`]) is served only when its bearer token passes a TokenReview and its
//! user a SubjectAccessReview, both made through the cluster connection and cached briefly by
//! the token's hash. Otherwise it gets the refusal's status and JSON (401 with
//! `WWW-Authenticate: Bearer`, 403, or 503 while the cluster cannot be asked).

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::access::cache::{CAPACITY, TtlCache};
use crate::access::decide::{self, Refusal, Requirement};
use crate::access::{AccessReviewed, Attributes, TokenHash, TokenReviewed};
use crate::cluster::{AccessReviewer, ClusterError};

/// How long one review may take before the request is answered 503.
const REVIEW_TIMEOUT: Duration = Duration::from_secs(5);

/// The reviewer, once the cluster is connected, and the answers of recent reviews.
pub struct Gate {
    reviewer: OnceLock<AccessReviewer>,
    tokens: Mutex<TtlCache<TokenHash, TokenReviewed>>,
    grants: Mutex<TtlCache<(TokenHash, Attributes), AccessReviewed>>,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            reviewer: OnceLock::new(),
            tokens: Mutex::new(TtlCache::new(CAPACITY)),
            grants: Mutex::new(TtlCache::new(CAPACITY)),
        }
    }
}

impl AppState {
    /// Lets the API guard make its reviews through the cluster connection; until then the
    /// checked routes answer 503.
    pub fn set_access_reviewer(&self, reviewer: AccessReviewer) {
        let _ = self.gate.reviewer.set(reviewer);
    }
}

/// The middleware.
pub(super) async fn guard(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let needed = match decide::requirement(request.uri().path(), request.method().as_str(), &state.config.server) {
        Requirement::Open => return next.run(request).await,
        Requirement::Check(needed) => needed,
    };
    let header = request.headers().get(header::AUTHORIZATION).map(HeaderValue::as_bytes);
    match state.gate.check(header, &needed).await {
        Ok(()) => next.run(request).await,
        Err(refusal) => refuse(&refusal),
    }
}

impl Gate {
    async fn check(&self, header: Option<&[u8]>, needed: &Attributes) -> Result<(), Refusal> {
        let token = decide::bearer(header)?;
        let Some(reviewer) = self.reviewer.get() else {
            return Err(decide::unavailable("driftgate is not connected to the Kubernetes API that checks tokens"));
        };
        let hash = token.hash();
        // each lookup is its own statement: a lock guard must not live across an await
        let known = lock(&self.tokens).get(&hash, Instant::now());
        let identity = if let Some(known) = known {
            known
        } else {
            let fresh = bounded(reviewer.review_token(&token)).await?;
            lock(&self.tokens).insert(hash, fresh.clone(), decide::token_ttl(&fresh), Instant::now());
            fresh
        };
        let user = decide::authenticate(&identity)?;
        let key = (hash, needed.clone());
        let known = lock(&self.grants).get(&key, Instant::now());
        let access = if let Some(known) = known {
            known
        } else {
            let fresh = bounded(reviewer.review_access(&user, needed)).await?;
            lock(&self.grants).insert(key, fresh.clone(), decide::access_ttl(&fresh), Instant::now());
            fresh
        };
        decide::authorize(&user, needed, &access)
    }
}

/// A review within [`REVIEW_TIMEOUT`]; a failure is logged and answered 503 without its
/// details, which are for the operator, not for a caller not yet known.
async fn bounded<T>(review: impl Future<Output = Result<T, ClusterError>>) -> Result<T, Refusal> {
    match tokio::time::timeout(REVIEW_TIMEOUT, review).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => {
            eprintln!("driftgate: API access cannot be checked: {e}");
            Err(decide::unavailable("the Kubernetes API did not answer the review (see driftgate's log)"))
        }
        Err(_) => {
            eprintln!("driftgate: API access cannot be checked: no review answer within {}s", REVIEW_TIMEOUT.as_secs());
            Err(decide::unavailable("the Kubernetes API did not answer the review in time"))
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

fn refuse(refusal: &Refusal) -> Response {
    let code = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (code, axum::Json(refusal.body())).into_response();
    if refusal.challenges() {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}
