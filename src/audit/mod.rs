//! Audit events: one CloudEvents 1.0 JSON envelope for every decision that is not a plain allow,
//! written as JSON lines to stdout or appended to a file. Secret values never reach an event:
//! events carry paths (keys), never values.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::Serialize;
use serde_json::Value;

use crate::admission::decide::{Outcome, Verdict};
use crate::admission::review::Request;
use crate::config::{Mode, SinkType};
use crate::detect::Transition;
use crate::diff::report::SourceInfo;
use sha2::{Digest as _, Sha256};

/// A CloudEvents 1.0 envelope.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CloudEvent {
    /// Always `1.0`.
    pub specversion: &'static str,
    /// Unique per event: the admission request's uid.
    pub id: String,
    /// `driftgate`.
    pub source: String,
    /// e.g. `dev.driftgate.admission.denied`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// RFC 3339.
    pub time: String,
    /// `application/json`.
    pub datacontenttype: &'static str,
    /// The object, as `group/Kind/namespace/name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The decision's details.
    pub data: Value,
}

/// The event for an admission verdict, or `None` for a plain allow. `time` comes from the caller,
/// so that this stays a pure function.
pub fn admission_event(req: &Request, verdict: &Verdict, time: &str) -> Option<CloudEvent> {
    let dry_run = req.dry_run.unwrap_or(false);
    let (kind, extra) = match &verdict.outcome {
        Outcome::Allowed(_) => return None,
        Outcome::BreakGlass(reason) => ("breakglass", serde_json::json!({"reason": reason})),
        Outcome::Violation { mode, paths, message } => {
            let word = match mode {
                Mode::Enforce => "denied",
                Mode::Warn => "warned",
                Mode::Audit => "audited",
            };
            (word, serde_json::json!({"paths": paths, "message": message, "mode": mode}))
        }
    };
    let event_type = format!("dev.driftgate.admission.{kind}{}", if dry_run { ".dryrun" } else { "" });
    let mut data = serde_json::json!({
        "actor": {
            "username": req.user_info.username,
            "groups": req.user_info.groups,
            "fieldManager": req.field_manager(),
        },
        "operation": req.operation,
        "subResource": req.sub_resource,
        "allowed": verdict.response.allowed,
        "dryRun": dry_run,
        "object": verdict.key,
        "source": verdict.source,
    });
    if let (Value::Object(d), Value::Object(e)) = (&mut data, extra) {
        d.extend(e);
    }
    Some(CloudEvent {
        specversion: "1.0",
        id: req.uid.clone(),
        source: "driftgate".into(),
        event_type,
        time: time.to_owned(),
        datacontenttype: "application/json",
        subject: verdict.key.as_ref().map(ToString::to_string),
        data,
    })
}

/// The event for a drift transition (`dev.driftgate.drift.detected` or `.resolved`), or `None`
/// for moves that are not news. Paths and actors only: never a value.
pub fn drift_event(t: &Transition, info: Option<&SourceInfo>, time: &str) -> Option<CloudEvent> {
    let kind = t.event()?;
    let data = serde_json::json!({
        "source": t.source,
        "repo": info.and_then(|i| i.repo.as_deref()),
        "path": info.map(|i| i.path.as_str()),
        "revision": info.and_then(|i| i.revision.as_deref()),
        "commit": info.and_then(|i| i.commit.as_deref()),
        "object": t.key,
        "status": t.to,
        "previous": t.from,
        "paths": t.paths,
        "actors": t.actors,
        "dryRun": false,
    });
    // the id is a digest of what happened and when, so a replayed transition dedups
    let id =
        crate::encoding::hex(&Sha256::digest(format!("{kind}|{}|{}|{:?}|{:?}|{time}", t.source, t.key, t.from, t.to)))
            .chars()
            .take(32)
            .collect();
    Some(CloudEvent {
        specversion: "1.0",
        id,
        source: "driftgate".into(),
        event_type: format!("dev.driftgate.{kind}"),
        time: time.to_owned(),
        datacontenttype: "application/json",
        subject: Some(t.key.to_string()),
        data,
    })
}

/// A self-heal event: `dev.driftgate.heal.{applied,failed,quarantined}` (`.dryrun` appended when
/// nothing was changed). `data` carries the action, paths, actors and outcome; never values.
pub fn heal_event(
    kind: &str,
    subject: &crate::model::ResourceKey,
    mut data: Value,
    dry_run: bool,
    time: &str,
) -> CloudEvent {
    if let Value::Object(m) = &mut data {
        m.insert("dryRun".into(), Value::Bool(dry_run));
        m.insert("object".into(), serde_json::to_value(subject).unwrap_or(Value::Null));
    }
    let event_type = format!("dev.driftgate.heal.{kind}{}", if dry_run { ".dryrun" } else { "" });
    let id = crate::encoding::hex(&Sha256::digest(format!("{event_type}|{subject}|{time}|{data}")))
        .chars()
        .take(32)
        .collect();
    CloudEvent {
        specversion: "1.0",
        id,
        source: "driftgate".into(),
        event_type,
        time: time.to_owned(),
        datacontenttype: "application/json",
        subject: Some(subject.to_string()),
        data,
    }
}

/// The current time in RFC 3339, for events.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// Where events go.
#[derive(Debug)]
pub enum Sink {
    /// JSON lines on stdout.
    Stdout,
    /// JSON lines appended to a file, flushed per event.
    File(Mutex<std::fs::File>, PathBuf),
}

impl Sink {
    /// Opens the configured sinks; none configured means stdout. HTTP and Kubernetes Events
    /// sinks are not available yet and are refused by name.
    pub fn open_all(config: &crate::config::Audit) -> std::io::Result<Vec<Self>> {
        if config.sinks.is_empty() {
            return Ok(vec![Self::Stdout]);
        }
        config
            .sinks
            .iter()
            .map(|s| match (s.sink_type, &s.path) {
                (SinkType::Stdout, _) => Ok(Self::Stdout),
                (SinkType::File, Some(p)) => {
                    let f = std::fs::OpenOptions::new().create(true).append(true).open(p)?;
                    Ok(Self::File(Mutex::new(f), p.clone()))
                }
                (other, _) => {
                    Err(std::io::Error::other(format!("audit sink {other:?} is not available in this build")))
                }
            })
            .collect()
    }

    /// Writes one event as a JSON line.
    pub fn write(&self, event: &CloudEvent) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(event).map_err(std::io::Error::other)?;
        line.push(b'\n');
        match self {
            Self::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(&line)?;
                out.flush()
            }
            Self::File(f, _) => {
                let mut f = f.lock().map_err(|_| std::io::Error::other("audit file lock poisoned"))?;
                f.write_all(&line)?;
                f.sync_data()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::decide::Outcome;
    use crate::admission::review::{Response, UserInfo};

    fn verdict(outcome: Outcome) -> Verdict {
        Verdict {
            response: Response { uid: "u1".into(), allowed: false, ..Response::default() },
            outcome,
            key: Some(crate::model::ResourceKey::new("", "Secret", Some("demo"), "s")),
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
        assert!(admission_event(&request(false), &verdict(Outcome::Allowed("unmanaged")), "t").is_none());
    }

    #[test]
    fn violations_become_cloud_events_marked_dry_run() {
        let v =
            verdict(Outcome::Violation { mode: Mode::Enforce, paths: vec!["data.EXTRA".into()], message: "m".into() });
        let e = admission_event(&request(false), &v, "2026-11-28T00:00:00Z").unwrap();
        assert_eq!(e.specversion, "1.0");
        assert_eq!(e.event_type, "dev.driftgate.admission.denied");
        assert_eq!(e.subject.as_deref(), Some("/Secret/demo/s"));
        assert_eq!(e.data["paths"][0], "data.EXTRA");
        assert_eq!(e.data["actor"]["username"], "alice");
        let dry = admission_event(&request(true), &v, "t").unwrap();
        assert_eq!(dry.event_type, "dev.driftgate.admission.denied.dryrun");
    }

    #[test]
    fn file_sink_appends_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let cfg = crate::config::Audit {
            sinks: vec![crate::config::Sink {
                sink_type: SinkType::File,
                path: Some(path.clone()),
                url: None,
                spool_dir: None,
            }],
        };
        let sinks = Sink::open_all(&cfg).unwrap();
        let v = verdict(Outcome::BreakGlass("INC-1".into()));
        let e = admission_event(&request(false), &v, "t").unwrap();
        sinks[0].write(&e).unwrap();
        sinks[0].write(&e).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        let back: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(back["type"], "dev.driftgate.admission.breakglass");
        assert_eq!(back["data"]["reason"], "INC-1");
    }
}
