//! Loading manifests from YAML and JSON files and folders, with the file and line of each object.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;
use thiserror::Error;

use super::key::ResourceKey;
use super::scope::Scopes;

/// Where an object came from: a file and, when known, the line its document starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file the object was read from.
    pub file: PathBuf,
    /// The 1-based line of the document, when the format tells it.
    pub line: Option<u64>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.file.display()),
            None => write!(f, "{}", self.file.display()),
        }
    }
}

/// One Kubernetes object with its key and origin.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The version-independent key.
    pub key: ResourceKey,
    /// The object as JSON.
    pub object: Value,
    /// Where it was read from.
    pub origin: Origin,
}

/// Why manifests could not be loaded. Every variant names the file, and the line where known.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The path does not exist.
    #[error("{}: no such file or directory", path.display())]
    NotFound {
        /// The missing path.
        path: PathBuf,
    },
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The unreadable path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML.
    #[error("{}: invalid YAML: {message}", path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The file is not valid JSON.
    #[error("{}:{line}: invalid JSON: {message}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The line of the error.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// A document is a scalar or a list rather than an object.
    #[error("{origin}: expected a Kubernetes object (a mapping), found {found}")]
    NotAnObject {
        /// Where the document starts.
        origin: Origin,
        /// What was found instead.
        found: &'static str,
    },
    /// A required field is missing or empty.
    #[error("{origin}: object has no {field}")]
    MissingField {
        /// Where the object starts.
        origin: Origin,
        /// The missing field, e.g. `metadata.name`.
        field: &'static str,
    },
    /// Two objects share a key.
    #[error("{key} is defined twice: at {first} and at {second}")]
    Duplicate {
        /// The shared key.
        key: ResourceKey,
        /// The first definition.
        first: Origin,
        /// The second definition.
        second: Origin,
    },
}

/// Reads every object in a file or, recursively and in name order, a folder.
///
/// Folders contribute `.yaml`, `.yml` and `.json` files; hidden entries and kustomize
/// configuration files (`kustomization.yaml`, `Kustomization`) are not objects and are passed over.
pub fn load_path(path: &Path) -> Result<Vec<(Value, Origin)>, LoadError> {
    let mut out = Vec::new();
    stream_path(path, &mut |v, o| {
        out.push((v, o));
        Ok(())
    })?;
    Ok(out)
}

/// Lists the manifest files below a folder, sorted by path so output is deterministic.
pub fn manifest_files(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|source| LoadError::Io { path: d.clone(), source })?;
        for entry in entries {
            let entry = entry.map_err(|source| LoadError::Io { path: d.clone(), source })?;
            let p = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if is_manifest_name(&name) {
                files.push(p);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// True for file names that hold manifests rather than kustomize configuration.
pub fn is_manifest_name(name: &str) -> bool {
    let is_kustomization = matches!(name, "kustomization.yaml" | "kustomization.yml" | "Kustomization");
    !is_kustomization
        && Path::new(name).extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
}

/// Parses a multi-document YAML text; empty documents and comments are skipped, Lists flattened.
pub fn parse_yaml(text: &str, path: &Path) -> Result<Vec<(Value, Origin)>, LoadError> {
    let docs: Vec<serde_saphyr::Spanned<Value>> =
        serde_saphyr::from_multiple_with_options(text, yaml_options(text.len())).map_err(|e| LoadError::Yaml {
            path: path.to_owned(),
            message: e.to_string().trim_start_matches("error: ").to_owned(),
        })?;
    let mut out = Vec::with_capacity(docs.len());
    for doc in docs {
        let origin = Origin { file: path.to_owned(), line: Some(doc.referenced.line()) };
        push_document(doc.value, origin, &mut out)?;
    }
    Ok(out)
}

/// Parses multi-document YAML into plain values of any shape, without flattening Lists; the
/// error is the parser's message with line and column.
pub fn parse_yaml_values(text: &str) -> Result<Vec<Value>, String> {
    let docs: Vec<Value> = serde_saphyr::from_multiple_with_options(text, yaml_options(text.len()))
        .map_err(|e| e.to_string().trim_start_matches("error: ").to_owned())?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// YAML 1.2 core schema, as kustomize reads it: only `true`/`false` are booleans, so
/// `namespace: n` or `ENABLED: yes` stay strings instead of turning into YAML 1.1 booleans.
///
/// The parser's budget grows with the input: a `kubectl get -o yaml` of a large namespace has
/// far more than the default 250,000 nodes or 1,024 documents. Alias limits stay at their
/// defaults, which is what guards against alias bombs.
fn yaml_options(len: usize) -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        budget: serde_saphyr::budget! {
            max_documents: len.max(1_024),
            max_nodes: len.max(250_000),
            max_events: len.saturating_mul(2).max(1_000_000),
            max_total_scalar_bytes: len.max(64 << 20),
            max_depth: 256,
        },
    }
}

/// Parses a JSON text holding one object or a List.
pub fn parse_json(text: &str, path: &Path) -> Result<Vec<(Value, Origin)>, LoadError> {
    let value: Value = serde_json::from_str(text).map_err(|e| LoadError::Json {
        path: path.to_owned(),
        line: e.line(),
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    push_document(value, Origin { file: path.to_owned(), line: Some(1) }, &mut out)?;
    Ok(out)
}

/// Adds one document, flattening `List` kinds (what `kubectl get -o yaml` prints).
fn push_document(value: Value, origin: Origin, out: &mut Vec<(Value, Origin)>) -> Result<(), LoadError> {
    let found = match &value {
        Value::Null => return Ok(()),
        Value::Object(_) => None,
        Value::Bool(_) => Some("a boolean"),
        Value::Number(_) => Some("a number"),
        Value::String(_) => Some("a string"),
        Value::Array(_) => Some("a list"),
    };
    if let Some(found) = found {
        return Err(LoadError::NotAnObject { origin, found });
    }
    let is_list = value
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k == "List" || (k.ends_with("List") && value.get("items").is_some_and(Value::is_array)));
    if is_list {
        let mut value = value;
        if let Some(Value::Array(items)) = value.get_mut("items").map(Value::take) {
            for item in items {
                push_document(item, origin.clone(), out)?;
            }
        }
        return Ok(());
    }
    out.push((value, origin));
    Ok(())
}

/// Reads every object of a file or folder and hands each to `each` as soon as it is parsed,
/// so that a large `kubectl get -o json|yaml` dump is never held whole. Lists are flattened
/// item by item. Multi-document YAML is read a document at a time.
pub fn stream_path(path: &Path, each: &mut dyn FnMut(Value, Origin) -> Result<(), LoadError>) -> Result<(), LoadError> {
    let meta = std::fs::metadata(path).map_err(|source| io_error(path, source))?;
    if meta.is_dir() {
        for file in manifest_files(path)? {
            stream_file(&file, each)?;
        }
        Ok(())
    } else {
        stream_file(path, each)
    }
}

fn io_error(path: &Path, source: std::io::Error) -> LoadError {
    if source.kind() == std::io::ErrorKind::NotFound {
        LoadError::NotFound { path: path.to_owned() }
    } else {
        LoadError::Io { path: path.to_owned(), source }
    }
}

/// Streams one file: JSON through a reader, YAML from its text.
pub fn stream_file(path: &Path, each: &mut dyn FnMut(Value, Origin) -> Result<(), LoadError>) -> Result<(), LoadError> {
    let is_json = path.extension().and_then(|e| e.to_str()) == Some("json");
    if is_json {
        let file = std::fs::File::open(path).map_err(|source| io_error(path, source))?;
        let reader = std::io::BufReader::with_capacity(1 << 16, file);
        let mut de = serde_json::Deserializer::from_reader(reader);
        let position = |e: serde_json::Error| (e.to_string(), Some(e.line()));
        return stream_with(path, Some(1), each, |seed| {
            serde::de::DeserializeSeed::deserialize(seed, &mut de).map_err(position)?;
            // what follows the document is an error too: a dump is one JSON value
            de.end().map_err(position)
        });
    }
    let text = std::fs::read_to_string(path).map_err(|source| io_error(path, source))?;
    stream_yaml(&text, path, each)
}

/// Streams YAML text: a single document (what `kubectl get -o yaml` prints) item by item,
/// several documents one at a time with their lines.
pub fn stream_yaml(
    text: &str,
    path: &Path,
    each: &mut dyn FnMut(Value, Origin) -> Result<(), LoadError>,
) -> Result<(), LoadError> {
    let multi = text.lines().skip(1).any(|l| l.starts_with("---"));
    if multi {
        for (value, origin) in parse_yaml(text, path)? {
            each(value, origin)?;
        }
        return Ok(());
    }
    stream_with(path, Some(first_content_line(text)), each, |seed| {
        serde_saphyr::with_deserializer_from_str_with_options(text, yaml_options(text.len()), |de| {
            serde::de::DeserializeSeed::deserialize(seed, de)
        })
        .map_err(|e| (e.to_string().trim_start_matches("error: ").to_owned(), None))
    })
}

/// The 1-based line of the first line that is not blank, a comment or a `---` marker.
fn first_content_line(text: &str) -> u64 {
    let skip = |l: &&str| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t.starts_with("---")
    };
    let n = text.lines().take_while(|l| skip(l)).count();
    u64::try_from(n).map_or(1, |n| n + 1)
}

/// Runs a deserializer over a [`StreamSeed`] and turns its errors into [`LoadError`]s; an error
/// raised by `each` wins over the parser's report of the abort it caused.
fn stream_with(
    path: &Path,
    line: Option<u64>,
    each: &mut dyn FnMut(Value, Origin) -> Result<(), LoadError>,
    run: impl FnOnce(StreamSeed<'_>) -> Result<(), (String, Option<usize>)>,
) -> Result<(), LoadError> {
    let origin = Origin { file: path.to_owned(), line };
    let mut failure = None;
    let result = run(StreamSeed { origin: &origin, each, failure: &mut failure });
    if let Some(e) = failure {
        return Err(e);
    }
    match result {
        Ok(()) => Ok(()),
        Err((message, Some(line))) if path.extension().and_then(|e| e.to_str()) == Some("json") => {
            Err(LoadError::Json { path: path.to_owned(), line, message })
        }
        Err((message, _)) => Err(LoadError::Yaml { path: path.to_owned(), message }),
    }
}

/// Deserializes one document, handing `List` items to `each` as they are read.
struct StreamSeed<'a> {
    origin: &'a Origin,
    each: &'a mut dyn FnMut(Value, Origin) -> Result<(), LoadError>,
    failure: &'a mut Option<LoadError>,
}

impl<'de> serde::de::DeserializeSeed<'de> for StreamSeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl StreamSeed<'_> {
    fn emit<E: serde::de::Error>(&mut self, value: Value) -> Result<(), E> {
        let mut out = Vec::new();
        match push_document(value, self.origin.clone(), &mut out) {
            Ok(()) => {
                for (v, o) in out {
                    if let Err(e) = (self.each)(v, o) {
                        *self.failure = Some(e);
                        return Err(E::custom("stopped"));
                    }
                }
                Ok(())
            }
            Err(e) => {
                *self.failure = Some(e);
                Err(E::custom("stopped"))
            }
        }
    }

    fn not_an_object<E: serde::de::Error>(&mut self, found: &'static str) -> Result<(), E> {
        *self.failure = Some(LoadError::NotAnObject { origin: self.origin.clone(), found });
        Err(E::custom("stopped"))
    }
}

impl<'de> serde::de::Visitor<'de> for StreamSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes object or List")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let mut rest = serde_json::Map::new();
        let mut streamed = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                streamed = true;
                map.next_value_seed(ItemsSeed { parent: &mut self })?;
            } else {
                rest.insert(key, map.next_value::<Value>()?);
            }
        }
        if streamed { Ok(()) } else { self.emit(Value::Object(rest)) }
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(mut self, _: A) -> Result<(), A::Error> {
        self.not_an_object("a list")
    }
    fn visit_str<E: serde::de::Error>(mut self, _: &str) -> Result<(), E> {
        self.not_an_object("a string")
    }
    fn visit_bool<E: serde::de::Error>(mut self, _: bool) -> Result<(), E> {
        self.not_an_object("a boolean")
    }
    fn visit_i64<E: serde::de::Error>(mut self, _: i64) -> Result<(), E> {
        self.not_an_object("a number")
    }
    fn visit_u64<E: serde::de::Error>(mut self, _: u64) -> Result<(), E> {
        self.not_an_object("a number")
    }
    fn visit_f64<E: serde::de::Error>(mut self, _: f64) -> Result<(), E> {
        self.not_an_object("a number")
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// The `items` of a List, each handed on as soon as it is read.
struct ItemsSeed<'p, 'a> {
    parent: &'p mut StreamSeed<'a>,
}

impl<'de> serde::de::DeserializeSeed<'de> for ItemsSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for ItemsSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of objects")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<Value>()? {
            self.parent.emit(item)?;
        }
        Ok(())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// Keys objects, filling in `default_namespace` on namespaced kinds that have none.
pub fn into_manifests(docs: Vec<(Value, Origin)>, default_namespace: Option<&str>) -> Result<Vec<Manifest>, LoadError> {
    let scopes = Scopes::learn(docs.iter().map(|(v, _)| v));
    docs.into_iter().map(|(v, o)| manifest(v, o, default_namespace, &scopes)).collect()
}

/// Keys one object, filling in `default_namespace` if it is namespaced and has none.
pub fn manifest(
    mut object: Value,
    origin: Origin,
    default_namespace: Option<&str>,
    scopes: &Scopes,
) -> Result<Manifest, LoadError> {
    let mut key = match ResourceKey::of(&object) {
        Ok(key) => key,
        Err(field) => return Err(LoadError::MissingField { origin, field }),
    };
    if scopes.is_cluster_scoped(&key.group, &key.kind) {
        key.namespace = None;
    } else if key.namespace.is_none()
        && let Some(ns) = default_namespace
    {
        key.namespace = Some(ns.to_owned());
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("namespace".into(), Value::String(ns.to_owned()));
        }
    }
    Ok(Manifest { key, object, origin })
}

/// Indexes manifests by key; a key defined twice is an error naming both places.
pub fn index(manifests: Vec<Manifest>) -> Result<BTreeMap<ResourceKey, Manifest>, LoadError> {
    let mut map: BTreeMap<ResourceKey, Manifest> = BTreeMap::new();
    for m in manifests {
        if let Some(first) = map.get(&m.key) {
            return Err(LoadError::Duplicate { key: m.key.clone(), first: first.origin.clone(), second: m.origin });
        }
        map.insert(m.key.clone(), m);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> PathBuf {
        PathBuf::from("x.yaml")
    }

    #[test]
    fn multi_document_with_comments_and_empties() {
        let text = "# comment only\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n";
        let docs = parse_yaml(text, &p()).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].1.line, Some(8));
    }

    #[test]
    fn yaml_1_2_booleans() {
        let docs = parse_yaml(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\ndata: {A: yes, B: true}\n",
            &p(),
        )
        .unwrap();
        assert_eq!(docs[0].0["metadata"]["namespace"], "n");
        assert_eq!(docs[0].0["data"]["A"], "yes");
        assert_eq!(docs[0].0["data"]["B"], true);
    }

    fn streamed(text: &str, name: &str) -> Result<Vec<(Value, Origin)>, LoadError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let mut out = Vec::new();
        stream_path(&path, &mut |v, o| {
            out.push((v, o));
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn streaming_matches_loading() {
        let list = r#"{"apiVersion": "v1", "items": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b"}}], "kind": "List", "metadata": {}}"#;
        let got = streamed(list, "l.json").unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].0["kind"], "Secret");
        let yaml = "apiVersion: v1\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\nkind: List\n";
        assert_eq!(streamed(yaml, "l.yaml").unwrap().len(), 1);
        let single = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\n";
        assert_eq!(streamed(single, "s.yaml").unwrap()[0].0["metadata"]["namespace"], "n");
        let multi = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n";
        assert_eq!(streamed(multi, "m.yaml").unwrap()[1].1.line, Some(5));
    }

    #[test]
    fn streaming_errors_name_the_file() {
        let err = streamed("[1, 2]", "x.json").unwrap_err().to_string();
        assert!(err.ends_with("x.json:1: expected a Kubernetes object (a mapping), found a list"), "{err}");
        let err = streamed("{\"a\": [}", "x.json").unwrap_err().to_string();
        assert!(err.contains("x.json:1: invalid JSON"), "{err}");
        let err = streamed("a: [\n", "x.yaml").unwrap_err().to_string();
        assert!(err.contains("x.yaml: invalid YAML: line 1"), "{err}");
        let err = streamed("just text\n", "x.yaml").unwrap_err().to_string();
        assert!(err.contains("found a string"), "{err}");
    }

    #[test]
    fn lists_are_flattened() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n- {apiVersion: v1, kind: Secret, metadata: {name: b}}\n";
        let docs = parse_yaml(text, &p()).unwrap();
        assert_eq!(docs.len(), 2);
        let text =
            "apiVersion: v1\nkind: ConfigMapList\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n";
        assert_eq!(parse_yaml(text, &p()).unwrap().len(), 1);
    }

    #[test]
    fn scalar_document_is_an_error_with_line() {
        let err =
            parse_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\njust a string\n", &p()).unwrap_err();
        assert_eq!(err.to_string(), "x.yaml:5: expected a Kubernetes object (a mapping), found a string");
    }

    #[test]
    fn invalid_yaml_names_file_and_line() {
        let err = parse_yaml("a: [\n", &p()).unwrap_err().to_string();
        assert!(err.starts_with("x.yaml: invalid YAML: line 1"), "{err}");
    }

    #[test]
    fn namespace_fill_skips_cluster_scoped() {
        let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: other}\n";
        let ms = into_manifests(parse_yaml(text, &p()).unwrap(), Some("demo")).unwrap();
        assert_eq!(ms[0].key.namespace, None);
        assert_eq!(ms[1].key.namespace.as_deref(), Some("demo"));
        assert_eq!(ms[1].object["metadata"]["namespace"], "demo");
        assert_eq!(ms[2].key.namespace.as_deref(), Some("other"));
    }

    #[test]
    fn duplicates_name_both_places() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n";
        let ms = into_manifests(parse_yaml(text, &p()).unwrap(), None).unwrap();
        let err = index(ms).unwrap_err().to_string();
        assert_eq!(err, "/ConfigMap//a is defined twice: at x.yaml:1 and at x.yaml:5");
    }

    #[test]
    fn missing_name_is_named() {
        let err = into_manifests(parse_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", &p()).unwrap(), None)
            .unwrap_err();
        assert_eq!(err.to_string(), "x.yaml:1: object has no metadata.name");
    }
}
