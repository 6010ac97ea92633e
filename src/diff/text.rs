//! The report for people: a summary per resource and a unified YAML diff, like `kubectl diff`.

use std::fmt::Write as _;

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use super::compare::Change;
use super::report::{DriftReport, ResourceReport, Status};

/// ANSI styles, or none.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    color: bool,
}

impl Style {
    /// Styles with or without colour.
    pub fn new(color: bool) -> Self {
        Self { color }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }
}

/// Renders the whole report: resources that are not Synced, then a summary line.
pub fn render(report: &DriftReport, style: Style) -> String {
    let mut out = String::new();
    for src in report.sources.iter().filter(|s| s.commit.is_some()) {
        let name = src.name.as_deref().map(|n| format!("source {n}: ")).unwrap_or_default();
        let _ = writeln!(
            out,
            "{name}{} at {} (commit {}), path {}\n",
            src.repo.as_deref().unwrap_or(""),
            src.revision.as_deref().unwrap_or("HEAD"),
            src.commit.as_deref().unwrap_or(""),
            src.path
        );
    }
    for r in report.resources.iter().filter(|r| r.status != Status::Synced) {
        resource(&mut out, r, style);
        out.push('\n');
    }
    let s = report.summary;
    let _ = writeln!(
        out,
        "{} {} synced, {} out of sync, {} missing, {} extra",
        style.paint("1", "Summary:"),
        s.synced,
        s.out_of_sync,
        s.missing,
        s.extra
    );
    out
}

fn resource(out: &mut String, r: &ResourceReport, style: Style) {
    let status = match r.status {
        Status::Synced => style.paint("32", "Synced"),
        Status::OutOfSync => style.paint("33", "OutOfSync"),
        Status::Missing => style.paint("31", "Missing"),
        Status::Extra => style.paint("35", "Extra"),
    };
    let _ = write!(out, "{} {status}", style.paint("1", &r.key.human()));
    if let Some(cause) = r.cause {
        let _ = write!(out, " ({})", cause.word());
    }
    if let Some(src) = &r.source {
        let _ = write!(out, "  source={src}");
    }
    if let Some(origin) = &r.origin {
        let _ = write!(out, "  ({origin})");
    }
    out.push('\n');
    if let Some(m) = &r.marker {
        let _ = writeln!(
            out,
            "  live object carries a GitOps ownership marker ({}) but Git no longer declares it",
            marker_text(m)
        );
    }
    for d in &r.differences {
        let (word, detail) = match &d.change {
            Change::Changed { live, desired } => ("changed", format!("{} -> {}", short(live), short(desired))),
            Change::Missing { desired } => ("missing", format!("Git declares {}", short(desired))),
            Change::Added { live } => ("added", format!("not in Git: {}", short(live))),
        };
        let _ = write!(out, "  {:<8} {}  {}", word, d.path, detail);
        if d.cause == crate::diff::compare::Cause::PendingSync {
            out.push_str("  (pending sync: the reconciler's next apply)");
        }
        if !d.actors.is_empty() {
            let who: Vec<String> = d.actors.iter().map(ToString::to_string).collect();
            let _ = write!(out, "  by {}", who.join("; "));
        }
        out.push('\n');
    }
    for e in &r.rule_errors {
        let _ = writeln!(out, "  {:<8} {e}", style.paint("31", "error"));
    }
    for s in &r.suppressed {
        let _ = writeln!(out, "  {:<8} {}  by {} ({})", style.paint("2", "ignored"), s.path, s.rule, s.matched);
    }
    let name = r.key.human().replace(' ', "/");
    let live = r.live_view.as_ref().map(yaml).unwrap_or_default();
    let desired = r.desired_view.as_ref().map(yaml).unwrap_or_default();
    if live != desired {
        unified(out, &live, &desired, &name, style);
    }
}

fn marker_text(m: &crate::model::ownership::Marker) -> String {
    use crate::model::ownership::Marker;
    match m {
        Marker::ArgoTrackingId { app } => format!("Argo CD tracking-id, app {app}"),
        Marker::ArgoInstanceLabel { app } => format!("Argo CD instance label, app {app}"),
        Marker::FluxKustomization { name, namespace } => {
            format!("Flux Kustomization {}", flux_name(name, namespace.as_ref()))
        }
        Marker::FluxHelmRelease { name, namespace } => {
            format!("Flux HelmRelease {}", flux_name(name, namespace.as_ref()))
        }
    }
}

fn flux_name(name: &str, namespace: Option<&String>) -> String {
    namespace.map_or_else(|| name.to_owned(), |ns| format!("{ns}/{name}"))
}

/// A value on one line, shortened.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        let cut: String = s.chars().take(57).collect();
        format!("{cut}...")
    } else {
        s
    }
}

fn yaml(v: &Value) -> String {
    serde_saphyr::to_string(v).unwrap_or_else(|e| format!("# cannot render as YAML: {e}\n"))
}

fn unified(out: &mut String, live: &str, desired: &str, name: &str, style: Style) {
    let diff = TextDiff::from_lines(live, desired);
    let _ = writeln!(out, "{}", style.paint("1", &format!("--- live/{name}")));
    let _ = writeln!(out, "{}", style.paint("1", &format!("+++ git/{name}")));
    for group in diff.grouped_ops(3) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let old = first.old_range().start..last.old_range().end;
        let new = first.new_range().start..last.new_range().end;
        // unified format numbers an empty range by the line before it
        let start = |r: &std::ops::Range<usize>| if r.is_empty() { r.start } else { r.start + 1 };
        let header = format!("@@ -{},{} +{},{} @@", start(&old), old.len(), start(&new), new.len());
        let _ = writeln!(out, "{}", style.paint("36", &header));
        for op in group {
            for change in diff.iter_changes(&op) {
                let text_line = change.value().trim_end_matches('\n');
                let text = match change.tag() {
                    ChangeTag::Delete => style.paint("31", &format!("-{text_line}")),
                    ChangeTag::Insert => style.paint("32", &format!("+{text_line}")),
                    ChangeTag::Equal => format!(" {text_line}"),
                };
                let _ = writeln!(out, "{text}");
            }
        }
    }
}
