//! Field specs: kustomize's way to say "this transformer touches this path in these kinds".

use serde_json::{Map, Value};

use super::resource::Resource;

/// One field spec: which kinds (empty matches all) and which path, and whether to create it.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// API group, if the spec is limited to one.
    pub group: Option<&'static str>,
    /// Kind, if the spec is limited to one.
    pub kind: Option<&'static str>,
    /// Slash-separated path; `name[]` steps into every item of a list.
    pub path: &'static str,
    /// Create missing maps along the path.
    pub create: bool,
}

/// A field spec for every kind.
pub const fn any(path: &'static str, create: bool) -> FieldSpec {
    FieldSpec { group: None, kind: None, path, create }
}

/// A field spec for one kind (in any group).
pub const fn kind(kind: &'static str, path: &'static str, create: bool) -> FieldSpec {
    FieldSpec { group: None, kind: Some(kind), path, create }
}

/// A field spec for one group and kind.
pub const fn gk(group: &'static str, kind: &'static str, path: &'static str, create: bool) -> FieldSpec {
    FieldSpec { group: Some(group), kind: Some(kind), path, create }
}

impl FieldSpec {
    /// True when the spec applies to this resource's kind.
    pub fn applies(&self, r: &Resource) -> bool {
        self.kind.is_none_or(|k| k == r.kind()) && self.group.is_none_or(|g| g == r.group())
    }
}

/// Calls `f` on every node the path reaches. With `create`, missing maps on the way (and the
/// last node, as null) are created; list steps are never created.
pub fn visit(obj: &mut Value, path: &str, create: bool, f: &mut dyn FnMut(&mut Value)) {
    let steps: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    walk(obj, &steps, create, f);
}

fn walk(node: &mut Value, steps: &[&str], create: bool, f: &mut dyn FnMut(&mut Value)) {
    let Some((step, rest)) = steps.split_first() else {
        f(node);
        return;
    };
    let (key, list) = match step.strip_suffix("[]") {
        Some(k) => (k, true),
        None => (*step, false),
    };
    if node.is_null() && create {
        *node = Value::Object(Map::new());
    }
    let Some(map) = node.as_object_mut() else {
        return;
    };
    if !map.contains_key(key) {
        if !create || list {
            return;
        }
        map.insert(key.to_owned(), Value::Null);
    }
    let Some(child) = map.get_mut(key) else {
        return;
    };
    if list {
        if let Some(items) = child.as_array_mut() {
            for item in items {
                walk(item, rest, create, f);
            }
        }
    } else {
        walk(child, rest, create, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn visits_lists_and_creates_maps() {
        let mut obj = json!({"spec": {"containers": [{"image": "a"}, {"image": "b"}]}});
        let mut seen = Vec::new();
        visit(&mut obj, "spec/containers[]/image", false, &mut |v| seen.push(v.clone()));
        assert_eq!(seen, [json!("a"), json!("b")]);
        visit(&mut obj, "spec/template/metadata/labels", true, &mut |v| *v = json!({"x": "y"}));
        assert_eq!(obj["spec"]["template"]["metadata"]["labels"]["x"], "y");
        let mut untouched = json!({"spec": {}});
        visit(&mut untouched, "spec/selector/matchLabels", false, &mut |v| *v = json!(1));
        assert_eq!(untouched, json!({"spec": {}}));
    }
}
