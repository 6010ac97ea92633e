//! The one audit event type: a CloudEvents 1.0 JSON envelope whose `data` has the same core
//! fields for admission, drift, heal and source events. Builders are pure: the caller passes the
//! time and the trace. Events carry paths (keys), never values, so Secret data cannot leak.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::admission::decide::{Outcome, Verdict};
use crate::admission::review::Request;
use crate::config::Mode;
use crate::desired::Event as SourceEvent;
use crate::detect::Transition;
use crate::diff::report::SourceInfo;
use crate::model::ResourceKey;

/// A CloudEvents 1.0 envelope.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CloudEvent {
    /// Always `1.0`.
    pub specversion: String,
    /// Unique per event, kept across retries: receivers dedup on it.
    pub id: String,
    /// `driftgate`.
    pub source: String,
    /// `dev.driftgate.{admission,drift,heal,source}.*`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// RFC 3339.
    pub time: String,
    /// `application/json`.
    pub datacontenttype: String,
    /// The object, as `group/Kind/namespace/name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The W3C trace context of the span that wrote the event (the CloudEvents distributed
    /// tracing extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// What happened.
    pub data: Data,
}

/// The event's payload: the core fields every event has, then the type's own details.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Data {
    /// Who made the change.
    pub actor: Actor,
    /// The object, when the event is about one.
    pub object: Option<ResourceKey>,
    /// The paths changed or drifted; keys only, never values.
    pub paths: Vec<String>,
    /// Admission events: `denied`, `warned`, `audited` or `breakglass`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// Drift, heal and source events: `detected`, `resolved`, `revert`, `create`, `prune`,
    /// `synced`, `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The config source that declares the object.
    pub source: Option<String>,
    /// The Git revision asked for (a branch, tag or commit).
    pub revision: Option<String>,
    /// The commit the revision resolved to.
    pub commit: Option<String>,
    /// The trace this event belongs to (32 hex digits).
    pub trace_id: Option<String>,
    /// Nothing was changed: a dry-run request or a dry-run heal.
    pub dry_run: bool,
    /// The type's own fields.
    #[serde(flatten)]
    pub details: Map<String, Value>,
}

/// Who made a change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    /// The Kubernetes username, when known (admission; drift and heal after a warned admission).
    pub username: Option<String>,
    /// The user's groups.
    pub groups: Vec<String>,
    /// The field manager that wrote the change.
    pub field_manager: Option<String>,
}

/// The trace an event belongs to: ids as lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceRef {
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
}

impl CloudEvent {
    fn new(event_type: String, id: String, time: &str, subject: Option<String>, data: Data) -> Self {
        Self {
            specversion: "1.0".into(),
            id,
            source: "driftgate".into(),
            event_type,
            time: time.to_owned(),
            datacontenttype: "application/json".into(),
            subject,
            traceparent: None,
            data,
        }
    }

    /// The event within `trace`: sets `data.traceId` and the `traceparent` extension.
    #[must_use]
    pub fn in_trace(mut self, trace: Option<&TraceRef>) -> Self {
        if let Some(t) = trace {
            self.traceparent = Some(format!("00-{}-{}-01", t.trace_id, t.span_id));
            self.data.trace_id = Some(t.trace_id.clone());
        }
        self
    }

    /// The object's kind, when the event is about one.
    pub fn kind(&self) -> Option<&str> {
        self.data.object.as_ref().map(|k| k.kind.as_str())
    }
}

/// An id for events that have no natural one: a digest of what happened and when.
fn digest_id(parts: &str) -> String {
    crate::encoding::hex(&Sha256::digest(parts)).chars().take(32).collect()
}

fn details(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The admission verdict word, or `None` for a plain allow (which writes no event).
pub fn verdict_word(outcome: &Outcome) -> Option<&'static str> {
    match outcome {
        Outcome::Allowed(_) => None,
        Outcome::BreakGlass(_) => Some("breakglass"),
        Outcome::RolloutRestart => Some("restart"),
        Outcome::Violation { mode: Mode::Enforce, .. } => Some("denied"),
        Outcome::Violation { mode: Mode::Warn, .. } => Some("warned"),
        Outcome::Violation { mode: Mode::Audit, .. } => Some("audited"),
    }
}

/// The event for an admission verdict, or `None` for a plain allow.
pub fn admission_event(req: &Request, verdict: &Verdict, info: Option<&SourceInfo>, time: &str) -> Option<CloudEvent> {
    let word = verdict_word(&verdict.outcome)?;
    let dry_run = req.dry_run.unwrap_or(false);
    let (paths, extra) = match &verdict.outcome {
        Outcome::Violation { mode, paths, message } => {
            (paths.clone(), serde_json::json!({"message": message, "mode": mode}))
        }
        Outcome::BreakGlass(reason) => (Vec::new(), serde_json::json!({"reason": reason})),
        Outcome::RolloutRestart => {
            (vec![format!("spec.template.metadata.annotations.\"{}\"", crate::diff::ignore::RESTARTED_AT)], Value::Null)
        }
        Outcome::Allowed(_) => (Vec::new(), Value::Null),
    };
    let mut details = details(extra);
    details.insert("operation".into(), Value::String(req.operation.clone()));
    details.insert("subResource".into(), serde_json::to_value(&req.sub_resource).unwrap_or(Value::Null));
    details.insert("allowed".into(), Value::Bool(verdict.response.allowed));
    let data = Data {
        actor: Actor {
            username: Some(req.user_info.username.clone()),
            groups: req.user_info.groups.clone(),
            field_manager: req.field_manager().map(str::to_owned),
        },
        object: verdict.key.clone(),
        paths,
        verdict: Some(word.to_owned()),
        source: verdict.source.clone(),
        revision: info.and_then(|i| i.revision.clone()),
        commit: info.and_then(|i| i.commit.clone()),
        dry_run,
        details,
        ..Data::default()
    };
    let event_type = format!("dev.driftgate.admission.{word}{}", if dry_run { ".dryrun" } else { "" });
    Some(CloudEvent::new(event_type, req.uid.clone(), time, verdict.key.as_ref().map(ToString::to_string), data))
}

/// The event for a drift transition (`dev.driftgate.drift.detected` or `.resolved` for hand
/// changes, `dev.driftgate.sync.pending` or `.completed` for Git changes the reconciler has yet
/// to apply), or `None` for moves that are not news. `actor` names who let the change in, when driftgate saw it.
/// `live_version` is the object's resourceVersion: with it the id is the same on every replica
/// that sees the transition, so receivers dedup them; without it (a Missing object) the time
/// keeps ids apart.
pub fn drift_event(
    t: &Transition,
    info: Option<&SourceInfo>,
    actor: Option<Actor>,
    live_version: Option<&str>,
    time: &str,
) -> Option<CloudEvent> {
    let kind = t.event()?;
    let actor = actor
        .unwrap_or_else(|| Actor { field_manager: t.actors.first().map(|a| a.manager.clone()), ..Actor::default() });
    let data = Data {
        actor,
        object: Some(t.key.clone()),
        paths: t.paths.clone(),
        action: kind.split_once('.').map(|(_, a)| a.to_owned()),
        source: Some(t.source.clone()),
        revision: info.and_then(|i| i.revision.clone()),
        commit: info.and_then(|i| i.commit.clone()),
        details: details(serde_json::json!({
            "status": t.to, "previous": t.from, "cause": t.cause, "actors": t.actors,
            "repo": info.and_then(|i| i.repo.as_deref()), "path": info.map(|i| i.path.as_str()),
        })),
        ..Data::default()
    };
    let commit = info.and_then(|i| i.commit.as_deref()).unwrap_or_default();
    let at = live_version.unwrap_or(time);
    let id = digest_id(&format!("{kind}|{}|{}|{:?}|{:?}|{:?}|{commit}|{at}", t.source, t.key, t.from, t.to, t.paths));
    Some(CloudEvent::new(format!("dev.driftgate.{kind}"), id, time, Some(t.key.to_string()), data))
}

/// The event for ignore rules that could not be evaluated on an object (a jq budget exceeded):
/// `dev.driftgate.rule.failed`. They selected nothing, so what they should hide may show as drift.
pub fn rule_event(t: &Transition, info: Option<&SourceInfo>, time: &str) -> Option<CloudEvent> {
    if t.rule_errors.is_empty() {
        return None;
    }
    let data = Data {
        object: Some(t.key.clone()),
        action: Some("failed".into()),
        source: Some(t.source.clone()),
        revision: info.and_then(|i| i.revision.clone()),
        commit: info.and_then(|i| i.commit.clone()),
        details: details(serde_json::json!({"ruleErrors": t.rule_errors})),
        ..Data::default()
    };
    let id = digest_id(&format!("rule.failed|{}|{}|{:?}|{time}", t.source, t.key, t.rule_errors));
    Some(CloudEvent::new("dev.driftgate.rule.failed".into(), id, time, Some(t.key.to_string()), data))
}

/// A self-heal event: `dev.driftgate.heal.{applied,failed,quarantined}` (`.dryrun` appended when
/// nothing was changed). `report` is the healer's summary: its `source`, `action` and `paths`
/// become the core fields, the rest stays as details.
pub fn heal_event(
    kind: &str,
    subject: &ResourceKey,
    report: Value,
    info: Option<&SourceInfo>,
    actor: Option<Actor>,
    dry_run: bool,
    time: &str,
) -> CloudEvent {
    let mut details = details(report);
    let text = |v: Option<Value>| v.and_then(|v| v.as_str().map(str::to_owned));
    let source = text(details.remove("source"));
    let action = text(details.remove("action"));
    let mut paths: Vec<String> =
        details.remove("paths").and_then(|p| serde_json::from_value(p).ok()).unwrap_or_default();
    if paths.is_empty()
        && let Some(Value::String(p)) = details.get("path")
    {
        paths.push(p.clone());
    }
    let actor = actor.unwrap_or_else(|| Actor {
        field_manager: details
            .get("actors")
            .and_then(|a| a.get(0))
            .and_then(|a| a.get("manager"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        ..Actor::default()
    });
    let event_type = format!("dev.driftgate.heal.{kind}{}", if dry_run { ".dryrun" } else { "" });
    let id = digest_id(&format!("{event_type}|{subject}|{time}|{paths:?}|{}", Value::Object(details.clone())));
    let data = Data {
        actor,
        object: Some(subject.clone()),
        paths,
        action,
        source,
        revision: info.and_then(|i| i.revision.clone()),
        commit: info.and_then(|i| i.commit.clone()),
        dry_run,
        details,
        ..Data::default()
    };
    CloudEvent::new(event_type, id, time, Some(subject.to_string()), data)
}

/// A source event: `dev.driftgate.source.synced` (a new revision rendered and swapped in) or
/// `dev.driftgate.source.failed` (fetch or render failed; the last good state stays).
pub fn source_event(e: &SourceEvent, info: Option<&SourceInfo>, time: &str) -> CloudEvent {
    let (word, source, commit, extra) = match e {
        SourceEvent::Synced { source, commit, objects, .. } => {
            ("synced", source, commit.clone(), serde_json::json!({"objects": objects}))
        }
        SourceEvent::Failed { source, error, kept_commit, stage, .. } => (
            "failed",
            source,
            kept_commit.clone(),
            serde_json::json!({"error": error, "stage": stage, "keptCommit": kept_commit}),
        ),
    };
    let mut details = details(extra);
    if let Some(i) = info {
        details.insert("repo".into(), serde_json::to_value(&i.repo).unwrap_or(Value::Null));
        details.insert("path".into(), Value::String(i.path.clone()));
    }
    let data = Data {
        action: Some(word.to_owned()),
        source: Some(source.clone()),
        revision: info.and_then(|i| i.revision.clone()),
        commit,
        details,
        ..Data::default()
    };
    let event_type = format!("dev.driftgate.source.{word}");
    let id = digest_id(&format!("{event_type}|{source}|{time}|{:?}", data.commit));
    CloudEvent::new(event_type, id, time, None, data)
}

/// The current time in RFC 3339, for events.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::review::{Response, UserInfo};

    fn verdict(outcome: Outcome) -> Verdict {
        Verdict {
            response: Response { uid: "u1".into(), allowed: false, ..Response::default() },
            outcome,
            key: Some(ResourceKey::new("", "Secret", Some("demo"), "s")),
            source: Some("guestbook".into()),
        }
    }

    fn request(dry_run: bool) -> Request {
        Request {
            uid: "u1".into(),
            operation: "UPDATE".into(),
            user_info: UserInfo { username: "alice".into(), groups: vec!["developers".into()] },
            dry_run: Some(dry_run),
            ..Request::default()
        }
    }

    #[test]
    fn plain_allows_write_nothing() {
        assert!(admission_event(&request(false), &verdict(Outcome::Allowed("unmanaged")), None, "t").is_none());
    }

    #[test]
    fn violations_become_cloud_events_marked_dry_run() {
        let v =
            verdict(Outcome::Violation { mode: Mode::Enforce, paths: vec!["data.EXTRA".into()], message: "m".into() });
        let info = SourceInfo {
            name: Some("guestbook".into()),
            path: "apps".into(),
            repo: None,
            revision: Some("main".into()),
            commit: Some("abc".into()),
        };
        let e = admission_event(&request(false), &v, Some(&info), "2026-11-28T00:00:00Z").unwrap();
        assert_eq!(e.specversion, "1.0");
        assert_eq!(e.event_type, "dev.driftgate.admission.denied");
        assert_eq!(e.subject.as_deref(), Some("/Secret/demo/s"));
        assert_eq!(e.data.paths, ["data.EXTRA"]);
        assert_eq!(e.data.actor.username.as_deref(), Some("alice"));
        assert_eq!(e.data.verdict.as_deref(), Some("denied"));
        assert_eq!((e.data.revision.as_deref(), e.data.commit.as_deref()), (Some("main"), Some("abc")));
        let dry = admission_event(&request(true), &v, None, "t").unwrap();
        assert_eq!(dry.event_type, "dev.driftgate.admission.denied.dryrun");
        assert!(dry.data.dry_run);
    }

    #[test]
    fn every_event_has_the_core_fields() {
        let v = verdict(Outcome::BreakGlass("INC-1".into()));
        let trace =
            TraceRef { trace_id: "0af7651916cd43dd8448eb211c80319c".into(), span_id: "b7ad6b7169203331".into() };
        let e = admission_event(&request(false), &v, None, "t").unwrap().in_trace(Some(&trace));
        let json = serde_json::to_value(&e).unwrap();
        for field in ["actor", "object", "paths", "source", "revision", "commit", "traceId", "dryRun"] {
            assert!(json["data"].get(field).is_some(), "{field} missing: {json}");
        }
        assert_eq!(json["traceparent"], "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        assert_eq!(json["data"]["reason"], "INC-1");
        let back: CloudEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn a_drift_has_one_id_on_every_replica() {
        let t = Transition {
            source: "shop".into(),
            key: ResourceKey::new("apps", "Deployment", Some("demo"), "web"),
            from: Some(crate::detect::State::Synced),
            to: Some(crate::detect::State::OutOfSync),
            from_cause: None,
            cause: Some(crate::diff::compare::Cause::Drift),
            news: true,
            rule_errors: Vec::new(),
            paths: vec!["spec.replicas".into()],
            actors: Vec::new(),
        };
        let a = drift_event(&t, None, None, Some("1042"), "2026-11-29T00:00:00.1Z").unwrap();
        let b = drift_event(&t, None, None, Some("1042"), "2026-11-29T00:00:00.3Z").unwrap();
        assert_eq!(a.id, b.id);
        let c = drift_event(&t, None, None, Some("1043"), "2026-11-29T00:00:00.3Z").unwrap();
        assert_ne!(a.id, c.id);
    }

    #[test]
    fn heal_reports_lift_their_core_fields() {
        let key = ResourceKey::new("apps", "Deployment", Some("demo"), "web");
        let report = serde_json::json!({"source": "shop", "action": "revert", "paths": ["spec.replicas"],
                                         "actors": [{"manager": "kubectl-edit", "operation": "Update"}]});
        let e = heal_event("applied", &key, report, None, None, true, "t");
        assert_eq!(e.event_type, "dev.driftgate.heal.applied.dryrun");
        assert_eq!(e.data.action.as_deref(), Some("revert"));
        assert_eq!(e.data.source.as_deref(), Some("shop"));
        assert_eq!(e.data.paths, ["spec.replicas"]);
        assert_eq!(e.data.actor.field_manager.as_deref(), Some("kubectl-edit"));
        assert!(e.data.details.contains_key("actors"));
    }
}
