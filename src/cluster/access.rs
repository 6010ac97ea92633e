//! The reviews behind API access: a TokenReview (who holds this token?) and a
//! SubjectAccessReview (may they do this?), created with driftgate's own credentials, which
//! need `create` on both (the `system:auth-delegator` ClusterRole). What the answers mean is
//! decided in `access::decide`.

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};

use super::{ClusterError, Connection};
use crate::access::{AccessReviewed, Attributes, Token, TokenReviewed, User};

/// Makes the reviews with a cluster connection.
#[derive(Clone)]
pub struct AccessReviewer {
    conn: Connection,
}

impl AccessReviewer {
    /// Reviews through `conn`.
    pub fn new(conn: Connection) -> Self {
        Self { conn }
    }

    /// Creates a TokenReview for `token`, for the API server's own audiences.
    pub async fn review_token(&self, token: &Token) -> Result<TokenReviewed, ClusterError> {
        let api: Api<TokenReview> = Api::all(self.conn.client.clone());
        let review = TokenReview {
            spec: TokenReviewSpec { token: Some(token.expose().to_owned()), audiences: None },
            ..TokenReview::default()
        };
        let answer = api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|source| ClusterError::Api { what: "create TokenReview".into(), source })?;
        let status = answer.status.unwrap_or_default();
        let user = status.user.unwrap_or_default();
        Ok(TokenReviewed {
            authenticated: status.authenticated.unwrap_or(false),
            user: User {
                username: user.username.unwrap_or_default(),
                uid: user.uid.filter(|u| !u.is_empty()),
                groups: user.groups.unwrap_or_default(),
                extra: user.extra.unwrap_or_default(),
            },
            error: status.error.filter(|e| !e.is_empty()),
        })
    }

    /// Creates a SubjectAccessReview: may `user` have `needed`?
    pub async fn review_access(&self, user: &User, needed: &Attributes) -> Result<AccessReviewed, ClusterError> {
        let api: Api<SubjectAccessReview> = Api::all(self.conn.client.clone());
        let (resource_attributes, non_resource_attributes) = match needed {
            Attributes::Resource { group, resource, verb, name } => (
                Some(ResourceAttributes {
                    group: Some(group.clone()),
                    resource: Some(resource.clone()),
                    verb: Some(verb.clone()),
                    name: name.clone(),
                    ..ResourceAttributes::default()
                }),
                None,
            ),
            Attributes::NonResource { path, verb } => {
                (None, Some(NonResourceAttributes { path: Some(path.clone()), verb: Some(verb.clone()) }))
            }
        };
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(user.username.clone()),
                uid: user.uid.clone(),
                groups: Some(user.groups.clone()),
                extra: (!user.extra.is_empty()).then(|| user.extra.clone()),
                resource_attributes,
                non_resource_attributes,
            },
            ..SubjectAccessReview::default()
        };
        let answer = api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|source| ClusterError::Api { what: "create SubjectAccessReview".into(), source })?;
        let status = answer.status.unwrap_or_default();
        Ok(AccessReviewed {
            allowed: status.allowed,
            denied: status.denied.unwrap_or(false),
            reason: status.reason.filter(|r| !r.is_empty()),
            evaluation_error: status.evaluation_error.filter(|e| !e.is_empty()),
        })
    }
}
