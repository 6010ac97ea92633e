//! `metadata.managedFields`: which field manager set which field.
//!
//! Each entry's `fieldsV1` is parsed once into a tree; lookups walk that tree beside the live
//! object, because list items are named by their key values (`k:{"name":"web"}`), by value
//! (`v:"x"`) or by index (`i:0`) rather than by position.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::path::{FieldPath, Seg};

/// Who wrote a field: one managedFields entry, without its field set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    /// The field manager, e.g. `kubectl-edit`.
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// When the entry last changed; the API leaves it out for some subresource writes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// The subresource written through, e.g. `scale`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subresource: Option<String>,
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.manager)?;
        if let Some(sub) = &self.subresource {
            write!(f, " (/{sub})")?;
        }
        if let Some(t) = &self.time {
            write!(f, ", {t}")?;
        }
        Ok(())
    }
}

/// How a child is named in a field set.
#[derive(Debug, Clone)]
enum Step {
    Field(String),
    Key(Map<String, Value>),
    Value(Value),
    Index(usize),
}

/// A node of a parsed field set.
#[derive(Debug, Clone, Default)]
struct Node {
    children: Vec<(Step, Node)>,
    /// The entry has `.`: it owns the node itself but not necessarily what is under it.
    dot: bool,
}

/// One entry, borrowed from the live object. Its field set is parsed on first use: most
/// comparisons settle every field from the defaults table and never need it.
#[derive(Debug)]
pub struct Entry<'a> {
    /// The field manager.
    pub manager: &'a str,
    raw: &'a Value,
    root: std::cell::OnceCell<Node>,
}

/// All managedFields entries of one live object.
#[derive(Debug, Default)]
pub struct ManagedFields<'a> {
    /// The entries in the order the API lists them.
    pub entries: Vec<Entry<'a>>,
}

impl<'a> ManagedFields<'a> {
    /// Reads the entries of an object; malformed entries are passed over.
    pub fn of(obj: &'a Value) -> Self {
        let Some(list) = obj.get("metadata").and_then(|m| m.get("managedFields")).and_then(Value::as_array) else {
            return Self::default();
        };
        let entries = list
            .iter()
            .filter_map(|e| {
                let manager = e.get("manager")?.as_str()?;
                e.get("fieldsV1")?;
                Some(Entry { manager, raw: e, root: std::cell::OnceCell::new() })
            })
            .collect();
        Self { entries }
    }

    /// True when the object carried managedFields at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries that own the node at `path` of `live`, or an atomic ancestor of it.
    pub fn owners<'s>(&'s self, live: &'s Value, path: &'s FieldPath) -> impl Iterator<Item = &'s Entry<'a>> {
        self.entries.iter().filter(move |e| e.owns(live, path))
    }

    /// The entries that own the node at `path` or anything under it.
    pub fn touching(&self, live: &Value, path: &FieldPath) -> Vec<&Entry<'a>> {
        self.entries.iter().filter(|e| e.touches(live, path)).collect()
    }
}

impl Entry<'_> {
    /// Who wrote this entry, as reported.
    pub fn actor(&self) -> Actor {
        let s = |k: &str| self.raw.get(k).and_then(Value::as_str).map(str::to_owned);
        Actor {
            manager: self.manager.to_owned(),
            operation: s("operation").unwrap_or_default(),
            time: s("time"),
            subresource: s("subresource"),
        }
    }

    fn root(&self) -> &Node {
        self.root.get_or_init(|| match self.raw.get("fieldsV1") {
            // the detector keeps field sets as base64 text (detect/projection.rs): parsed only when asked
            Some(Value::String(text)) => crate::encoding::base64_decode(text)
                .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
                .map(|v| parse_node(&v))
                .unwrap_or_default(),
            Some(v) => parse_node(v),
            None => Node::default(),
        })
    }

    /// The leaves this entry owns, as JSON pointer tokens into `target` (an object of the same
    /// kind, e.g. Git's): list items are found in `target` by their keys. What `target` lacks is
    /// left out. Self-heal strips these from what it applies when a rule names this manager.
    pub fn paths_in(&self, target: &Value) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        collect(self.root(), target, &mut Vec::new(), &mut out);
        out
    }

    /// True when this entry owns the node at `path`, or an ancestor recorded as a whole.
    pub fn owns(&self, live: &Value, path: &FieldPath) -> bool {
        matches!(self.walk(live, path), Walk::Found | Walk::AtomicAncestor)
    }

    /// True when this entry owns the node at `path` or something beneath it.
    pub fn touches(&self, live: &Value, path: &FieldPath) -> bool {
        !matches!(self.walk(live, path), Walk::Absent)
    }

    fn walk(&self, live: &Value, path: &FieldPath) -> Walk {
        let mut node = self.root();
        let mut value = Some(live);
        for (i, seg) in path.0.iter().enumerate() {
            if i > 0 && node.children.is_empty() && !node.dot {
                return Walk::AtomicAncestor;
            }
            let next = match seg {
                Seg::Field(k) => {
                    let child = node.children.iter().find(|(s, _)| matches!(s, Step::Field(f) if **f == **k));
                    value = value.and_then(|v| v.get(&**k));
                    child
                }
                Seg::Item { live: idx, .. } => {
                    let item = idx.and_then(|i| value.and_then(|v| v.get(i)));
                    let child = item.and_then(|item| {
                        node.children.iter().find(|(s, _)| match s {
                            Step::Key(m) => m.iter().all(|(k, v)| item.get(k).is_some_and(|iv| json_eq(iv, v))),
                            Step::Value(v) => json_eq(item, v),
                            Step::Index(j) => Some(*j) == *idx,
                            Step::Field(_) => false,
                        })
                    });
                    value = item;
                    child
                }
            };
            match next {
                Some((_, n)) => node = n,
                None => return Walk::Absent,
            }
        }
        Walk::Found
    }
}

fn collect(node: &Node, value: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if node.children.is_empty() {
        if !path.is_empty() {
            out.push(path.clone());
        }
        return;
    }
    for (step, child) in &node.children {
        let found = match step {
            Step::Field(f) => value.get(f).map(|v| (f.clone(), v)),
            Step::Key(m) => value.as_array().and_then(|items| {
                items
                    .iter()
                    .enumerate()
                    .find(|(_, item)| m.iter().all(|(k, v)| item.get(k).is_some_and(|iv| json_eq(iv, v))))
                    .map(|(i, item)| (i.to_string(), item))
            }),
            Step::Value(v) => value.as_array().and_then(|items| {
                items.iter().enumerate().find(|(_, item)| json_eq(item, v)).map(|(i, item)| (i.to_string(), item))
            }),
            Step::Index(i) => value.get(*i).map(|item| (i.to_string(), item)),
        };
        if let Some((token, v)) = found {
            path.push(token);
            collect(child, v, path, out);
            path.pop();
        }
    }
}

enum Walk {
    Found,
    AtomicAncestor,
    Absent,
}

/// Equality that treats `80` and `80.0` alike, as the API's key encoding does.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn parse_node(v: &Value) -> Node {
    let Some(map) = v.as_object() else {
        return Node::default();
    };
    let mut children = Vec::with_capacity(map.len());
    let mut dot = false;
    for (k, child) in map {
        let step = if let Some(f) = k.strip_prefix("f:") {
            Step::Field(f.to_owned())
        } else if let Some(key) = k.strip_prefix("k:") {
            match serde_json::from_str::<Map<String, Value>>(key) {
                Ok(m) => Step::Key(m),
                Err(_) => continue,
            }
        } else if let Some(val) = k.strip_prefix("v:") {
            match serde_json::from_str::<Value>(val) {
                Ok(v) => Step::Value(v),
                Err(_) => continue,
            }
        } else if let Some(i) = k.strip_prefix("i:") {
            match i.parse() {
                Ok(i) => Step::Index(i),
                Err(_) => continue,
            }
        } else {
            dot |= k == ".";
            continue;
        };
        children.push((step, parse_node(child)));
    }
    Node { children, dot }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn owned_leaves_as_pointers_into_another_object() {
        let l = live();
        let m = ManagedFields::of(&l);
        let desired = json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [
            {"name": "sidecar"}, {"name": "web", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}}});
        let scale = m.entries.iter().find(|e| e.manager == "kubectl").unwrap();
        assert_eq!(scale.paths_in(&desired), vec![vec!["spec".to_owned(), "replicas".to_owned()]]);
        let argo = m.entries.iter().find(|e| e.manager == "argocd-controller").unwrap();
        let tokens: Vec<String> = argo.paths_in(&desired).iter().map(|t| t.join("/")).collect();
        assert!(tokens.contains(&"spec/template/spec/containers/1/ports/0/containerPort".to_owned()), "{tokens:?}");
        let patch = m.entries.iter().find(|e| e.manager == "kubectl-patch").unwrap();
        assert!(patch.paths_in(&desired).is_empty(), "Git has no env: nothing to strip");
    }

    fn live() -> Value {
        json!({
            "metadata": {"managedFields": [
                {"manager": "argocd-controller", "operation": "Apply", "fieldsV1": {"f:spec": {"f:selector": {}, "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:name": {}, "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}}}}}}},
                {"manager": "kubectl", "operation": "Update", "subresource": "scale", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
                {"manager": "kubectl-patch", "operation": "Update", "time": "t", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {"f:env": {".": {}, "k:{\"name\":\"DEBUG\"}": {".": {}, "f:name": {}, "f:value": {}}}}}}}}}}
            ]},
            "spec": {"replicas": 5, "selector": {"matchLabels": {"app": "x"}}, "template": {"spec": {"containers": [
                {"name": "web", "ports": [{"containerPort": 80, "protocol": "TCP"}], "env": [{"name": "DEBUG", "value": "1"}]}
            ]}}}
        })
    }

    fn container(p: &FieldPath) -> FieldPath {
        p.field("spec").field("template").field("spec").field("containers").item("name=web".into(), Some(0), Some(0))
    }

    fn managers(mf: &ManagedFields, live: &Value, p: &FieldPath) -> Vec<String> {
        mf.owners(live, p).map(|e| e.manager.to_owned()).collect()
    }

    #[test]
    fn finds_owner_of_keyed_item_field() {
        let l = live();
        let mf = ManagedFields::of(&l);
        let env_value =
            container(&FieldPath::default()).field("env").item("name=DEBUG".into(), Some(0), None).field("value");
        assert_eq!(managers(&mf, &l, &env_value), ["kubectl-patch"]);
        let port = container(&FieldPath::default())
            .field("ports")
            .item("containerPort=80".into(), Some(0), Some(0))
            .field("containerPort");
        assert_eq!(managers(&mf, &l, &port), ["argocd-controller"]);
    }

    #[test]
    fn atomic_ancestor_owns_subtree() {
        let l = live();
        let mf = ManagedFields::of(&l);
        let p = FieldPath::default().field("spec").field("selector").field("matchLabels").field("app");
        assert_eq!(managers(&mf, &l, &p), ["argocd-controller"]);
    }

    #[test]
    fn scale_subresource_owner() {
        let l = live();
        let mf = ManagedFields::of(&l);
        let p = FieldPath::default().field("spec").field("replicas");
        assert_eq!(managers(&mf, &l, &p), ["kubectl"]);
        assert_eq!(mf.entries[1].actor().to_string(), "kubectl (/scale)");
    }

    #[test]
    fn touching_includes_descendants() {
        let l = live();
        let mf = ManagedFields::of(&l);
        let c = container(&FieldPath::default());
        let names: Vec<_> = mf.touching(&l, &c).iter().map(|e| e.manager.to_owned()).collect();
        assert_eq!(names, ["argocd-controller", "kubectl-patch"]);
    }
}
