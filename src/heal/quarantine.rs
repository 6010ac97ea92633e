//! Flap quarantine: when driftgate reverts the same path of the same object again and again,
//! another writer is fighting it. It stops healing that object and says who the competitor is
//! and which ignore rule would end the fight.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::diff::managed_fields::Actor;
use crate::model::ResourceKey;

/// Annotation that clears an object's quarantine when set on it (any value).
pub const CLEAR_ANNOTATION: &str = "driftgate.dev/clear-quarantine";

/// Why an object is quarantined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Quarantine {
    /// The JSON pointer of the field reverted over and over.
    pub path: String,
    /// How many reverts within the window.
    pub reverts: usize,
    /// The manager that kept changing it, when managedFields told.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub competitor: Option<String>,
    /// An `ignoreDifferences` rule (Argo CD schema) that would end the fight.
    pub suggested_rule: String,
}

/// Reverts per object and path within a sliding window.
#[derive(Debug)]
pub struct Flaps {
    threshold: usize,
    window: Duration,
    reverts: HashMap<(ResourceKey, String), VecDeque<Instant>>,
    quarantined: HashMap<ResourceKey, Quarantine>,
}

impl Flaps {
    /// Quarantine after `threshold` reverts of one path within `window` (defaults: 3, 10 min).
    pub fn new(threshold: usize, window: Duration) -> Self {
        Self { threshold: threshold.max(1), window, reverts: HashMap::new(), quarantined: HashMap::new() }
    }

    /// Records a revert of the fields at `paths` (JSON pointers) at `now`; returns the quarantine
    /// when this one tips it.
    pub fn record(
        &mut self,
        key: &ResourceKey,
        paths: &[String],
        actors: &[Actor],
        now: Instant,
    ) -> Option<Quarantine> {
        for path in paths {
            let times = self.reverts.entry((key.clone(), path.clone())).or_default();
            times.push_back(now);
            while times.front().is_some_and(|t| now.saturating_duration_since(*t) > self.window) {
                times.pop_front();
            }
            if times.len() >= self.threshold && !self.quarantined.contains_key(key) {
                let competitor = actors.first().map(|a| a.manager.clone());
                let q = Quarantine {
                    path: path.clone(),
                    reverts: times.len(),
                    suggested_rule: suggestion(key, path, competitor.as_deref()),
                    competitor,
                };
                self.quarantined.insert(key.clone(), q.clone());
                return Some(q);
            }
        }
        None
    }

    /// The object's quarantine, if it is in one.
    pub fn get(&self, key: &ResourceKey) -> Option<&Quarantine> {
        self.quarantined.get(key)
    }

    /// Every quarantined object, for `driftgate status`.
    pub fn all(&self) -> impl Iterator<Item = (&ResourceKey, &Quarantine)> {
        self.quarantined.iter()
    }

    /// Lifts one object's quarantine (the clear annotation was set on it).
    pub fn clear(&mut self, key: &ResourceKey) {
        self.quarantined.remove(key);
        self.reverts.retain(|(k, _), _| k != key);
    }

    /// Lifts every quarantine (a new Git revision may have settled the fight).
    pub fn clear_all(&mut self) {
        self.quarantined.clear();
        self.reverts.clear();
    }
}

/// An Argo CD `ignoreDifferences` entry for the contested field. It names the field by JSON
/// pointer, the form self-heal strips from what it applies (RespectIgnoreDifferences), and the
/// competitor in a comment, for the reviewer.
fn suggestion(key: &ResourceKey, pointer: &str, competitor: Option<&str>) -> String {
    let namespace = key.namespace.as_ref().map(|ns| format!("  namespace: {ns}\n")).unwrap_or_default();
    let owner = competitor.map(|m| format!("  # the field is also written by {m}\n")).unwrap_or_default();
    format!(
        "- group: \"{}\"\n  kind: {}\n  name: {}\n{namespace}{owner}  jsonPointers: [{pointer}]\n",
        key.group, key.kind, key.name
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ResourceKey {
        ResourceKey::new("apps", "Deployment", Some("demo"), "web")
    }

    fn hpa() -> Vec<Actor> {
        vec![Actor {
            manager: "kube-controller-manager".into(),
            operation: "Update".into(),
            time: None,
            subresource: Some("scale".into()),
        }]
    }

    #[test]
    fn the_third_revert_in_the_window_quarantines_and_names_the_fix() {
        let mut f = Flaps::new(3, Duration::from_secs(600));
        let t0 = Instant::now();
        let paths = vec!["/spec/replicas".to_owned()];
        assert!(f.record(&key(), &paths, &hpa(), t0).is_none());
        assert!(f.record(&key(), &paths, &hpa(), t0 + Duration::from_secs(60)).is_none());
        let q = f.record(&key(), &paths, &hpa(), t0 + Duration::from_secs(120)).unwrap();
        assert_eq!(q.competitor.as_deref(), Some("kube-controller-manager"));
        assert!(q.suggested_rule.contains("jsonPointers: [/spec/replicas]"), "{}", q.suggested_rule);
        assert!(q.suggested_rule.contains("written by kube-controller-manager"), "{}", q.suggested_rule);
        assert!(f.get(&key()).is_some());
        let bare = suggestion(&key(), "/spec/replicas", None);
        assert!(bare.contains("jsonPointers: [/spec/replicas]"), "{bare}");
        f.clear(&key());
        assert!(f.get(&key()).is_none());
    }

    #[test]
    fn reverts_outside_the_window_do_not_count() {
        let mut f = Flaps::new(3, Duration::from_secs(600));
        let t0 = Instant::now();
        let paths = vec!["/spec/replicas".to_owned()];
        for i in 0..5 {
            assert!(f.record(&key(), &paths, &[], t0 + Duration::from_secs(400 * i)).is_none(), "revert {i}");
        }
    }
}
