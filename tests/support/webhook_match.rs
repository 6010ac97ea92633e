//! The API server's side of a ValidatingWebhookConfiguration: which entries a request is sent to.
//! It follows k8s.io/apiserver's webhook matching (admission/plugin/webhook: rules,
//! namespaceSelector, objectSelector, matchConditions), for the forms driftgate generates:
//! - rules: operations, groups, versions, `resource`, `resource/sub`, `*`, `*/sub`, and scope;
//! - namespaceSelector: matchLabels and In/NotIn/Exists/DoesNotExist, on the namespace's labels
//!   for namespaced requests, on the object's own labels for Namespaces, and never skipping other
//!   cluster-scoped objects;
//! - matchConditions: the CEL expressions below, copied from what driftgate emits (kept apart
//!   from it on purpose: a change to the generated CEL must be made here too, by a person). The
//!   request is the AdmissionRequest as the API server serialises it, empty fields omitted, so
//!   `has()` is false for them. An expression not listed here fails the test.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// One request as the API server sees it.
#[derive(Debug, Clone)]
pub struct Call {
    pub operation: &'static str,
    pub group: &'static str,
    pub version: &'static str,
    pub resource: &'static str,
    pub subresource: Option<&'static str>,
    /// The request's namespace (as the API server fills `request.namespace`).
    pub namespace: Option<&'static str>,
    pub name: Option<&'static str>,
    /// Whether the resource is namespaced.
    pub namespaced: bool,
    pub username: &'static str,
    pub groups: &'static [&'static str],
}

impl Call {
    /// A namespaced request by `user`.
    pub fn namespaced(
        operation: &'static str,
        gvr: (&'static str, &'static str, &'static str),
        namespace: &'static str,
        name: &'static str,
        user: &'static str,
    ) -> Self {
        Self { namespace: Some(namespace), namespaced: true, ..Self::cluster(operation, gvr, name, user) }
    }

    /// A cluster-scoped request by `user`.
    pub fn cluster(
        operation: &'static str,
        gvr: (&'static str, &'static str, &'static str),
        name: &'static str,
        user: &'static str,
    ) -> Self {
        Self {
            operation,
            group: gvr.0,
            version: gvr.1,
            resource: gvr.2,
            subresource: None,
            namespace: None,
            name: Some(name),
            namespaced: false,
            username: user,
            groups: &["system:authenticated"],
        }
    }

    /// The same request on a subresource.
    pub fn sub(mut self, subresource: &'static str) -> Self {
        self.subresource = Some(subresource);
        self
    }

    /// The AdmissionRequest the CEL `request` variable holds: empty strings and lists omitted.
    fn request(&self) -> Value {
        let mut r = json!({
            "operation": self.operation,
            "resource": {"group": self.group, "version": self.version, "resource": self.resource},
            "userInfo": {},
        });
        if let Some(ns) = self.namespace.filter(|n| !n.is_empty()) {
            r["namespace"] = json!(ns);
        }
        if let Some(n) = self.name.filter(|n| !n.is_empty()) {
            r["name"] = json!(n);
        }
        if let Some(s) = self.subresource {
            r["subResource"] = json!(s);
        }
        if !self.username.is_empty() {
            r["userInfo"]["username"] = json!(self.username);
        }
        if !self.groups.is_empty() {
            r["userInfo"]["groups"] = json!(self.groups);
        }
        r
    }
}

/// The names of the entries of `vwc` the API server would call for `call`.
pub fn called(vwc: &Value, call: &Call) -> Vec<String> {
    vwc["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| rules_match(w, call) && namespace_matches(w, call) && conditions_hold(w, call))
        .map(|w| w["name"].as_str().unwrap().to_owned())
        .collect()
}

fn listed(list: &Value, value: &str) -> bool {
    list.as_array().unwrap().iter().any(|v| v == "*" || v == value)
}

fn rules_match(w: &Value, c: &Call) -> bool {
    let Some(rules) = w["rules"].as_array() else { return false };
    rules.iter().any(|r| {
        let scope = r["scope"].as_str().unwrap_or("*");
        let scope_ok = match scope {
            "Cluster" => !c.namespaced,
            "Namespaced" => c.namespaced,
            _ => true,
        };
        scope_ok
            && listed(&r["operations"], c.operation)
            && listed(&r["apiGroups"], c.group)
            && listed(&r["apiVersions"], c.version)
            && r["resources"].as_array().unwrap().iter().any(|res| resource_matches(res.as_str().unwrap(), c))
    })
}

fn resource_matches(pattern: &str, c: &Call) -> bool {
    let (res, sub) = pattern.split_once('/').map_or((pattern, None), |(r, s)| (r, Some(s)));
    let res_ok = res == "*" || res == c.resource;
    let sub_ok = match (sub, c.subresource) {
        (None, None) | (Some("*"), _) => true,
        (Some(p), Some(s)) => p == s,
        (None, Some(_)) | (Some(_), None) => false,
    };
    res_ok && sub_ok
}

fn namespace_matches(w: &Value, c: &Call) -> bool {
    let selector = &w["namespaceSelector"];
    let labels: BTreeMap<String, String> = if c.namespaced {
        let ns = c.namespace.unwrap();
        BTreeMap::from([("kubernetes.io/metadata.name".to_owned(), ns.to_owned())])
    } else if c.group.is_empty() && c.resource == "namespaces" {
        BTreeMap::from([("kubernetes.io/metadata.name".to_owned(), c.name.unwrap().to_owned())])
    } else {
        return true;
    };
    selects(selector, &labels)
}

fn selects(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    if selector.is_null() {
        return true;
    }
    let by_label = selector["matchLabels"]
        .as_object()
        .is_none_or(|m| m.iter().all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str()));
    let by_expression = selector["matchExpressions"].as_array().is_none_or(|exprs| {
        exprs.iter().all(|e| {
            let value = labels.get(e["key"].as_str().unwrap());
            let values: Vec<&str> =
                e["values"].as_array().map(|v| v.iter().map(|x| x.as_str().unwrap()).collect()).unwrap_or_default();
            match e["operator"].as_str().unwrap() {
                "In" => value.is_some_and(|v| values.contains(&v.as_str())),
                "NotIn" => value.is_none_or(|v| !values.contains(&v.as_str())),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                op => panic!("unknown operator {op}"),
            }
        })
    });
    by_label && by_expression
}

/// The match conditions driftgate generates, with the JSON list each ends in.
const NOT_USER: (&str, &str) = ("!(has(request.userInfo.username) && request.userInfo.username in ", ")");
const NOT_GROUP: (&str, &str) = ("!(has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in ", "))");
const NAMESPACED_KEY: (&str, &str) = (
    "has(request.name) && has(request.namespace) && (request.resource.group + \"/\" + request.resource.resource + \"/\" + request.namespace + \"/\" + request.name) in ",
    "",
);
const CLUSTER_KEY: (&str, &str) = (
    "has(request.name) && (request.resource.group + \"/\" + request.resource.resource + \"/\" + request.name) in ",
    "",
);

fn list_in(expression: &str, form: (&str, &str)) -> Option<Vec<String>> {
    let rest = expression.strip_prefix(form.0)?.strip_suffix(form.1)?;
    serde_json::from_str(rest).ok()
}

fn conditions_hold(webhook: &Value, call: &Call) -> bool {
    let Some(conditions) = webhook["matchConditions"].as_array() else { return true };
    let (c, r) = (call, call.request());
    let s = |v: &Value| v.as_str().map(str::to_owned);
    conditions.iter().all(|cond| {
        let e = cond["expression"].as_str().unwrap();
        if let Some(list) = list_in(e, NOT_USER) {
            !s(&r["userInfo"]["username"]).is_some_and(|u| list.contains(&u))
        } else if let Some(list) = list_in(e, NOT_GROUP) {
            !r["userInfo"]["groups"].as_array().is_some_and(|gs| gs.iter().any(|g| list.contains(&s(g).unwrap())))
        } else if let Some(list) = list_in(e, NAMESPACED_KEY) {
            match (s(&r["name"]), s(&r["namespace"])) {
                (Some(name), Some(ns)) => list.contains(&format!("{}/{}/{ns}/{name}", c.group, c.resource)),
                _ => false,
            }
        } else if let Some(list) = list_in(e, CLUSTER_KEY) {
            s(&r["name"]).is_some_and(|name| list.contains(&format!("{}/{}/{name}", c.group, c.resource)))
        } else {
            panic!("a match condition this API server model does not know: {e}")
        }
    })
}
