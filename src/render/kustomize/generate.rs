//! `configMapGenerator` and `secretGenerator`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::resource::{Resource, child_map};
use super::spec::{Generator, GeneratorOptions, Kustomization};
use super::{KustomizeError, invalid, read_text};
use crate::encoding::base64;
use crate::render::fs::{self, SourceFs};

/// Runs both generators of a kustomization, adding to or merging into `acc`.
pub fn run(
    fs: &dyn SourceFs,
    dir: &Path,
    file: &str,
    k: &Kustomization,
    acc: &mut Vec<Resource>,
) -> Result<(), KustomizeError> {
    for (list, kind) in [(&k.config_map_generator, "ConfigMap"), (&k.secret_generator, "Secret")] {
        for g in list {
            let field = if kind == "ConfigMap" { "configMapGenerator" } else { "secretGenerator" };
            let Some(name) = g.name.clone().filter(|n| !n.is_empty()) else {
                return Err(invalid(file, format!("{field}: an entry has no name")));
            };
            let data = collect(fs, dir, file, field, g)?;
            let options = merged_options(k.generator_options.as_ref(), g.options.as_ref());
            let origin = crate::model::Origin { file: std::path::PathBuf::from(file), line: None };
            let generated = make(kind, &name, g, &data, &options, origin);
            let behavior = g.behavior.as_deref().unwrap_or("create");
            let namespace = g.namespace.as_deref().or(k.namespace.as_deref());
            let existing = acc.iter().position(|r| {
                r.kind() == kind
                    && r.original_name == name
                    && (namespace.is_none() || r.namespace() == namespace || r.namespace().is_none())
            });
            match (behavior, existing) {
                ("create", None) => acc.push(generated),
                ("create", Some(_)) => {
                    return Err(invalid(
                        file,
                        format!("{field}: {kind} {name} already exists; use behavior: merge or replace"),
                    ));
                }
                ("merge" | "replace", Some(i)) => merge_into(&mut acc[i], &generated, behavior == "replace"),
                ("merge" | "replace", None) => {
                    return Err(invalid(
                        file,
                        format!("{field}: {kind} {name} has behavior {behavior}, but no base generates it"),
                    ));
                }
                (other, _) => {
                    return Err(invalid(
                        file,
                        format!("{field}: {name}: behavior must be create, merge or replace, not {other:?}"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// What goes into the object: text values, and binary ones (ConfigMaps only).
struct Data {
    text: BTreeMap<String, String>,
    binary: BTreeMap<String, Vec<u8>>,
}

fn collect(fs: &dyn SourceFs, dir: &Path, file: &str, field: &str, g: &Generator) -> Result<Data, KustomizeError> {
    let mut data = Data { text: BTreeMap::new(), binary: BTreeMap::new() };
    let name = g.name.as_deref().unwrap_or("");
    let put = |data: &mut Data, key: String, value: String| -> Result<(), KustomizeError> {
        if data.text.insert(key.clone(), value).is_some() {
            return Err(invalid(file, format!("{field}: {name}: key {key:?} is given twice")));
        }
        Ok(())
    };
    let env_files = g.envs.iter().chain(g.env.iter());
    for env in env_files {
        let text = read_local(fs, dir, file, field, env)?;
        for (i, line) in text.lines().enumerate() {
            let line = if i == 0 { line.trim_start_matches('\u{feff}') } else { line };
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // as kustomize v5: the key is not validated, a bare key gets an empty value, and
            // only leading whitespace is trimmed
            let (key, value) = match line.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (line.to_owned(), String::new()),
            };
            put(&mut data, key, value)?;
        }
    }
    for lit in &g.literals {
        let Some((key, value)) = lit.split_once('=') else {
            return Err(invalid(file, format!("{field}: {name}: literal {lit:?} is not KEY=VALUE")));
        };
        if key.is_empty() {
            return Err(invalid(file, format!("{field}: {name}: literal {lit:?} has an empty key")));
        }
        put(&mut data, key.to_owned(), unquote(value).to_owned())?;
    }
    for f in &g.files {
        let (key, rel) = match f.split_once('=') {
            Some((k, p)) => (k.to_owned(), p),
            None => {
                (Path::new(f).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), f.as_str())
            }
        };
        if key.is_empty() {
            return Err(invalid(file, format!("{field}: {name}: file {f:?} has an empty key")));
        }
        let path = local_path(dir, file, field, rel)?;
        let bytes = fs.read(&path).map_err(|source| KustomizeError::Read { file: fs.display(&path), source })?;
        match String::from_utf8(bytes) {
            Ok(text) => put(&mut data, key, text)?,
            Err(e) => {
                data.binary.insert(key, e.into_bytes());
            }
        }
    }
    Ok(data)
}

/// A path a generator or patch reads: inside the kustomization's folder (the load restrictor).
pub fn local_path(dir: &Path, file: &str, field: &str, rel: &str) -> Result<std::path::PathBuf, KustomizeError> {
    match fs::join(dir, rel) {
        Some(p) if p.starts_with(dir) => Ok(p),
        _ => Err(invalid(
            file,
            format!("{field}: {rel} is outside this kustomization's folder (kustomize's load restrictor forbids it)"),
        )),
    }
}

fn read_local(fs: &dyn SourceFs, dir: &Path, file: &str, field: &str, rel: &str) -> Result<String, KustomizeError> {
    read_text(fs, &local_path(dir, file, field, rel)?)
}

/// Strips one pair of matching surrounding quotes, as kustomize does for literals.
fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

fn merged_options(global: Option<&GeneratorOptions>, own: Option<&GeneratorOptions>) -> GeneratorOptions {
    let mut out = global.cloned().unwrap_or_default();
    if let Some(own) = own {
        out.labels.extend(own.labels.clone());
        out.annotations.extend(own.annotations.clone());
        if own.disable_name_suffix_hash.is_some() {
            out.disable_name_suffix_hash = own.disable_name_suffix_hash;
        }
        if own.immutable.is_some() {
            out.immutable = own.immutable;
        }
    }
    out
}

fn make(
    kind: &str,
    name: &str,
    g: &Generator,
    data: &Data,
    options: &GeneratorOptions,
    origin: crate::model::Origin,
) -> Resource {
    let mut obj = json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}});
    let meta = obj.get_mut("metadata").and_then(Value::as_object_mut);
    if let Some(meta) = meta {
        if let Some(ns) = &g.namespace {
            meta.insert("namespace".into(), Value::String(ns.clone()));
        }
        if !options.labels.is_empty() {
            meta.insert("labels".into(), string_map(&options.labels));
        }
        if !options.annotations.is_empty() {
            meta.insert("annotations".into(), string_map(&options.annotations));
        }
    }
    if let Some(map) = obj.as_object_mut() {
        if kind == "Secret" {
            let encoded: Map<String, Value> = data
                .text
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(wrapped_base64(v.as_bytes()))))
                .chain(data.binary.iter().map(|(k, v)| (k.clone(), Value::String(wrapped_base64(v)))))
                .collect();
            // kustomize writes `data: {}` for a Secret with no entries (and hashes it so)
            map.insert("data".into(), Value::Object(encoded));
            map.insert("type".into(), Value::String(g.secret_type.clone().unwrap_or_else(|| "Opaque".into())));
        } else {
            if !data.text.is_empty() {
                map.insert("data".into(), string_map(&data.text));
            }
            if !data.binary.is_empty() {
                let b: Map<String, Value> =
                    data.binary.iter().map(|(k, v)| (k.clone(), Value::String(base64(v)))).collect();
                map.insert("binaryData".into(), Value::Object(b));
            }
        }
        if options.immutable == Some(true) {
            map.insert("immutable".into(), Value::Bool(true));
        }
    }
    let mut r = Resource::new(obj, origin);
    r.needs_hash = options.disable_name_suffix_hash != Some(true);
    r
}

/// Base64 as kustomize writes Secret values: beyond 70 characters, lines of 70, each ending in
/// a newline (the API server's decoder skips the newlines; the name hash includes them).
fn wrapped_base64(bytes: &[u8]) -> String {
    let plain = base64(bytes);
    if plain.len() <= 70 {
        return plain;
    }
    let mut out = String::with_capacity(plain.len() + plain.len() / 70 + 1);
    for chunk in plain.as_bytes().chunks(70) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out
}

fn string_map(m: &BTreeMap<String, String>) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
}

/// `behavior: merge` adds and overrides keys, labels and annotations; `replace` swaps the data.
fn merge_into(base: &mut Resource, new: &Resource, replace: bool) {
    for field in ["data", "binaryData"] {
        let incoming = new.object.get(field).and_then(Value::as_object).cloned();
        let Some(obj) = base.object.as_object_mut() else {
            return;
        };
        if replace {
            match incoming {
                Some(m) => {
                    obj.insert(field.into(), Value::Object(m));
                }
                None => {
                    obj.shift_remove(field);
                }
            }
        } else if let Some(m) = incoming {
            child_map(obj, field).extend(m);
        }
    }
    for field in ["labels", "annotations"] {
        if let Some(m) = new.object.pointer(&format!("/metadata/{field}")).and_then(Value::as_object) {
            child_map(base.metadata_mut(), field).extend(m.clone());
        }
    }
    if let Some(t) = new.object.get("type")
        && new.kind() == "Secret"
        && replace
        && let Some(obj) = base.object.as_object_mut()
    {
        obj.insert("type".into(), t.clone());
    }
    // the merged object keeps the base's build options, its hash suffix included (kustomize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_quotes_and_keys() {
        assert_eq!(unquote("\"a b\""), "a b");
        assert_eq!(unquote("'x'"), "x");
        assert_eq!(unquote("\"x"), "\"x");
        assert_eq!(wrapped_base64(&[b'x'; 60]).lines().map(str::len).collect::<Vec<_>>(), [70, 10]);
        assert!(wrapped_base64(&[b'x'; 60]).ends_with('\n'));
        assert_eq!(wrapped_base64(b"short"), "c2hvcnQ=");
    }
}
