//! Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics: the holder
//! renews before `leaseDurationSeconds` pass; anyone may take a lease whose renewal is older than
//! that; every write carries the resourceVersion it read, so two candidates never both win.
//! Only the leader heals; every replica keeps serving the webhook.

use std::time::Duration;

use kube::api::{Api, DynamicObject, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::watch;

use super::Connection;

/// What a candidate does with the lease it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// No lease yet: create it, holding it.
    Create,
    /// It is ours: renew it.
    Renew,
    /// Its holder stopped renewing: take it over.
    TakeOver,
    /// Someone else holds it: wait.
    Follow,
}

/// Decides from the lease's holder and last renewal (`None` when there is no lease).
pub fn step(lease: Option<(&str, OffsetDateTime, Duration)>, me: &str, now: OffsetDateTime) -> Step {
    match lease {
        None => Step::Create,
        Some((holder, _, _)) if holder == me => Step::Renew,
        Some(("", _, _)) => Step::TakeOver,
        Some((_, renewed, duration)) if now - renewed > duration => Step::TakeOver,
        Some(_) => Step::Follow,
    }
}

/// Where the lease lives and how long it lasts.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// Namespace of the Lease (driftgate's own).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// `leaseDurationSeconds`: how long a leader may go without renewing before others take over.
    pub duration: Duration,
}

fn lease_resource() -> ApiResource {
    ApiResource {
        group: "coordination.k8s.io".into(),
        version: "v1".into(),
        api_version: "coordination.k8s.io/v1".into(),
        kind: "Lease".into(),
        plural: "leases".into(),
    }
}

/// The API's MicroTime: RFC 3339 in UTC with exactly six fractional digits.
pub(super) fn micro(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

fn read(obj: &Value) -> Option<(String, OffsetDateTime, Duration)> {
    let spec = obj.get("spec")?;
    let holder = spec.get("holderIdentity").and_then(Value::as_str).unwrap_or_default().to_owned();
    let renewed = spec
        .get("renewTime")
        .and_then(Value::as_str)
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let secs = spec.get("leaseDurationSeconds").and_then(Value::as_u64).unwrap_or(15);
    Some((holder, renewed, Duration::from_secs(secs)))
}

/// One round: read the lease and act on it. `Ok(true)` when this replica holds the lease after it.
pub async fn try_acquire_or_renew(conn: &Connection, cfg: &LeaseConfig) -> Result<bool, kube::Error> {
    let api: Api<DynamicObject> = Api::namespaced_with(conn.client.clone(), &cfg.namespace, &lease_resource());
    let now = OffsetDateTime::now_utc();
    let current = match api.get(&cfg.name).await {
        Ok(obj) => Some(serde_json::to_value(obj).unwrap_or(Value::Null)),
        Err(kube::Error::Api(s)) if s.code == 404 => None,
        Err(e) => return Err(e),
    };
    let seen = current.as_ref().and_then(read);
    let decision = step(seen.as_ref().map(|(h, r, d)| (h.as_str(), *r, *d)), &cfg.identity, now);
    let spec = |acquired: &str, transitions: u64| {
        json!({"holderIdentity": cfg.identity, "leaseDurationSeconds": cfg.duration.as_secs(),
               "acquireTime": acquired, "renewTime": micro(now), "leaseTransitions": transitions})
    };
    let outcome = match (decision, current) {
        (Step::Follow, _) => return Ok(false),
        (Step::Create, _) => {
            let body = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": cfg.name, "namespace": cfg.namespace}, "spec": spec(&micro(now), 0)});
            let obj: DynamicObject = serde_json::from_value(body).map_err(kube::Error::SerdeError)?;
            api.create(&PostParams::default(), &obj).await.map(|_| ())
        }
        (step, Some(mut obj)) => {
            let old = obj.get("spec").cloned().unwrap_or(Value::Null);
            let transitions = old.get("leaseTransitions").and_then(Value::as_u64).unwrap_or(0);
            obj["spec"] = if step == Step::Renew {
                let acquired = old.get("acquireTime").and_then(Value::as_str).unwrap_or_default().to_owned();
                spec(&acquired, transitions)
            } else {
                spec(&micro(now), transitions + 1)
            };
            // the resourceVersion read above rides along: a concurrent writer makes this a 409
            let obj: DynamicObject = serde_json::from_value(obj).map_err(kube::Error::SerdeError)?;
            api.replace(&cfg.name, &PostParams::default(), &obj).await.map(|_| ())
        }
        (_, None) => return Ok(false),
    };
    match outcome {
        Ok(()) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Runs the election until the receiver is dropped: tries every `duration / 3`; a leader whose
/// renewals fail for two thirds of `duration` steps down, so it stops healing before anyone else
/// can take the lease over.
pub fn spawn(conn: Connection, cfg: LeaseConfig) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let period = (cfg.duration / 3).max(Duration::from_millis(100));
        let deadline = cfg.duration * 2 / 3;
        let mut last_renewal: Option<tokio::time::Instant> = None;
        loop {
            let leading = match try_acquire_or_renew(&conn, &cfg).await {
                Ok(true) => {
                    last_renewal = Some(tokio::time::Instant::now());
                    true
                }
                Ok(false) => {
                    last_renewal = None;
                    false
                }
                // an unreachable API server: keep leading only while the lease surely holds
                Err(_) => last_renewal.is_some_and(|t| t.elapsed() < deadline),
            };
            if *tx.borrow() != leading {
                eprintln!(
                    "driftgate: {} the self-heal lease {}/{}",
                    if leading { "acquired" } else { "lost" },
                    cfg.namespace,
                    cfg.name
                );
            }
            if tx.send(leading).is_err() {
                return;
            }
            tokio::time::sleep(period).await;
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_go_semantics() {
        let now = OffsetDateTime::now_utc();
        let d = Duration::from_secs(15);
        assert_eq!(step(None, "a", now), Step::Create);
        assert_eq!(step(Some(("a", now, d)), "a", now), Step::Renew);
        assert_eq!(step(Some(("b", now - Duration::from_secs(5), d)), "a", now), Step::Follow);
        assert_eq!(step(Some(("b", now - Duration::from_secs(16), d)), "a", now), Step::TakeOver);
        assert_eq!(step(Some(("", now, d)), "a", now), Step::TakeOver, "released");
    }

    #[test]
    fn micro_time_has_six_digits() {
        let t = OffsetDateTime::parse("2026-11-28T02:02:42.401760123Z", &Rfc3339).unwrap();
        assert_eq!(micro(t), "2026-11-28T02:02:42.401760Z");
    }
}
