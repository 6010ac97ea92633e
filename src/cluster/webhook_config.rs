//! Keeps driftgate's ValidatingWebhookConfiguration matching the desired state
//! (`admission.manageWebhookConfiguration`): it reads the object by name, keeps the caBundles the
//! CA injector put there, and replaces it only when the generated rules differ, with the
//! resourceVersion it read (a conflict is read again). It never creates or deletes it.

use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, DynamicObject, PostParams};
use kube::discovery::ApiResource;
use serde_json::Value;

use super::Connection;
use crate::admission::registration;
use crate::config::Config;
use crate::desired::Store;

/// What one pass did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reconciled {
    /// The live configuration already matched.
    UpToDate,
    /// It was replaced.
    Updated,
}

/// Why a pass failed.
#[derive(Debug, thiserror::Error)]
pub enum WebhookConfigError {
    /// The object is not there: `serve` only updates it.
    #[error(
        "ValidatingWebhookConfiguration {0} does not exist; apply deploy/webhook.yaml (or the output of `driftgate webhook-config`) first"
    )]
    Missing(String),
    /// The API refused or failed.
    #[error("ValidatingWebhookConfiguration {name}: {source}")]
    Api {
        /// Its name.
        name: String,
        /// The cause.
        source: kube::Error,
    },
}

fn resource() -> ApiResource {
    ApiResource {
        group: "admissionregistration.k8s.io".into(),
        version: "v1".into(),
        api_version: "admissionregistration.k8s.io/v1".into(),
        kind: "ValidatingWebhookConfiguration".into(),
        plural: "validatingwebhookconfigurations".into(),
    }
}

/// Makes the live configuration say what `desired` says; conflicts are retried a few times.
pub async fn reconcile(conn: &Connection, desired: &Value) -> Result<Reconciled, WebhookConfigError> {
    let name = desired["metadata"]["name"].as_str().unwrap_or_default().to_owned();
    let api: Api<DynamicObject> = Api::all_with(conn.client.clone(), &resource());
    let failed = |source| WebhookConfigError::Api { name: name.clone(), source };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let Some(live) = api.get_opt(&name).await.map_err(failed)? else {
            return Err(WebhookConfigError::Missing(name));
        };
        let live = serde_json::to_value(&live).unwrap_or(Value::Null);
        let mut next = desired.clone();
        registration::keep_ca_bundles(&mut next, &live);
        if registration::up_to_date(&next, &live) {
            return Ok(Reconciled::UpToDate);
        }
        // keep the live metadata (resourceVersion for the conflict check, cert-manager's
        // annotation, labels others added) and add ours
        let mut metadata = live["metadata"].clone();
        if let (Some(m), Some(labels)) = (metadata.as_object_mut(), next["metadata"]["labels"].as_object()) {
            let own = m.entry("labels").or_insert_with(|| Value::Object(serde_json::Map::default()));
            if let Some(own) = own.as_object_mut() {
                for (k, v) in labels {
                    own.insert(k.clone(), v.clone());
                }
            }
        }
        next["metadata"] = metadata;
        let object: DynamicObject = match serde_json::from_value(next) {
            Ok(o) => o,
            Err(e) => return Err(failed(kube::Error::SerdeError(e))),
        };
        match api
            .replace(&name, &PostParams { field_manager: Some("driftgate".into()), ..Default::default() }, &object)
            .await
        {
            Ok(_) => return Ok(Reconciled::Updated),
            Err(kube::Error::Api(e)) if e.code == 409 && attempt < 5 => {}
            Err(e) => return Err(failed(e)),
        }
    }
}

/// Runs until the process ends: after the desired state has first loaded, after every change to
/// it, and every minute (a hand edit of the configuration is put back), the configuration is
/// brought up to date. A failed pass is retried with backoff.
pub async fn run(conn: Connection, config: Arc<Config>, store: Arc<Store>, loaded: impl Fn() -> bool) {
    let mut changes = store.subscribe();
    let mut last: Option<Value> = None;
    let mut backoff = Duration::from_secs(1);
    loop {
        if !loaded() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        {
            let snapshot = store.get();
            let objects = snapshot.sources.values().flat_map(|s| s.objects.values());
            let scope = registration::scope(objects, &registration::excluded_namespaces(&config.admission));
            let desired = registration::configuration(&config.admission, &config.reconcilers, &scope, None);
            if last.as_ref() != Some(&desired) {
                match reconcile(&conn, &desired).await {
                    Ok(done) => {
                        if done == Reconciled::Updated {
                            eprintln!(
                                "driftgate: webhook configuration {} updated: {} namespaced and {} cluster-scoped resources, {} namespaces",
                                config.admission.webhook.configuration_name,
                                scope.namespaced.len(),
                                scope.cluster.len(),
                                scope.namespaces.len()
                            );
                        }
                        last = Some(desired);
                        backoff = Duration::from_secs(1);
                    }
                    Err(e) => {
                        eprintln!("driftgate: cannot update the webhook configuration: {e}; retrying in {backoff:?}");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(60));
                        continue;
                    }
                }
            }
        }
        if tokio::time::timeout(Duration::from_secs(60), changes.changed()).await.is_err() {
            last = None;
        }
    }
}
