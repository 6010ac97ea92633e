//! Generates `src/diff/defaults/table.rs`: the server defaults of every built-in kind, read from
//! Kubernetes' own defaulting code.
//!
//! ```sh
//! cargo run --example gen_defaults -- /path/to/kubernetes "source description" > src/diff/defaults/table.rs
//! ```
//!
//! `/path/to/kubernetes` is a Kubernetes source tree (or a folder laid out like one) holding:
//!
//! - `pkg/apis/<group>/<version>/defaults.go`: the `SetDefaults_<Type>` functions. Every
//!   `<group>/<version>` folder found there is a served version whose kinds are walked;
//! - `staging/src/k8s.io/api/<group>/<version>/*.go`: the types, whose json tags turn Go field
//!   names into JSON paths, whose `// +default=` markers are the declarative defaults, and whose
//!   constants give the values (`v1.ProtocolTCP` is `"TCP"`);
//! - `staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/*.go` (ObjectMeta, LabelSelector);
//! - `staging/src/k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1/*.go` and
//!   `staging/src/k8s.io/kube-aggregator/pkg/apis/apiregistration/v1/*.go` (types and
//!   `defaults.go` in one package).
//!
//! Which defaulting function runs where is what `defaulter-gen` writes into
//! `zz_generated.defaults.go`: starting at each kind, it walks every field's type and calls
//! `SetDefaults_<T>` wherever a `T` sits. This generator does the same walk over the parsed types
//! instead of parsing the generated file, so it needs only the sources above.
//!
//! Each assignment in a defaulting function becomes a row: the JSON path from the kind's root
//! (`[]` for a list item, `*` for a map value), and the value when it is a literal or a constant,
//! or `Any` when it is computed (copied from another field, derived from a name). Rows under a
//! feature gate say so. What defaulting functions do not set (admission plugins, registry
//! strategies, controllers, allocations) is kept by hand in `src/diff/defaults/supplement.rs`.

// A one-off, re-runnable generator over Go source text, not shipped: these lints would only
// rearrange its parsing code.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::collapsible_if,
    clippy::too_many_arguments,
    clippy::manual_is_multiple_of,
    clippy::case_sensitive_file_extension_comparisons,
    clippy::assigning_clones,
    clippy::items_after_statements
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use regex::Regex;

/// A Go type, with named types resolved to their package's import path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ty {
    Named { pkg: String, name: String },
    Ptr(Box<Ty>),
    Slice(Box<Ty>),
    Map(Box<Ty>),
    Builtin(String),
}

#[derive(Debug, Clone)]
struct Field {
    go: String,
    ty: Ty,
    /// The json name; `None` for an inline (embedded) struct.
    json: Option<String>,
    /// A `// +default=` marker.
    marker: Option<String>,
    /// The json tag has `omitempty`.
    omitempty: bool,
}

#[derive(Debug, Default)]
struct Package {
    structs: HashMap<String, Vec<Field>>,
    /// Named non-struct types: `type ResourceList map[ResourceName]resource.Quantity`.
    named: HashMap<String, Ty>,
    /// Constants and simple package variables: name -> expression text.
    consts: HashMap<String, String>,
    group: Option<String>,
}

/// A defaulting function: where it is, its parameter, its body, and the imports of its file.
#[derive(Debug, Clone)]
struct Func {
    name: String,
    param: String,
    body: Vec<String>,
    imports: HashMap<String, String>,
    /// The package the function lives in (for its own constants and helpers).
    home: String,
    /// `core/v1`, for the row's source.
    label: String,
}

/// A value an assignment gives.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Str(String),
    Int(i64),
    Bool(bool),
    List(Vec<Val>),
    /// A composite literal: Go field name -> value.
    Struct(Vec<(String, Val)>),
    /// `{}`, `make(...)`, `new(T)` with nothing set yet: no leaf.
    Empty,
    Nil,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Leaf {
    Any,
    Str(String),
    Int(i64),
    Bool(bool),
}

/// Rows by (group, kind, path): the values seen and where they came from.
type Rows = BTreeMap<(String, String, Vec<String>), (BTreeSet<Leaf>, BTreeSet<String>)>;

struct Gen {
    pkgs: HashMap<String, Package>,
    /// Defaulting functions by the (package, type) they default.
    funcs: HashMap<(String, String), Vec<Func>>,
    /// Every function of the defaults files, by (home package, name), for helper calls.
    helpers: HashMap<(String, String), Func>,
    rows: Rows,
    warnings: Vec<String>,
}

const API: &str = "staging/src/k8s.io/api";
const META: &str = "k8s.io/apimachinery/pkg/apis/meta/v1";
const EXTRA: &[(&str, &str)] = &[
    (
        "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1",
        "staging/src/k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1",
    ),
    (
        "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1",
        "staging/src/k8s.io/kube-aggregator/pkg/apis/apiregistration/v1",
    ),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(root) = args.get(1).map(PathBuf::from) else {
        eprintln!("usage: gen_defaults /path/to/kubernetes [source description] > src/diff/defaults/table.rs");
        std::process::exit(2);
    };
    let source = args.get(2).cloned().unwrap_or_else(|| root.display().to_string());
    let mut g = Gen {
        pkgs: HashMap::new(),
        funcs: HashMap::new(),
        helpers: HashMap::new(),
        rows: BTreeMap::new(),
        warnings: Vec::new(),
    };

    // types: every package of k8s.io/api, meta/v1, and the two add-on API servers
    let api = root.join(API);
    for group in sorted_dirs(&api) {
        for version in sorted_dirs(&group) {
            let import = format!("k8s.io/api/{}/{}", name_of(&group), name_of(&version));
            g.load_package(&import, &version);
        }
    }
    g.load_package(META, &root.join("staging/src/k8s.io/apimachinery/pkg/apis/meta/v1"));

    // served versions: pkg/apis/<group>/<version> folders with a defaults.go
    let mut served: Vec<(String, String)> = Vec::new();
    for group in sorted_dirs(&root.join("pkg/apis")) {
        for version in sorted_dirs(&group) {
            let file = version.join("defaults.go");
            if file.exists() {
                let label = format!("{}/{}", name_of(&group), name_of(&version));
                let import = format!("k8s.io/api/{label}");
                g.load_funcs(&file, &import, &label);
                served.push((import, label));
            }
        }
    }
    for (import, dir) in EXTRA {
        let dir = root.join(dir);
        if dir.exists() {
            g.load_package(import, &dir);
            let label = format!("{}/{}", name_of(dir.parent().unwrap()), name_of(&dir));
            g.load_funcs(&dir.join("defaults.go"), import, &label);
            served.push(((*import).to_owned(), label));
        }
    }

    for (import, _) in &served {
        let Some(pkg) = g.pkgs.get(import) else {
            g.warnings.push(format!("no types for {import}"));
            continue;
        };
        let group = pkg.group.clone().unwrap_or_default();
        let mut kinds: Vec<String> = pkg
            .structs
            .iter()
            .filter(|(name, fields)| {
                !name.ends_with("List")
                    && fields
                        .iter()
                        .any(|f| f.json.is_none() && matches!(&f.ty, Ty::Named { name, .. } if name == "TypeMeta"))
                    && fields.iter().any(|f| f.json.as_deref() == Some("metadata"))
            })
            .map(|(n, _)| n.clone())
            .collect();
        kinds.sort();
        for kind in kinds {
            let ty = Ty::Named { pkg: import.clone(), name: kind.clone() };
            let mut stack = Vec::new();
            g.walk(&group, &kind, &ty, &mut Vec::new(), &mut stack);
        }
    }

    for w in &g.warnings {
        eprintln!("warning: {w}");
    }
    print!("{}", g.render(&source));
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

fn name_of(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// Go source files of a package that are not tests or generated.
fn go_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect()).unwrap_or_default();
    files.retain(|p| {
        let n = name_of(p);
        n.ends_with(".go") && !n.ends_with("_test.go") && !n.starts_with("zz_generated") && !n.contains("generated")
    });
    files.sort();
    files
}

/// `alias -> import path` for a file; an unaliased import is named by its last segment.
fn imports(src: &str) -> HashMap<String, String> {
    let re = Regex::new(r#"(?m)^\s*(?:import\s+)?(\w+\s+)?"([\w./-]+)"\s*$"#).unwrap();
    let mut out = HashMap::new();
    let mut in_block = false;
    for line in src.lines() {
        let t = line.trim();
        if t.starts_with("import (") {
            in_block = true;
            continue;
        }
        if in_block && t == ")" {
            in_block = false;
            continue;
        }
        if in_block || t.starts_with("import ") {
            if let Some(c) = re.captures(t) {
                let path = c[2].to_owned();
                let alias = c
                    .get(1)
                    .map_or_else(|| path.rsplit('/').next().unwrap().to_owned(), |a| a.as_str().trim().to_owned());
                out.insert(alias, path);
            }
        }
    }
    out
}

/// Parses a Go type expression in the context of a package and its file's imports.
fn parse_ty(s: &str, home: &str, imports: &HashMap<String, String>) -> Ty {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix('*') {
        return Ty::Ptr(Box::new(parse_ty(rest, home, imports)));
    }
    if let Some(rest) = s.strip_prefix("[]") {
        return Ty::Slice(Box::new(parse_ty(rest, home, imports)));
    }
    if let Some(rest) = s.strip_prefix("map[") {
        let mut depth = 1;
        for (i, c) in rest.char_indices() {
            match c {
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ty::Map(Box::new(parse_ty(&rest[i + 1..], home, imports)));
                    }
                }
                _ => {}
            }
        }
    }
    if let Some((alias, name)) = s.split_once('.') {
        let pkg = imports.get(alias).cloned().unwrap_or_else(|| alias.to_owned());
        return Ty::Named { pkg, name: name.to_owned() };
    }
    const BUILTIN: &[&str] = &[
        "string",
        "bool",
        "int",
        "int32",
        "int64",
        "uint",
        "uint32",
        "uint64",
        "float32",
        "float64",
        "byte",
        "interface{}",
        "any",
    ];
    if BUILTIN.contains(&s) {
        Ty::Builtin(s.to_owned())
    } else {
        Ty::Named { pkg: home.to_owned(), name: s.to_owned() }
    }
}

impl Gen {
    fn load_package(&mut self, import: &str, dir: &Path) {
        let field_re = Regex::new(r#"^\s*(?:(\w+)\s+)?([\*\[\]\w\.]+)\s+`[^`]*json:"([^"]*)""#).unwrap();
        let type_re = Regex::new(r"^type\s+(\w+)\s+(.+?)\s*$").unwrap();
        let const_re = Regex::new(r"^\s*(?:const\s+|var\s+)?(\w+)(?:\s+[\w\.]+)?\s*=\s*(.+?)\s*$").unwrap();
        let mut pkg = Package::default();
        for file in go_files(dir) {
            let src = std::fs::read_to_string(&file).unwrap_or_else(|e| {
                eprintln!("gen_defaults: cannot read {}: {e}", file.display());
                std::process::exit(2)
            });
            let imports = imports(&src);
            let lines: Vec<&str> = src.lines().collect();
            let mut i = 0;
            let mut block = "";
            while i < lines.len() {
                let line = lines[i];
                let t = line.trim();
                if t.starts_with("const (") || t.starts_with("var (") {
                    block = "const";
                } else if block == "const" && t == ")" {
                    block = "";
                } else if (block == "const" || t.starts_with("const ")) && !t.starts_with("//") {
                    if let Some(c) = const_re.captures(t) {
                        pkg.consts.insert(c[1].to_owned(), strip_comment(&c[2]).to_owned());
                    }
                } else if let Some(c) = type_re.captures(line) {
                    let name = c[1].to_owned();
                    let rest = c[2].trim();
                    if rest == "struct {" {
                        let mut fields = Vec::new();
                        let mut marker = None;
                        let mut depth = 1;
                        i += 1;
                        while i < lines.len() {
                            let l = lines[i];
                            let lt = l.trim();
                            if lt.starts_with("//") {
                                if let Some(m) = lt.strip_prefix("// +default=") {
                                    marker = Some(m.trim().to_owned());
                                }
                            } else {
                                if depth == 1 {
                                    if let Some(fc) = field_re.captures(l) {
                                        let omitempty = fc[3].contains("omitempty");
                                        let tag = fc[3].split(',').next().unwrap_or("").to_owned();
                                        let ty = parse_ty(&fc[2], import, &imports);
                                        let go = match fc.get(1) {
                                            Some(n) => n.as_str().to_owned(),
                                            None => match &ty {
                                                Ty::Named { name, .. } => name.clone(),
                                                Ty::Ptr(b) => match b.as_ref() {
                                                    Ty::Named { name, .. } => name.clone(),
                                                    _ => String::new(),
                                                },
                                                _ => String::new(),
                                            },
                                        };
                                        let json = if tag.is_empty() || tag == "-" && fc.get(1).is_none() {
                                            None
                                        } else if tag == "-" {
                                            Some(String::new())
                                        } else {
                                            Some(tag)
                                        };
                                        fields.push(Field { go, ty, json, marker: marker.take(), omitempty });
                                    } else if !lt.is_empty() {
                                        marker = None;
                                    }
                                }
                                depth += lt.matches('{').count();
                                depth -= lt.matches('}').count();
                                if depth == 0 {
                                    break;
                                }
                            }
                            i += 1;
                        }
                        pkg.structs.insert(name, fields);
                    } else if !rest.starts_with("interface") && !rest.starts_with("func") && !rest.starts_with('=') {
                        pkg.named.insert(name, parse_ty(strip_comment(rest), import, &imports));
                    }
                }
                i += 1;
            }
        }
        pkg.group = pkg.consts.get("GroupName").and_then(|v| unquote(v));
        self.pkgs.insert(import.to_owned(), pkg);
    }

    /// Reads the functions of a defaults.go; `SetDefaults_<T>` ones are keyed by the type they take.
    fn load_funcs(&mut self, file: &Path, types_pkg: &str, label: &str) {
        let Ok(src) = std::fs::read_to_string(file) else { return };
        let imports = imports(&src);
        let home = format!("defaults:{label}");
        let func_re = Regex::new(r"^func\s+(\w+)\((\w+)(?:,\s*\w+)*\s+([\*\[\]\w\.]+)\)").unwrap();
        // the package's own constants and variables (discovery's defaultProtocol, flowcontrol's)
        let mut own = Package::default();
        let const_re = Regex::new(r"^\s*(?:const\s+|var\s+)?(\w+)(?:\s+[\w\.]+)?\s*=\s*(.+?)\s*$").unwrap();
        let lines: Vec<&str> = src.lines().collect();
        let mut i = 0;
        let mut in_block = false;
        while i < lines.len() {
            let line = lines[i];
            let t = line.trim();
            if t.starts_with("const (") || t.starts_with("var (") {
                in_block = true;
            } else if in_block && t == ")" {
                in_block = false;
            } else if in_block && line.starts_with('\t') && !line.starts_with("\t\t") {
                if let Some(c) = const_re.captures(t) {
                    own.consts.insert(c[1].to_owned(), strip_comment(&c[2]).to_owned());
                }
            } else if let Some(c) = func_re.captures(line) {
                let name = c[1].to_owned();
                let param = c[2].to_owned();
                let param_ty = parse_ty(&c[3], types_pkg, &imports);
                let mut body = Vec::new();
                i += 1;
                while i < lines.len() && lines[i] != "}" {
                    body.push(lines[i].to_owned());
                    i += 1;
                }
                let f = Func {
                    name: name.clone(),
                    param,
                    body,
                    imports: imports.clone(),
                    home: home.clone(),
                    label: label.to_owned(),
                };
                if let Some(tname) = name.strip_prefix("SetDefaults_") {
                    let target = match &param_ty {
                        Ty::Ptr(b) => b.as_ref().clone(),
                        other => other.clone(),
                    };
                    if let Ty::Named { pkg, name: tn } = &target {
                        if tn == tname {
                            self.funcs.entry((pkg.clone(), tn.clone())).or_default().push(f.clone());
                        }
                    }
                }
                self.helpers.insert((home.clone(), name), f);
            }
            i += 1;
        }
        self.pkgs.insert(home, own);
    }

    /// Resolves a named type through `type X Y` definitions.
    fn underlying(&self, ty: &Ty) -> Ty {
        let mut ty = ty.clone();
        for _ in 0..8 {
            match &ty {
                Ty::Named { pkg, name } => match self.pkgs.get(pkg).and_then(|p| p.named.get(name)) {
                    Some(next) => ty = next.clone(),
                    None => return ty,
                },
                _ => return ty,
            }
        }
        ty
    }

    fn fields(&self, ty: &Ty) -> Option<&Vec<Field>> {
        match self.underlying(ty) {
            Ty::Named { pkg, name } => self.pkgs.get(&pkg)?.structs.get(&name),
            _ => None,
        }
    }

    /// Finds a Go field, also promoted from embedded structs: the json steps to it and its type.
    fn field(&self, ty: &Ty, go: &str, depth: usize) -> Option<(Vec<String>, Ty)> {
        let fields = self.fields(&deref(ty))?;
        if let Some(f) = fields.iter().find(|f| f.go == go) {
            return Some((f.json.iter().filter(|j| !j.is_empty()).cloned().collect(), f.ty.clone()));
        }
        if depth > 4 {
            return None;
        }
        for f in fields.iter().filter(|f| f.json.is_none() || matches!(&f.ty, Ty::Named { name, .. } if *name == f.go))
        {
            if let Some((mut steps, t)) = self.field(&f.ty, go, depth + 1) {
                let mut all: Vec<String> = f.json.iter().filter(|j| !j.is_empty()).cloned().collect();
                all.append(&mut steps);
                return Some((all, t));
            }
        }
        None
    }

    /// The kind-level walk `defaulter-gen` does: at every type, its defaulting functions and
    /// declarative markers; then into every field.
    fn walk(&mut self, group: &str, kind: &str, ty: &Ty, path: &mut Vec<String>, stack: &mut Vec<Ty>) {
        if stack.len() > 40 || stack.contains(ty) {
            return;
        }
        let under = self.underlying(ty);
        match &under {
            Ty::Ptr(inner) => return self.walk(group, kind, inner, path, stack),
            Ty::Slice(inner) => {
                path.push("[]".into());
                self.walk(group, kind, inner, path, stack);
                path.pop();
                return;
            }
            Ty::Map(inner) => {
                path.push("*".into());
                self.walk(group, kind, inner, path, stack);
                path.pop();
                return;
            }
            _ => {}
        }
        stack.push(ty.clone());
        if let Ty::Named { pkg, name } = ty {
            let funcs = self.funcs.get(&(pkg.clone(), name.clone())).cloned().unwrap_or_default();
            for f in funcs {
                let mut env = Env::new(&f, path.clone(), ty.clone());
                self.run(group, kind, &f, &mut env, 0);
            }
        }
        let fields = self.fields(ty).cloned().unwrap_or_default();
        let home = match &under {
            Ty::Named { pkg, .. } => pkg.clone(),
            _ => String::new(),
        };
        for f in fields {
            let Some(step) = f.json.clone() else {
                self.walk(group, kind, &f.ty, path, stack);
                continue;
            };
            if step.is_empty() || path.is_empty() && step == "status" {
                continue;
            }
            path.push(step);
            if let Some(m) = &f.marker {
                let v = self.marker_value(m, &home);
                let source = format!("{} +default={m}", label_of(&home));
                self.emit(group, kind, path, &v, &f.ty, &source);
            }
            if !f.omitempty {
                // encoding/json writes the zero value of a scalar field without omitempty
                let zero = match self.underlying(&f.ty) {
                    Ty::Builtin(b) if b == "string" => Some(Leaf::Str(String::new())),
                    Ty::Builtin(b) if b == "bool" => Some(Leaf::Bool(false)),
                    Ty::Builtin(b) if b.starts_with("int") || b.starts_with("uint") => Some(Leaf::Int(0)),
                    _ => None,
                };
                if let Some(zero) = zero {
                    self.add(group, kind, path.clone(), zero, "zero value of a field without omitempty");
                }
            }
            if matches!(&f.ty, Ty::Named { name, .. } if name == "Quantity") {
                // encoding/json never omits a struct, so a zero Quantity is written as "0"
                self.add(
                    group,
                    kind,
                    path.clone(),
                    Leaf::Str("0".into()),
                    "resource.Quantity zero value (not omitted by encoding/json)",
                );
            }
            self.walk(group, kind, &f.ty, path, stack);
            path.pop();
        }
        stack.pop();
    }

    fn marker_value(&self, m: &str, home: &str) -> Val {
        if let Some(r) = m.strip_prefix("ref(").and_then(|r| r.strip_suffix(')')) {
            let name = r.rsplit('.').next().unwrap_or(r);
            return self
                .pkgs
                .get(home)
                .and_then(|p| p.consts.get(name))
                .map_or(Val::Unknown, |e| self.literal(e, home, 0));
        }
        self.literal(m, home, 0)
    }

    /// A literal or a constant of package `home`.
    fn literal(&self, e: &str, home: &str, depth: usize) -> Val {
        let e = e.trim();
        if depth > 6 {
            return Val::Unknown;
        }
        if let Some(s) = unquote(e) {
            return Val::Str(s);
        }
        if let Some(n) = parse_int(e) {
            return Val::Int(n);
        }
        match e {
            "true" => return Val::Bool(true),
            "false" => return Val::Bool(false),
            "{}" | "[]" => return Val::Empty,
            "nil" => return Val::Nil,
            _ => {}
        }
        if let Some((alias, name)) = e.split_once('.')
            && is_ident(alias)
            && is_ident(name)
        {
            let _ = alias;
            return self
                .pkgs
                .get(home)
                .and_then(|p| p.consts.get(name))
                .map_or(Val::Unknown, |v| self.literal(v, home, depth + 1));
        }
        if is_ident(e) {
            return self
                .pkgs
                .get(home)
                .and_then(|p| p.consts.get(e))
                .map_or(Val::Unknown, |v| self.literal(v, home, depth + 1));
        }
        // a typed conversion of a constant: Protocol("TCP"), int32(0644)
        if let Some((head, inner)) = call(e)
            && is_ident(head.rsplit('.').next().unwrap_or(""))
        {
            return self.literal(inner, home, depth + 1);
        }
        Val::Unknown
    }

    fn add(&mut self, group: &str, kind: &str, path: Vec<String>, leaf: Leaf, source: &str) {
        let e = self.rows.entry((group.to_owned(), kind.to_owned(), path)).or_default();
        e.0.insert(leaf);
        e.1.insert(source.to_owned());
    }

    /// Rows for a value assigned at `path` (of type `ty`).
    fn emit(&mut self, group: &str, kind: &str, path: &[String], v: &Val, ty: &Ty, source: &str) {
        if path.first().is_some_and(|s| s == "status") {
            return;
        }
        match v {
            Val::Str(s) => self.add(group, kind, path.to_vec(), Leaf::Str(s.clone()), source),
            Val::Int(n) => self.add(group, kind, path.to_vec(), Leaf::Int(*n), source),
            Val::Bool(b) => self.add(group, kind, path.to_vec(), Leaf::Bool(*b), source),
            Val::Unknown => self.add(group, kind, path.to_vec(), Leaf::Any, source),
            Val::Empty | Val::Nil => {}
            Val::List(items) => {
                let elem = match self.underlying(&deref(ty)) {
                    Ty::Slice(e) => *e,
                    other => other,
                };
                let mut p = path.to_vec();
                p.push("[]".into());
                for item in items {
                    self.emit(group, kind, &p, item, &elem, source);
                }
            }
            Val::Struct(fields) => {
                for (go, fv) in fields {
                    match self.field(ty, go, 0) {
                        Some((steps, fty)) => {
                            let mut p = path.to_vec();
                            p.extend(steps);
                            self.emit(group, kind, &p, fv, &fty, source);
                        }
                        None => self.warnings.push(format!("{source}: no field {go} in {ty:?}")),
                    }
                }
            }
        }
    }

    /// Runs a defaulting function's body: each assignment to the object becomes rows.
    fn run(&mut self, group: &str, kind: &str, f: &Func, env: &mut Env, depth: usize) {
        if depth > 4 {
            return;
        }
        let source = format!("{} {}", f.label, f.name);
        let stmts = statements(&f.body);
        let mut gates: Vec<(usize, String)> = Vec::new();
        let mut level = 0usize;
        let gate_re = Regex::new(r"Enabled\(features\.(\w+)\)").unwrap();
        for st in stmts {
            let t = st.trim();
            if t.is_empty() || t.starts_with("//") {
                continue;
            }
            let closes = t.starts_with('}');
            if closes {
                level = level.saturating_sub(1);
                gates.retain(|(l, _)| *l <= level);
            }
            let opens = t.ends_with('{') && !is_composite_assignment(t);
            let source = match gates.last() {
                Some((_, g)) => format!("{source} [feature gate {g}]"),
                None => source.clone(),
            };
            if t.starts_with("if ") || t.starts_with("} else if ") {
                if let Some(c) = gate_re.captures(t) {
                    gates.push((level + 1, c[1].to_owned()));
                }
                // if x := <path>; x != nil {
                if let Some(rest) = t.strip_prefix("if ")
                    && let Some((init, _)) = rest.split_once(';')
                    && let Some((name, rhs)) = init.split_once(":=")
                {
                    env.bind(self, name.trim(), rhs.trim());
                }
            } else if let Some(rest) = t.strip_prefix("for ") {
                // for i := range <path> {: the index makes `[i]` a list step; nothing to bind
                let _ = rest;
            } else if !opens && !closes || is_composite_assignment(t) {
                self.statement(group, kind, f, env, t, &source, depth);
            }
            if opens {
                level += 1;
            }
        }
    }

    fn statement(&mut self, group: &str, kind: &str, f: &Func, env: &mut Env, t: &str, source: &str, depth: usize) {
        // x := ... / var x T = ...
        if let Some((lhs, rhs)) = t.split_once(":=") {
            let name = lhs.trim();
            if is_ident(name) {
                env.bind(self, name, rhs.trim());
            }
            return;
        }
        if let Some(rest) = t.strip_prefix("var ") {
            if let Some((decl, rhs)) = rest.split_once('=') {
                let name = decl.split_whitespace().next().unwrap_or("");
                env.bind(self, name, rhs.trim());
            } else {
                let mut parts = rest.split_whitespace();
                if let (Some(name), Some(_)) = (parts.next(), parts.next()) {
                    env.locals.insert(name.to_owned(), Val::Empty);
                }
            }
            return;
        }
        if let Some((lhs, rhs)) = split_assign(t) {
            if lhs.trim().starts_with(&format!("(*{})", f.param)) {
                return; // rewrites the parameter's own values in place (ResourceList rounding)
            }
            let lhs = lhs.trim().trim_start_matches('*').trim_start_matches('(').trim_end_matches(')');
            if is_ident(lhs) && !env.roots.contains_key(lhs) {
                env.bind(self, lhs, rhs.trim());
                return;
            }
            let Some((path, ty)) = env.resolve(self, lhs) else { return };
            let rhs = rhs.trim();
            if rhs.starts_with("new(") {
                return; // the value follows in `*x = v`
            }
            let v = env.eval(self, rhs, 0);
            self.emit(group, kind, &path, &v, &ty, source);
            return;
        }
        // a call of another defaulting function or helper on part of the object
        if let Some((head, args)) = call(t) {
            let fname = head.rsplit('.').next().unwrap_or(head).to_owned();
            let arg = args.split(',').next().unwrap_or("").trim();
            let arg = strip_casts(arg);
            let Some((path, ty)) = env.resolve(self, arg) else { return };
            let callee = self.helpers.get(&(f.home.clone(), fname.clone())).cloned().or_else(|| {
                fname.strip_prefix("SetDefaults_").and_then(|tn| {
                    self.funcs.iter().find(|((_, n), _)| n == tn).and_then(|(_, fs)| fs.first().cloned())
                })
            });
            if let Some(callee) = callee {
                let mut inner = Env::new(&callee, path, ty);
                self.run(group, kind, &callee, &mut inner, depth + 1);
            }
        }
    }

    fn render(&self, source: &str) -> String {
        let mut out = String::new();
        writeln!(out, "// @generated by `cargo run --example gen_defaults -- <kubernetes> \"<source>\" > src/diff/defaults/table.rs`.").unwrap();
        writeln!(out, "// Do not edit: re-run the generator (see examples/gen_defaults.rs and docs/semantics.md).")
            .unwrap();
        for line in source.lines() {
            writeln!(out, "// Source: {line}").unwrap();
        }
        writeln!(out, "//").unwrap();
        writeln!(out, "// One row per (group, kind, JSON path): the value Kubernetes' defaulting code sets there")
            .unwrap();
        writeln!(out, "// (`Any` when it is computed), and the Go function or marker it comes from.").unwrap();
        writeln!(out).unwrap();
        writeln!(out, "use super::{{Expect, Row}};").unwrap();
        writeln!(out).unwrap();
        writeln!(out, "/// Rows generated from `SetDefaults_*` functions and `+default` markers.").unwrap();
        writeln!(out, "pub(super) static ROWS: &[Row] = &[").unwrap();
        for ((group, kind, path), (leaves, sources)) in &self.rows {
            let expect = expect_of(leaves);
            let path: Vec<String> = path.iter().map(|s| format!("{s:?}")).collect();
            let sources: Vec<&str> = sources.iter().map(String::as_str).collect();
            writeln!(
                out,
                "    Row {{ group: {group:?}, kind: {kind:?}, path: &[{}], expect: {expect}, source: {:?} }},",
                path.join(", "),
                sources.join("; ")
            )
            .unwrap();
        }
        writeln!(out, "];").unwrap();
        out
    }
}

fn expect_of(leaves: &BTreeSet<Leaf>) -> String {
    if leaves.contains(&Leaf::Any) {
        return "Expect::Any".into();
    }
    let strs: Vec<String> =
        leaves.iter().filter_map(|l| if let Leaf::Str(s) = l { Some(format!("{s:?}")) } else { None }).collect();
    let ints: Vec<String> =
        leaves.iter().filter_map(|l| if let Leaf::Int(n) = l { Some(n.to_string()) } else { None }).collect();
    let bools: Vec<bool> = leaves.iter().filter_map(|l| if let Leaf::Bool(b) = l { Some(*b) } else { None }).collect();
    match (strs.len(), ints.len(), bools.len()) {
        (1, 0, 0) => format!("Expect::Str({})", strs[0]),
        (_, 0, 0) => format!("Expect::Strs(&[{}])", strs.join(", ")),
        (0, 1, 0) => format!("Expect::Int({})", ints[0]),
        (0, _, 0) => format!("Expect::Ints(&[{}])", ints.join(", ")),
        (0, 0, 1) => format!("Expect::Bool({})", bools[0]),
        _ => "Expect::Any".into(),
    }
}

fn label_of(import: &str) -> String {
    let parts: Vec<&str> = import.rsplit('/').take(2).collect();
    format!("{}/{}", parts[1], parts[0])
}

/// Local state of one run of a defaulting function: the names bound to parts of the object and
/// the local values.
struct Env {
    /// name -> (JSON path, type)
    roots: HashMap<String, (Vec<String>, Ty)>,
    locals: HashMap<String, Val>,
    imports: HashMap<String, String>,
    home: String,
}

impl Env {
    fn new(f: &Func, path: Vec<String>, ty: Ty) -> Self {
        let mut roots = HashMap::new();
        roots.insert(f.param.clone(), (path, ty));
        Self { roots, locals: HashMap::new(), imports: f.imports.clone(), home: f.home.clone() }
    }

    fn bind(&mut self, g: &Gen, name: &str, rhs: &str) {
        let r = rhs.trim().trim_start_matches('&');
        if let Some(p) = self.resolve(g, r) {
            self.locals.remove(name);
            self.roots.insert(name.to_owned(), p);
        } else {
            let v = self.eval(g, rhs, 0);
            self.locals.insert(name.to_owned(), v);
        }
    }

    /// `obj.Spec.Ports[i].Protocol` -> the JSON path and the Go type there.
    fn resolve(&self, g: &Gen, expr: &str) -> Option<(Vec<String>, Ty)> {
        let expr = expr.trim().trim_start_matches('&');
        let expr = expr.replace("(*", "").replace(")[", "[");
        let mut chars = expr.as_str();
        let end = chars.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(chars.len());
        let root = &chars[..end];
        let (mut path, mut ty) = self.roots.get(root)?.clone();
        chars = &chars[end..];
        while !chars.is_empty() {
            if let Some(rest) = chars.strip_prefix('.') {
                let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
                let name = &rest[..end];
                let (steps, fty) = g.field(&ty, name, 0)?;
                path.extend(steps);
                ty = fty;
                chars = &rest[end..];
            } else if let Some(rest) = chars.strip_prefix('[') {
                let end = rest.find(']')?;
                match g.underlying(&deref(&ty)) {
                    Ty::Slice(e) => {
                        path.push("[]".into());
                        ty = *e;
                    }
                    Ty::Map(e) => {
                        // a constant key names its entry: obj.Labels[v1.LabelMetadataName]
                        let key = match self.eval(g, &rest[..end], 1) {
                            Val::Str(s) => s,
                            _ => "*".into(),
                        };
                        path.push(key);
                        ty = *e;
                    }
                    _ => return None,
                }
                chars = &rest[end + 1..];
            } else {
                return None;
            }
        }
        Some((path, ty))
    }

    fn eval(&self, g: &Gen, e: &str, depth: usize) -> Val {
        let e = e.trim().trim_end_matches(',').trim();
        if depth > 8 {
            return Val::Unknown;
        }
        if let Some(s) = unquote(e) {
            return Val::Str(s);
        }
        if let Some(n) = parse_int(e) {
            return Val::Int(n);
        }
        match e {
            "true" => return Val::Bool(true),
            "false" => return Val::Bool(false),
            "nil" => return Val::Nil,
            "time.Hour.Seconds()" => return Val::Int(3600),
            "math.MaxInt32" => return Val::Int(i64::from(i32::MAX)),
            _ => {}
        }
        if let Some(inner) = e.strip_prefix('&') {
            return self.eval(g, inner, depth + 1);
        }
        if let Some(v) = self.locals.get(e) {
            return v.clone();
        }
        if self.resolve(g, e).is_some() {
            return Val::Unknown; // copied from another field
        }
        // composite literals: T{...}, []T{...}
        if e.ends_with('}')
            && let Some(open) = e.find('{')
        {
            let head = &e[..open];
            let body = e[open + 1..e.len() - 1].trim();
            if body.is_empty() {
                return Val::Empty;
            }
            let parts = split_top(body);
            if head.starts_with("[]") || !parts.iter().any(|p| top_colon(p).is_some()) {
                return Val::List(parts.iter().map(|p| self.eval(g, p, depth + 1)).collect());
            }
            let mut fields = Vec::new();
            for p in parts {
                if let Some(i) = top_colon(&p) {
                    fields.push((p[..i].trim().to_owned(), self.eval(g, &p[i + 1..], depth + 1)));
                }
            }
            return Val::Struct(fields);
        }
        if let Some((head, args)) = call(e) {
            match head {
                "make" | "new" => return Val::Empty,
                "append" => {
                    let parts = split_top(args);
                    return Val::List(parts.iter().skip(1).map(|p| self.eval(g, p, depth + 1)).collect());
                }
                _ => {}
            }
            if head.starts_with("ptr.To")
                || head.ends_with("Ptr")
                || matches!(
                    head.rsplit('.').next(),
                    Some("Int32" | "Int64" | "Bool" | "String" | "FromString" | "FromInt" | "FromInt32")
                )
                || is_ident(head)
                || head.split_once('.').is_some_and(|(a, b)| {
                    is_ident(a) && is_ident(b) && b.chars().next().is_some_and(char::is_lowercase)
                })
            {
                let parts = split_top(args);
                if parts.len() == 1 {
                    return self.eval(g, &parts[0], depth + 1);
                }
            }
            return Val::Unknown;
        }
        // alias.Const (a package of k8s.io/api, or this defaults package's own constant)
        if let Some((alias, name)) = e.split_once('.')
            && is_ident(alias)
            && is_ident(name)
        {
            let pkg = self.imports.get(alias).cloned().unwrap_or_default();
            return g
                .pkgs
                .get(&pkg)
                .and_then(|p| p.consts.get(name))
                .map_or(Val::Unknown, |v| g.literal(v, &pkg, depth + 1));
        }
        if is_ident(e) {
            if let Some(v) = g.pkgs.get(&self.home).and_then(|p| p.consts.get(e)) {
                let v = v.clone();
                return self.eval(g, &v, depth + 1);
            }
            // GroupName and the like: the constant of the types package this runs on
            for (_, ty) in self.roots.values() {
                if let Ty::Named { pkg, .. } = deref(ty)
                    && let Some(v) = g.pkgs.get(&pkg).and_then(|p| p.consts.get(e))
                {
                    return g.literal(v, &pkg, depth + 1);
                }
            }
        }
        Val::Unknown
    }
}

fn deref(ty: &Ty) -> Ty {
    match ty {
        Ty::Ptr(b) => deref(b),
        other => other.clone(),
    }
}

fn is_ident(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_') && !s.chars().next().unwrap().is_ascii_digit()
}

fn unquote(s: &str) -> Option<String> {
    let s = s.trim();
    if s.len() >= 2 && (s.starts_with('"') && s.ends_with('"') || s.starts_with('`') && s.ends_with('`')) {
        let inner = &s[1..s.len() - 1];
        if inner.contains('"') && !inner.contains("\\\"") {
            return None;
        }
        return Some(inner.replace("\\\"", "\"").replace("\\\\", "\\"));
    }
    None
}

fn parse_int(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x") {
        return i64::from_str_radix(h, 16).ok();
    }
    if s.len() > 1 && s.starts_with('0') && s.chars().all(|c| c.is_ascii_digit()) {
        return i64::from_str_radix(&s[1..], 8).ok();
    }
    if let Some(neg) = s.strip_prefix('-') {
        return neg.parse::<i64>().ok().map(|n| -n);
    }
    s.parse().ok()
}

fn strip_comment(s: &str) -> &str {
    match s.find("//") {
        Some(i) if !s[..i].contains('"') || s[..i].matches('"').count() % 2 == 0 => s[..i].trim(),
        _ => s.trim(),
    }
}

/// `f(args)` or `pkg.F[T](args)` -> (head, args) when the whole expression is one call.
fn call(e: &str) -> Option<(&str, &str)> {
    let e = e.trim();
    if !e.ends_with(')') {
        return None;
    }
    let open = e.find('(')?;
    let head = &e[..open];
    let head = head.split('[').next().unwrap_or(head);
    if head.is_empty() || !head.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '.') {
        return None;
    }
    // the parenthesis that opens must close at the end
    let mut depth = 0;
    for (i, c) in e[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 && open + i != e.len() - 1 {
                    return None;
                }
            }
            _ => {}
        }
    }
    Some((head, &e[open + 1..e.len() - 1]))
}

/// `(*v1.Container)(&obj.EphemeralContainerCommon)` -> `&obj.EphemeralContainerCommon`.
fn strip_casts(arg: &str) -> &str {
    let mut a = arg.trim();
    while a.starts_with("(*") {
        match a.find(")(") {
            Some(i) => a = a[i + 2..].strip_suffix(')').unwrap_or(&a[i + 2..]),
            None => break,
        }
    }
    a
}

/// Splits at top-level commas.
fn split_top(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    let mut in_str = false;
    for c in s.chars() {
        match c {
            '"' => in_str = !in_str,
            '(' | '{' | '[' if !in_str => depth += 1,
            ')' | '}' | ']' if !in_str => depth -= 1,
            ',' if depth == 0 && !in_str => {
                if !cur.trim().is_empty() {
                    out.push(cur.trim().to_owned());
                }
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_owned());
    }
    out
}

/// The `:` of `Field: value` at the top level.
fn top_colon(s: &str) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' | '{' | '[' | '"' => depth += 1,
            ')' | '}' | ']' => depth -= 1,
            ':' if depth == 0 => return Some(i),
            _ => {}
        }
        if depth > 0 {
            return None;
        }
    }
    None
}

/// `a = b` (not `==`, `:=`, `!=`).
fn split_assign(t: &str) -> Option<(&str, &str)> {
    let b = t.as_bytes();
    for i in 1..b.len().saturating_sub(1) {
        if b[i] == b'=' && b[i + 1] != b'=' && !matches!(b[i - 1], b'=' | b'!' | b':' | b'<' | b'>') {
            return Some((&t[..i], &t[i + 1..]));
        }
    }
    None
}

fn is_composite_assignment(t: &str) -> bool {
    (t.contains(":=") || split_assign(t).is_some())
        && !t.starts_with("if ")
        && !t.starts_with("for ")
        && !t.starts_with('}')
        && t.ends_with('{')
}

/// Joins a body into statements: a composite literal spread over lines becomes one.
fn statements(body: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    for line in body {
        let t = strip_comment(line.trim());
        if cur.is_empty() {
            if is_composite_assignment(t) {
                cur = t.to_owned();
                depth = t.matches('{').count() as i32 - t.matches('}').count() as i32;
                continue;
            }
            out.push(t.to_owned());
        } else {
            cur.push(' ');
            cur.push_str(t);
            depth += t.matches('{').count() as i32 - t.matches('}').count() as i32;
            if depth <= 0 {
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}
