//! Merge keys of the built-in list fields, so list items are matched by identity, not position.
//!
//! The table follows the `patchMergeKey`/`listMapKeys` of the Kubernetes API types. A key field
//! may carry the server's default (`protocol: TCP`), so an item that omits it still matches.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::Value;
use smallvec::SmallVec;

use super::path::FieldPath;

/// One field of a merge key, with the value the server fills in when it is absent.
#[derive(Debug, Clone, Copy)]
pub struct KeyField {
    /// The field name.
    pub name: &'static str,
    /// The server default, if the field may be omitted.
    pub default: Option<&'static str>,
}

const fn k(name: &'static str) -> KeyField {
    KeyField { name, default: None }
}

const PROTOCOL: KeyField = KeyField { name: "protocol", default: Some("TCP") };
const NAME: &[KeyField] = &[k("name")];
const CONTAINER_PORT: &[KeyField] = &[k("containerPort"), PROTOCOL];
const SERVICE_PORT: &[KeyField] = &[k("port"), PROTOCOL];
const MOUNT_PATH: &[KeyField] = &[k("mountPath")];
const DEVICE_PATH: &[KeyField] = &[k("devicePath")];
const IP: &[KeyField] = &[k("ip")];
const CONDITION_TYPE: &[KeyField] = &[k("conditionType")];
const RESOURCE_NAME: &[KeyField] = &[k("resourceName")];
const TOPOLOGY: &[KeyField] = &[k("topologyKey"), k("whenUnsatisfiable")];
const UID: &[KeyField] = &[k("uid")];
const KEY: &[KeyField] = &[k("key")];

/// The merge key of the list at `shape` (map keys, `[]` for items), if it has one.
pub fn merge_key(shape: &[&str]) -> Option<&'static [KeyField]> {
    let last = *shape.last()?;
    let parent_is_item = shape.len() >= 2 && shape[shape.len() - 2] == "[]";
    merge_key_of(last, parent_is_item)
}

/// The merge key of the list at `path`, if it has one.
pub fn merge_key_at(path: &FieldPath) -> Option<&'static [KeyField]> {
    let (last, parent_is_item) = path.last_field()?;
    merge_key_of(last, parent_is_item)
}

fn merge_key_of(last: &str, parent_is_item: bool) -> Option<&'static [KeyField]> {
    Some(match last {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims"
        | "schedulingGates"
        | "webhooks"
        | "secrets"
        | "claims" => NAME,
        "volumeMounts" => MOUNT_PATH,
        "volumeDevices" => DEVICE_PATH,
        "hostAliases" => IP,
        "readinessGates" => CONDITION_TYPE,
        "resizePolicy" => RESOURCE_NAME,
        "topologySpreadConstraints" => TOPOLOGY,
        "ownerReferences" => UID,
        "tolerations" => KEY,
        "ports" => {
            // a container's ports sit under an item of `containers`; a Service's under `spec`
            if parent_is_item { CONTAINER_PORT } else { SERVICE_PORT }
        }
        _ => return None,
    })
}

/// The values of an item's merge key fields: one or two, held inline.
pub type ItemKey<'v> = SmallVec<[Cow<'v, Value>; 2]>;

/// The identity of a list item under a merge key; `None` when the item lacks a key field.
/// Borrowed from the item: the diff asks it of every item of every keyed list.
pub fn item_key<'v>(item: &'v Value, key: &[KeyField]) -> Option<ItemKey<'v>> {
    key.iter()
        .map(|f| match field(item, f.name) {
            // an empty string is the zero value the server defaults, like absence
            Some(v) if !(v.is_null() || f.default.is_some() && v.as_str() == Some("")) => Some(Cow::Borrowed(v)),
            _ => f.default.map(|d| Cow::Owned(Value::String(d.to_owned()))),
        })
        .collect()
}

/// A field of a list item. Items are small maps, which a scan reads faster than a hash lookup.
fn field<'v>(item: &'v Value, name: &str) -> Option<&'v Value> {
    match item {
        Value::Object(m) if m.len() <= 16 => m.iter().find_map(|(k, v)| (k == name).then_some(v)),
        other => other.get(name),
    }
}

/// A readable label for a keyed item: `name=web`, or `port=53,protocol=UDP` when a
/// defaulted key field differs from its default.
pub fn label(key: &[KeyField], values: &[Cow<'_, Value>]) -> String {
    let mut out = String::with_capacity(32);
    for (f, v) in key.iter().zip(values) {
        if f.default.is_some_and(|d| v.as_str() == Some(d)) {
            continue;
        }
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(f.name);
        out.push('=');
        let v = v.as_ref();
        if let Some(s) = v.as_str() {
            out.push_str(s);
        } else if let Some(n) = v.as_u64() {
            // ports are numbers: written without the formatting machinery, once per list item
            out.push_str(itoa::Buffer::new().format(n));
        } else {
            let _ = write!(out, "{v}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ports_depend_on_context() {
        let c = merge_key(&["spec", "containers", "[]", "ports"]).unwrap();
        assert_eq!(c[0].name, "containerPort");
        let s = merge_key(&["spec", "ports"]).unwrap();
        assert_eq!(s[0].name, "port");
    }

    #[test]
    fn defaults_fill_key_fields() {
        let key = merge_key(&["spec", "ports"]).unwrap();
        let (a, b) = (json!({"port": 80}), json!({"port": 80, "protocol": "TCP"}));
        let (a, b) = (item_key(&a, key).unwrap(), item_key(&b, key).unwrap());
        assert_eq!(a, b);
        assert_eq!(label(key, &a), "port=80");
        let udp = json!({"port": 53, "protocol": "UDP"});
        let udp = item_key(&udp, key).unwrap();
        assert_eq!(label(key, &udp), "port=53,protocol=UDP");
    }

    #[test]
    fn unkeyed_lists() {
        assert!(merge_key(&["spec", "containers", "[]", "args"]).is_none());
        assert!(item_key(&json!({"value": 1}), NAME).is_none());
    }
}
