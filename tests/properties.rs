//! Properties of the comparison that must hold for every object.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use driftgate::diff::ignore::Rule;
use driftgate::diff::report::{Settings, Status, diff_resource};
use driftgate::model::ResourceKey;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        (-5i64..100).prop_map(Value::from),
        "[a-z]{0,6}".prop_map(Value::String),
    ]
}

/// Keys that exercise the merge-key table as well as plain maps.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("env".to_owned()),
        Just("containers".to_owned()),
        Just("args".to_owned()),
        Just("labels".to_owned()),
        Just("image".to_owned()),
        "[a-z]{1,5}",
    ]
}

/// JSON trees; lists of objects carry unique `name`s so keyed lists have distinct keys.
fn tree() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            prop::collection::btree_map(key(), inner.clone(), 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            prop::collection::vec(scalar(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,4}", prop::collection::btree_map(key(), inner, 0..3), 0..4).prop_map(
                |items| {
                    Value::Array(
                        items
                            .into_iter()
                            .map(|(name, mut fields)| {
                                fields.insert("name".to_owned(), Value::String(name));
                                Value::Object(fields.into_iter().collect::<Map<_, _>>())
                            })
                            .collect(),
                    )
                }
            ),
        ]
    })
}

fn object(spec: &Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "p", "namespace": "n"}, "spec": spec})
}

fn settings(rules: &[Rule]) -> Settings<'_> {
    static RECONCILERS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    Settings { rules, reconcilers: RECONCILERS.get_or_init(|| vec!["argocd-controller".into()]), instance_label: false }
}

fn key_of() -> ResourceKey {
    ResourceKey::new("apps", "Deployment", Some("n"), "p")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn an_object_compared_with_itself_has_no_drift(spec in tree()) {
        let obj = object(&spec);
        let r = diff_resource(&key_of(), &obj, &obj, settings(&[Rule::status()]));
        prop_assert_eq!(r.status, Status::Synced, "{:?}", r.differences);
    }

    #[test]
    fn the_patch_brings_live_back_to_git(desired in tree(), live in tree()) {
        let desired = object(&desired);
        let mut live = object(&live);
        let r = diff_resource(&key_of(), &desired, &live, settings(&[Rule::status()]));
        json_patch::patch(&mut live, &r.patch).map_err(|e| TestCaseError::fail(format!("{e}: {:?}", r.patch)))?;
        let after = diff_resource(&key_of(), &desired, &live, settings(&[Rule::status()]));
        prop_assert_eq!(after.status, Status::Synced, "patch {:?} left {:?}", serde_json::to_string(&r.patch), after.differences);
    }
}
