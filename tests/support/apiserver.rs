//! One in-process fake kube-apiserver with the real API's semantics, as captured in
//! `tests/fixtures/apiserver` (kube-apiserver v1.28.7):
//! - discovery: `/api`, `/apis`, `/api/v1` and `/apis/apps/v1` answer with the captured bytes; other served
//!   group versions are generated in the same shape; unserved ones are 404;
//! - list (items without kind/apiVersion, `limit`/`continue`), get, create (201), replace with
//!   resourceVersion preconditions (409), delete (Status Success, 404);
//! - watch from a resourceVersion with bookmarks, synthetic ADDED without one, and a single
//!   `ERROR` 410 Expired event when the rv is older than the event window (then the stream ends);
//! - patches: JSON merge, JSON (422 when a `test` fails), strategic merge (lists of named items
//!   merged by name), and server-side apply (`fieldManager` required, 201 on create, 409
//!   FieldManagerConflict unless forced, `dryRun=All`);
//! - managedFields kept per manager, with `Update` entries for writes and `Apply` entries for
//!   server-side apply, so the detector can name who changed what;
//! - faults: 403 per resource, dropped watches, compaction (the next watch gets 410);
//! - delegated authentication and authorization, create-only as in the real API (other methods
//!   405): `tokenreviews` (authentication.k8s.io/v1) answer 201 with `status.authenticated` and
//!   `status.user` for the tokens a test adds (`fake-admin-token`, the kubeconfig's, is
//!   `kubernetes-admin` in `system:masters`), else `status.error`; `subjectaccessreviews`
//!   (authorization.k8s.io/v1) answer 201 with `status.allowed` and RBAC's `reason` from the
//!   grants a test makes (`system:masters` may do anything), 422 for a spec without exactly one
//!   of resourceAttributes/nonResourceAttributes or without a user or group. `forbid` works on
//!   them too (driftgate without `system:auth-delegator`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// a test double written for readability over the pedantic lints
#![allow(clippy::many_single_char_names, clippy::struct_field_names, clippy::needless_pass_by_value)]

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tokio::sync::{broadcast, mpsc};

/// A kind the fake serves.
#[derive(Debug, Clone)]
pub struct Kind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
}

/// The kinds served by default.
pub const KINDS: &[Kind] = &[
    Kind { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true },
    Kind { group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true },
    Kind { group: "", version: "v1", kind: "Service", plural: "services", namespaced: true },
    Kind { group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", namespaced: true },
    Kind { group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false },
    Kind { group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true },
    Kind { group: "apps", version: "v1", kind: "StatefulSet", plural: "statefulsets", namespaced: true },
    Kind { group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", namespaced: true },
    Kind { group: "events.k8s.io", version: "v1", kind: "Event", plural: "events", namespaced: true },
    Kind { group: "networking.k8s.io", version: "v1", kind: "Ingress", plural: "ingresses", namespaced: true },
    Kind {
        group: "autoscaling",
        version: "v2",
        kind: "HorizontalPodAutoscaler",
        plural: "horizontalpodautoscalers",
        namespaced: true,
    },
    Kind {
        group: "policy",
        version: "v1",
        kind: "PodDisruptionBudget",
        plural: "poddisruptionbudgets",
        namespaced: true,
    },
    Kind {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "ValidatingWebhookConfiguration",
        plural: "validatingwebhookconfigurations",
        namespaced: false,
    },
];

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apiserver").join(name)).unwrap()
}

type ObjKey = (usize, Option<String>, String);

#[derive(Clone, Debug)]
struct WatchEvent {
    rv: u64,
    kind: usize,
    namespace: Option<String>,
    event_type: &'static str,
    object: Value,
}

struct Inner {
    rv: u64,
    uid: u64,
    objects: BTreeMap<ObjKey, Value>,
    /// The watch cache: events after `window_start` can be replayed.
    history: VecDeque<WatchEvent>,
    window_start: u64,
    forbidden: HashSet<String>,
    requests: Vec<String>,
    /// Pinned managed-fields timestamps make the fixtures' comparisons stable.
    now: Option<String>,
    /// A mutating admission webhook: runs on every write, dry runs included.
    mutator: Option<fn(&mut Value)>,
    /// Watches answered with 410 Expired.
    expired: usize,
    /// Writes by a field manager that fail: (manager, how many more (None: all), code, message).
    faults: Vec<(String, Option<usize>, u16, String)>,
    /// Bearer tokens the TokenReviews know: token → `status.user`.
    tokens: BTreeMap<String, Value>,
    /// RBAC rules bound to subjects, for SubjectAccessReviews.
    grants: Vec<Grant>,
}

/// Who a grant is bound to, as a ClusterRoleBinding's subject.
#[derive(Debug, Clone)]
pub enum Subject {
    /// A user name (a service account's is `system:serviceaccount:NS:NAME`).
    User(String),
    /// A group.
    Group(String),
}

/// One ClusterRole rule (a group, a resource, a verb, optional names) and its binding.
#[derive(Debug, Clone)]
struct Grant {
    name: String,
    subject: Subject,
    api_group: String,
    resource: String,
    verb: String,
    names: Vec<String>,
}

struct Shared {
    inner: Mutex<Inner>,
    events: broadcast::Sender<WatchEvent>,
    drop_watches: tokio::sync::watch::Sender<u64>,
    bookmark_every: Duration,
}

/// A running fake API server on 127.0.0.1.
pub struct FakeApiServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeApiServer {
    /// Starts the server on its own runtime thread.
    pub fn start() -> Self {
        let (events, _) = broadcast::channel(65536);
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                rv: 100,
                uid: 0,
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                window_start: 100,
                forbidden: HashSet::new(),
                requests: Vec::new(),
                now: None,
                mutator: None,
                expired: 0,
                faults: Vec::new(),
                tokens: BTreeMap::from([(
                    "fake-admin-token".to_owned(),
                    json!({"username": "kubernetes-admin", "uid": "uid-kubernetes-admin",
                           "groups": ["system:masters", "system:authenticated"]}),
                )]),
                grants: Vec::new(),
            }),
            events,
            drop_watches: tokio::sync::watch::Sender::new(0),
            bookmark_every: Duration::from_millis(500),
        });
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let st = Arc::clone(&shared);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                // as the Go API server does: watch events are small writes that must not wait for an ACK
                let listener = axum::serve::ListenerExt::tap_io(listener, |s| {
                    let _ = s.set_nodelay(true);
                });
                let app = Router::new().fallback(handle).with_state(st);
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let addr = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        Self { addr, shared, stop: Some(stop), thread: Some(thread) }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Writes a kubeconfig that points at this server into `dir`, and returns its path.
    pub fn kubeconfig(&self, dir: &std::path::Path) -> PathBuf {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\nusers:\n- name: admin\n  user:\n    token: fake-admin-token\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: admin\ncurrent-context: fake\n",
            self.url()
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.inner.lock().unwrap()
    }

    /// Creates or replaces an object directly (as if by a reconciler), emitting a watch event.
    pub fn put(&self, object: Value) -> Value {
        self.write(object, "argocd-controller")
    }

    /// Stores objects as given (managedFields included), each at a new resourceVersion, without
    /// watch events: a cluster as it stands when a client first lists it.
    pub fn load(&self, objects: impl IntoIterator<Item = Value>) {
        let mut inner = self.lock();
        for mut obj in objects {
            let k = kind_of(&obj).unwrap();
            inner.rv += 1;
            obj["metadata"]["resourceVersion"] = json!(inner.rv.to_string());
            let key = obj_key(k, &obj);
            inner.objects.insert(key, obj);
        }
        inner.window_start = inner.rv;
    }

    /// Writes an object as `manager` (Update), as a `kubectl edit` would.
    pub fn write(&self, object: Value, manager: &str) -> Value {
        let mut inner = self.lock();
        let k = kind_of(&object).unwrap();
        let key = obj_key(k, &object);
        let old = inner.objects.get(&key).cloned();

        store(&mut inner, &self.shared.events, key, old, object, manager, "Update")
    }

    /// The current object, if any.
    pub fn get(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let k = KINDS.iter().position(|x| x.kind == kind).unwrap();
        self.lock().objects.get(&(k, namespace.map(str::to_owned), name.to_owned())).cloned()
    }

    /// Every object of `kind` (in `namespace`, when given).
    pub fn list(&self, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        let k = KINDS.iter().position(|x| x.kind == kind).unwrap();
        self.lock()
            .objects
            .iter()
            .filter(|((kk, ns, _), _)| *kk == k && (namespace.is_none() || ns.as_deref() == namespace))
            .map(|(_, o)| o.clone())
            .collect()
    }

    /// Deletes an object directly, emitting a watch event.
    pub fn remove(&self, kind: &str, namespace: Option<&str>, name: &str) {
        let k = KINDS.iter().position(|x| x.kind == kind).unwrap();
        let mut inner = self.lock();
        let key = (k, namespace.map(str::to_owned), name.to_owned());
        delete(&mut inner, &self.shared.events, &key);
    }

    /// Makes every request on `plural` answer 403.
    pub fn forbid(&self, plural: &str) {
        self.lock().forbidden.insert(plural.to_owned());
    }

    /// Lifts a `forbid`.
    pub fn allow(&self, plural: &str) {
        self.lock().forbidden.remove(plural);
    }

    /// Ends every open watch stream, as a restarting API server or a dropped connection would.
    pub fn drop_watches(&self) {
        self.shared.drop_watches.send_modify(|n| *n += 1);
    }

    /// Forgets the event history, as an etcd compaction does: a watch from an older rv gets 410.
    pub fn compact(&self) {
        let mut inner = self.lock();
        inner.history.clear();
        inner.window_start = inner.rv;
    }

    /// The requests seen, as `METHOD path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    /// Installs a mutating webhook that rewrites every object written.
    pub fn set_mutator(&self, f: fn(&mut Value)) {
        self.lock().mutator = Some(f);
    }

    /// Makes writes by `manager` fail with `code` (all of them, or the next `times`), as an
    /// admission webhook's denial (403) or a conflict (409) would.
    pub fn fail_writes(&self, manager: &str, times: Option<usize>, code: u16, message: &str) {
        self.lock().faults.push((manager.to_owned(), times, code, message.to_owned()));
    }

    /// How many watches were answered with 410 Expired.
    pub fn expired_watches(&self) -> usize {
        self.lock().expired
    }

    /// Pins the time written into managedFields.
    pub fn set_time(&self, t: &str) {
        self.lock().now = Some(t.to_owned());
    }

    /// Makes TokenReviews accept `token` as `username` in `groups` (and `system:authenticated`,
    /// which the API server adds to every authenticated user).
    pub fn add_token(&self, token: &str, username: &str, groups: &[&str]) {
        let mut groups: Vec<&str> = groups.to_vec();
        groups.push("system:authenticated");
        let user = json!({"username": username, "uid": format!("uid-{username}"), "groups": groups});
        self.lock().tokens.insert(token.to_owned(), user);
    }

    /// Makes TokenReviews reject `token`, as for a deleted service account.
    pub fn revoke_token(&self, token: &str) {
        self.lock().tokens.remove(token);
    }

    /// Binds a ClusterRole with one rule to `subject`: `verb` on `resource` in `api_group`
    /// (`*` for any), limited to `names` when any are given.
    pub fn grant(&self, subject: Subject, api_group: &str, resource: &str, verb: &str, names: &[&str]) {
        let mut inner = self.lock();
        let name = format!("grant-{}", inner.grants.len());
        inner.grants.push(Grant {
            name,
            subject,
            api_group: api_group.to_owned(),
            resource: resource.to_owned(),
            verb: verb.to_owned(),
            names: names.iter().map(|n| (*n).to_owned()).collect(),
        });
    }

    /// How many requests were `METHOD path` (the query left out).
    pub fn count(&self, method_and_path: &str) -> usize {
        self.lock().requests.iter().filter(|r| r.split('?').next() == Some(method_and_path)).count()
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.drop_watches();
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        // graceful shutdown waits for open connections; a client still re-watching must not
        // hold the test up, so the server thread gets two seconds and is then left to the process
        if let Some(t) = self.thread.take() {
            let deadline = std::time::Instant::now() + Duration::from_secs(2);
            while !t.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

fn kind_of(obj: &Value) -> Option<usize> {
    let api_version = obj["apiVersion"].as_str()?;
    let kind = obj["kind"].as_str()?;
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    KINDS.iter().position(|k| k.kind == kind && k.group == group && k.version == version)
}

fn obj_key(k: usize, obj: &Value) -> ObjKey {
    let ns = if KINDS[k].namespaced {
        Some(obj["metadata"]["namespace"].as_str().unwrap_or("default").to_owned())
    } else {
        None
    };
    (k, ns, obj["metadata"]["name"].as_str().unwrap_or_default().to_owned())
}

fn now(inner: &Inner) -> String {
    inner.now.clone().unwrap_or_else(driftgate::audit::now_rfc3339)
}

/// Parsed request path.
struct Target {
    kind: usize,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

enum Route {
    Discovery(String, String),
    Resource(Target),
    Unknown,
}

fn route(path: &str) -> Route {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        ["version"] => return Route::Discovery("version".into(), String::new()),
        ["api"] => return Route::Discovery(String::new(), String::new()),
        ["apis"] => return Route::Discovery("*".into(), String::new()),
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Route::Unknown,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, rest @ ..] => (Some((*ns).to_owned()), {
            let mut v = vec![*plural];
            v.extend_from_slice(rest);
            v
        }),
        r => (None, r.to_vec()),
    };
    let Some(plural) = rest.first() else { return Route::Discovery(group.to_owned(), version.to_owned()) };
    // `/api/v1/namespaces/NAME` is the Namespace itself
    let (plural, name, sub) = if namespace.is_some() && rest.is_empty() {
        ("namespaces", namespace.clone(), None)
    } else {
        (*plural, rest.get(1).map(|s| (*s).to_owned()), rest.get(2).map(|s| (*s).to_owned()))
    };
    match KINDS.iter().position(|k| k.group == group && k.version == version && k.plural == plural) {
        Some(kind) => {
            let namespace = if KINDS[kind].namespaced { namespace } else { None };
            Route::Resource(Target { kind, namespace, name, subresource: sub })
        }
        None => Route::Unknown,
    }
}

fn query(uri: &Uri) -> BTreeMap<String, String> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_owned(), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn json_response(code: StatusCode, body: &Value) -> Response {
    let mut text = serde_json::to_vec(body).unwrap();
    text.push(b'\n');
    (code, [(header::CONTENT_TYPE, "application/json")], text).into_response()
}

fn resource_name(k: &Kind) -> String {
    if k.group.is_empty() { k.plural.to_owned() } else { format!("{}.{}", k.plural, k.group) }
}

fn status(code: u16, reason: &str, message: String, details: Value) -> Response {
    let mut body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                          "message": message, "reason": reason});
    if !details.is_null() {
        body["details"] = details;
    }
    body["code"] = json!(code);
    json_response(StatusCode::from_u16(code).unwrap(), &body)
}

fn details(k: &Kind, name: Option<&str>) -> Value {
    let mut d = Map::new();
    if let Some(n) = name {
        d.insert("name".into(), json!(n));
    }
    if !k.group.is_empty() {
        d.insert("group".into(), json!(k.group));
    }
    d.insert("kind".into(), json!(k.plural));
    Value::Object(d)
}

fn not_found(k: &Kind, name: &str) -> Response {
    status(404, "NotFound", format!("{} \"{name}\" not found", resource_name(k)), details(k, Some(name)))
}

fn conflict(k: &Kind, name: &str) -> Response {
    status(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
            resource_name(k)
        ),
        details(k, Some(name)),
    )
}

fn forbidden(k: &Kind, verb: &str, namespace: Option<&str>) -> Response {
    let scope = match namespace {
        Some(ns) => format!(" in the namespace \"{ns}\""),
        None => " at the cluster scope".to_owned(),
    };
    status(
        403,
        "Forbidden",
        format!(
            "{} is forbidden: User \"system:serviceaccount:driftgate:driftgate\" cannot {verb} resource \"{}\" in API group \"{}\"{scope}",
            resource_name(k),
            k.plural,
            k.group
        ),
        json!({"kind": k.plural}),
    )
}

async fn handle(State(st): State<Arc<Shared>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let q = query(&uri);
    st.inner.lock().unwrap().requests.push(format!("{method} {uri}"));
    if let Some(answer) = access_review(&st, &method, uri.path(), &body) {
        return answer;
    }
    let target = match route(uri.path()) {
        Route::Discovery(g, v) => return discovery(&g, &v),
        Route::Unknown => {
            return status(404, "NotFound", "the server could not find the requested resource".into(), Value::Null);
        }
        Route::Resource(t) => t,
    };
    let k = &KINDS[target.kind];
    let verb = match (&method, &target.name) {
        (&Method::GET, None) if q.get("watch").is_some_and(|w| w == "1" || w == "true") => "watch",
        (&Method::GET, None) => "list",
        (&Method::GET, Some(_)) => "get",
        (&Method::POST, _) => "create",
        (&Method::PUT, _) => "update",
        (&Method::PATCH, _) => "patch",
        (&Method::DELETE, _) => "delete",
        _ => "unknown",
    };
    if st.inner.lock().unwrap().forbidden.contains(k.plural) {
        return forbidden(k, verb, target.namespace.as_deref());
    }
    let manager = q.get("fieldManager").cloned().unwrap_or_else(|| {
        let ua = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("unknown");
        ua.split('/').next().unwrap_or(ua).to_owned()
    });
    let dry_run = q.get("dryRun").is_some_and(|d| d == "All");
    if matches!(verb, "create" | "update" | "patch") {
        let mut inner = st.inner.lock().unwrap();
        if let Some(f) = inner.faults.iter_mut().find(|f| f.0 == manager && f.1 != Some(0)) {
            if let Some(n) = &mut f.1 {
                *n -= 1;
            }
            let (code, message) = (f.2, f.3.clone());
            let reason = match code {
                409 => "Conflict",
                403 => "Forbidden",
                _ => "BadRequest",
            };
            return status(code, reason, message, details(k, target.name.as_deref()));
        }
    }
    match verb {
        "watch" => watch(st, target, &q),
        "list" => list(&st, &target, &q),
        "get" => {
            let inner = st.inner.lock().unwrap();
            let name = target.name.clone().unwrap();
            match inner.objects.get(&(target.kind, target.namespace.clone(), name.clone())) {
                Some(o) => json_response(StatusCode::OK, o),
                None => not_found(k, &name),
            }
        }
        "create" => {
            let Ok(mut obj) = serde_json::from_slice::<Value>(&body) else {
                return status(400, "BadRequest", "invalid body".into(), Value::Null);
            };
            if let Some(ns) = &target.namespace {
                obj["metadata"]["namespace"] = json!(ns);
            }
            let mut inner = st.inner.lock().unwrap();
            let key = obj_key(target.kind, &obj);
            if inner.objects.contains_key(&key) {
                return status(
                    409,
                    "AlreadyExists",
                    format!("{} \"{}\" already exists", resource_name(k), key.2),
                    details(k, Some(&key.2)),
                );
            }
            let out = store(&mut inner, &st.events, key, None, obj, &manager, "Update");
            json_response(StatusCode::CREATED, &out)
        }
        "update" => {
            let Ok(obj) = serde_json::from_slice::<Value>(&body) else {
                return status(400, "BadRequest", "invalid body".into(), Value::Null);
            };
            let mut inner = st.inner.lock().unwrap();
            let key = (target.kind, target.namespace.clone(), target.name.clone().unwrap());
            let Some(old) = inner.objects.get(&key).cloned() else { return not_found(k, &key.2) };
            if let Some(rv) = obj["metadata"]["resourceVersion"].as_str()
                && rv != old["metadata"]["resourceVersion"].as_str().unwrap_or_default()
            {
                return conflict(k, &key.2);
            }
            let out = store(&mut inner, &st.events, key, Some(old), obj, &manager, "Update");
            json_response(StatusCode::OK, &out)
        }
        "patch" => patch(&st, &target, &headers, &body, &manager, &q, dry_run),
        "delete" => {
            let mut inner = st.inner.lock().unwrap();
            let key = (target.kind, target.namespace.clone(), target.name.clone().unwrap());
            match delete(&mut inner, &st.events, &key) {
                Some(old) => json_response(
                    StatusCode::OK,
                    &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                            "details": {"name": key.2, "group": k.group, "kind": k.plural, "uid": old["metadata"]["uid"]}}),
                ),
                None => not_found(k, &key.2),
            }
        }
        _ => status(405, "MethodNotAllowed", "method not allowed".into(), Value::Null),
    }
}

fn discovery(group: &str, version: &str) -> Response {
    match (group, version) {
        // `/version`, as captured
        ("version", "") => {
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], fixture("09-get-version.json"))
                .into_response()
        }
        // the legacy (not aggregated) lists of versions and groups, as captured
        ("", "") => {
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], fixture("01-get-api.json")).into_response()
        }
        ("*", "") => {
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], fixture("03-get-apis.json")).into_response()
        }
        ("", "v1") => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], fixture("02-get-api-v1.json"))
            .into_response(),
        ("apps", "v1") => {
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], fixture("04-get-apis-apps-v1.json"))
                .into_response()
        }
        _ => {
            let resources: Vec<Value> = KINDS
                .iter()
                .filter(|k| k.group == group && k.version == version)
                .map(|k| {
                    json!({"name": k.plural, "singularName": k.kind.to_lowercase(), "namespaced": k.namespaced,
                           "kind": k.kind, "verbs": ["create","delete","deletecollection","get","list","patch","update","watch"]})
                })
                .collect();
            if resources.is_empty() {
                return status(404, "NotFound", "the server could not find the requested resource".into(), Value::Null);
            }
            json_response(
                StatusCode::OK,
                &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": format!("{group}/{version}"), "resources": resources}),
            )
        }
    }
}

fn in_scope(t: &Target, kind: usize, ns: Option<&String>) -> bool {
    kind == t.kind && (t.namespace.is_none() || t.namespace.as_ref() == ns)
}

fn list(st: &Shared, t: &Target, q: &BTreeMap<String, String>) -> Response {
    let inner = st.inner.lock().unwrap();
    let k = &KINDS[t.kind];
    let all: Vec<&Value> =
        inner.objects.iter().filter(|((kind, ns, _), _)| in_scope(t, *kind, ns.as_ref())).map(|(_, v)| v).collect();
    let start: usize = q.get("continue").and_then(|c| c.parse().ok()).unwrap_or(0);
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).filter(|l| *l > 0).unwrap_or(usize::MAX);
    let page: Vec<Value> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|v| {
            let mut item = (*v).clone();
            let m = item.as_object_mut().unwrap();
            m.remove("kind");
            m.remove("apiVersion");
            item
        })
        .collect();
    let mut meta = json!({"resourceVersion": inner.rv.to_string()});
    let next = start + page.len();
    if next < all.len() {
        meta["continue"] = json!(next.to_string());
        meta["remainingItemCount"] = json!(all.len() - next);
    }
    let api_version = if k.group.is_empty() { k.version.to_owned() } else { format!("{}/{}", k.group, k.version) };
    json_response(
        StatusCode::OK,
        &json!({"kind": format!("{}List", k.kind), "apiVersion": api_version, "metadata": meta, "items": page}),
    )
}

fn line(event_type: &str, object: &Value) -> Bytes {
    let mut text = serde_json::to_vec(&json!({"type": event_type, "object": object})).unwrap();
    text.push(b'\n');
    Bytes::from(text)
}

fn watch(st: Arc<Shared>, t: Target, q: &BTreeMap<String, String>) -> Response {
    let k = &KINDS[t.kind];
    let bookmarks = q.get("allowWatchBookmarks").is_some_and(|b| b == "true" || b == "1");
    let timeout = q.get("timeoutSeconds").and_then(|s| s.parse::<u64>().ok()).unwrap_or(1800);
    let from: Option<u64> = q.get("resourceVersion").and_then(|s| s.parse().ok()).filter(|rv| *rv > 0);
    let (tx, rx) = mpsc::channel::<Bytes>(1024);
    let mut inner = st.inner.lock().unwrap();
    let mut first: Vec<Bytes> = Vec::new();
    let mut live = st.events.subscribe();
    let mut ended = false;
    match from {
        Some(rv) if rv < inner.window_start => {
            inner.expired += 1;
            first.push(line(
                "ERROR",
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": format!("too old resource version: {rv} ({})", inner.window_start), "reason": "Expired", "code": 410}),
            ));
            ended = true;
        }
        Some(rv) => {
            for e in inner.history.iter().filter(|e| e.rv > rv && in_scope(&t, e.kind, e.namespace.as_ref())) {
                first.push(line(e.event_type, &e.object));
            }
        }
        None => {
            for ((kind, ns, _), v) in &inner.objects {
                if in_scope(&t, *kind, ns.as_ref()) {
                    first.push(line("ADDED", v));
                }
            }
        }
    }
    let start_rv = inner.rv;
    drop(inner);
    let mut dropped = st.drop_watches.subscribe();
    dropped.mark_unchanged();
    let api_version = if k.group.is_empty() { k.version.to_owned() } else { format!("{}/{}", k.group, k.version) };
    let kind_name = k.kind;
    let st2 = Arc::clone(&st);
    tokio::spawn(async move {
        for b in first {
            if tx.send(b).await.is_err() {
                return;
            }
        }
        if ended {
            return;
        }
        let deadline = tokio::time::sleep(Duration::from_secs(timeout));
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(st2.bookmark_every);
        tick.tick().await;
        loop {
            tokio::select! {
                () = &mut deadline => return,
                _ = dropped.changed() => return,
                ev = live.recv() => match ev {
                    Ok(e) if e.rv > start_rv && in_scope(&t, e.kind, e.namespace.as_ref()) => {
                        if tx.send(line(e.event_type, &e.object)).await.is_err() { return; }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                },
                _ = tick.tick(), if bookmarks => {
                    let rv = st2.inner.lock().unwrap().rv;
                    let obj = json!({"kind": kind_name, "apiVersion": api_version,
                                     "metadata": {"resourceVersion": rv.to_string(), "creationTimestamp": null}});
                    if tx.send(line("BOOKMARK", &obj)).await.is_err() { return; }
                }
            }
        }
    });
    let stream =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx)) });
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], Body::from_stream(stream)).into_response()
}

fn emit(
    inner: &mut Inner,
    events: &broadcast::Sender<WatchEvent>,
    key: &ObjKey,
    event_type: &'static str,
    object: Value,
) {
    let e = WatchEvent { rv: inner.rv, kind: key.0, namespace: key.1.clone(), event_type, object };
    inner.history.push_back(e.clone());
    while inner.history.len() > 10_000 {
        if let Some(old) = inner.history.pop_front() {
            inner.window_start = old.rv;
        }
    }
    let _ = events.send(e);
}

/// Stores `new` in place of `old`, as `manager`: bumps rv (and generation on spec or metadata
/// changes), records managedFields, emits the watch event. Returns the stored object.
fn store(
    inner: &mut Inner,
    events: &broadcast::Sender<WatchEvent>,
    key: ObjKey,
    old: Option<Value>,
    new: Value,
    manager: &str,
    operation: &str,
) -> Value {
    let obj = prepare(inner, &key, old.as_ref(), new, manager, operation);
    if old.as_ref().is_some_and(|o| strip_rv(o) == strip_rv(&obj)) {
        return old.unwrap();
    }
    let mut obj = obj;
    inner.rv += 1;
    obj["metadata"]["resourceVersion"] = json!(inner.rv.to_string());
    inner.objects.insert(key.clone(), obj.clone());
    emit(inner, events, &key, if old.is_some() { "MODIFIED" } else { "ADDED" }, obj.clone());
    obj
}

fn strip_rv(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v["metadata"].as_object_mut() {
        m.remove("resourceVersion");
    }
    v
}

/// The object as it would be stored, without storing it (used by dry runs too).
fn prepare(
    inner: &mut Inner,
    key: &ObjKey,
    old: Option<&Value>,
    mut obj: Value,
    manager: &str,
    operation: &str,
) -> Value {
    let k = &KINDS[key.0];
    if let Some(m) = inner.mutator {
        m(&mut obj);
    }
    let api_version = if k.group.is_empty() { k.version.to_owned() } else { format!("{}/{}", k.group, k.version) };
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(k.kind);
    if let Some(ns) = &key.1 {
        obj["metadata"]["namespace"] = json!(ns);
    }
    let t = now(inner);
    let meta = obj["metadata"].as_object_mut().unwrap();
    if let Some(o) = old {
        for f in ["uid", "creationTimestamp", "generation"] {
            if let Some(v) = o["metadata"].get(f) {
                meta.insert(f.into(), v.clone());
            }
        }
        if !meta.contains_key("managedFields") || operation == "Apply" {
            meta.insert("managedFields".into(), o["metadata"]["managedFields"].clone());
        }
    } else {
        inner.uid += 1;
        meta.insert("uid".into(), json!(format!("00000000-0000-4000-8000-{:012}", inner.uid)));
        meta.insert("creationTimestamp".into(), json!(t));
        meta.insert("generation".into(), json!(1));
        meta.remove("managedFields");
    }
    meta.remove("resourceVersion");
    // generation follows spec (and, for Deployments, metadata) changes
    if let Some(o) = old {
        let changed = o.get("spec") != obj.get("spec")
            || (k.kind == "Deployment" && o["metadata"]["annotations"] != obj["metadata"]["annotations"]);
        if changed {
            let g = o["metadata"]["generation"].as_i64().unwrap_or(1) + 1;
            obj["metadata"]["generation"] = json!(g);
        }
    }
    let changed_paths = match old {
        Some(o) => changed_leaves(o, &obj),
        None => leaves(&obj),
    };
    if operation != "Apply" {
        record_manager(&mut obj, manager, "Update", &changed_paths, &t, false);
    }
    obj
}

type FieldPath = Vec<String>;

fn item_id(item: &Value) -> Option<String> {
    let o = item.as_object()?;
    for keys in
        [&["name"][..], &["containerPort", "protocol"], &["port", "protocol"], &["mountPath"], &["key"], &["ip"]]
    {
        if keys.iter().all(|k| o.contains_key(*k) || *k == "protocol") && o.contains_key(keys[0]) {
            let mut m = Map::new();
            for k in keys {
                let v = o.get(*k).cloned().unwrap_or(json!("TCP"));
                m.insert((*k).to_owned(), v);
            }
            return Some(format!("k:{}", Value::Object(m)));
        }
    }
    None
}

/// Leaf field paths of an object, in fieldsV1 notation, without the fields the server owns.
fn leaves(v: &Value) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    walk(v, &mut Vec::new(), &mut out);
    out.retain(|p| {
        !(p.first().is_some_and(|f| f == "f:status" || f == "f:apiVersion" || f == "f:kind")
            || (p.first().is_some_and(|f| f == "f:metadata")
                && p.get(1).is_some_and(|f| {
                    [
                        "f:uid",
                        "f:resourceVersion",
                        "f:generation",
                        "f:creationTimestamp",
                        "f:managedFields",
                        "f:name",
                        "f:namespace",
                    ]
                    .contains(&f.as_str())
                })))
    });
    out
}

fn walk(v: &Value, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                path.push(format!("f:{k}"));
                walk(child, path, out);
                path.pop();
            }
        }
        Value::Array(items) if !items.is_empty() && items.iter().all(|i| item_id(i).is_some()) => {
            for item in items {
                path.push(item_id(item).unwrap());
                walk(item, path, out);
                path.pop();
            }
        }
        _ => {
            out.insert(path.clone());
        }
    }
}

fn changed_leaves(old: &Value, new: &Value) -> BTreeSet<FieldPath> {
    let before = leaves(old);
    let after = leaves(new);
    after.into_iter().filter(|p| !before.contains(p) || value_at(old, p) != value_at(new, p)).collect()
}

fn parse_fields(v: &Value, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
    if let Some(m) = v.as_object() {
        let children: Vec<_> = m.iter().filter(|(k, _)| k.as_str() != ".").collect();
        if children.is_empty() {
            out.insert(path.clone());
        }
        for (k, child) in children {
            path.push(k.clone());
            parse_fields(child, path, out);
            path.pop();
        }
    }
}

fn render_fields(paths: &BTreeSet<FieldPath>) -> Value {
    let mut root = Map::new();
    for p in paths {
        let mut cur = &mut root;
        for (i, seg) in p.iter().enumerate() {
            let entry = cur.entry(seg.clone()).or_insert_with(|| json!({}));
            let m = entry.as_object_mut().unwrap();
            if i + 1 < p.len() && (seg.starts_with("k:") || p[i + 1].starts_with("k:")) && !m.contains_key(".") {
                m.insert(".".into(), json!({}));
            }
            cur = m;
        }
    }
    Value::Object(root)
}

/// Gives `paths` to `manager` (an entry with `operation`), taking them from every other
/// manager; with `replace`, the manager's set becomes exactly `paths` (server-side apply).
fn record_manager(
    obj: &mut Value,
    manager: &str,
    operation: &str,
    paths: &BTreeSet<FieldPath>,
    time: &str,
    replace: bool,
) {
    if paths.is_empty() && !replace {
        return;
    }
    let entries = obj["metadata"]["managedFields"].as_array().cloned().unwrap_or_default();
    let mut out = Vec::new();
    let mut mine: BTreeSet<FieldPath> = BTreeSet::new();
    for e in entries {
        let mut set = BTreeSet::new();
        parse_fields(&e["fieldsV1"], &mut Vec::new(), &mut set);
        if e["manager"] == manager && e["operation"] == operation {
            if !replace {
                mine = set;
            }
            continue;
        }
        set.retain(|p| !paths.contains(p));
        if set.is_empty() {
            continue;
        }
        let mut e = e.clone();
        e["fieldsV1"] = render_fields(&set);
        out.push(e);
    }
    mine.extend(paths.iter().cloned());
    let api_version = obj["apiVersion"].clone();
    out.push(json!({"manager": manager, "operation": operation, "apiVersion": api_version, "time": time,
                    "fieldsType": "FieldsV1", "fieldsV1": render_fields(&mine)}));
    obj["metadata"]["managedFields"] = Value::Array(out);
}

fn delete(inner: &mut Inner, events: &broadcast::Sender<WatchEvent>, key: &ObjKey) -> Option<Value> {
    let mut old = inner.objects.remove(key)?;
    inner.rv += 1;
    old["metadata"]["resourceVersion"] = json!(inner.rv.to_string());
    emit(inner, events, key, "DELETED", old.clone());
    Some(old)
}

/// RFC 7386 merge, with strategic merge's by-name merge of keyed lists when `strategic`.
fn merge(target: &mut Value, patch: &Value, strategic: bool) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v, strategic);
                }
            }
        }
        (Value::Array(t), Value::Array(p)) if strategic && p.iter().all(|i| item_id(i).is_some()) => {
            for item in p {
                let id = item_id(item);
                match t.iter_mut().find(|x| item_id(x) == id) {
                    Some(existing) => merge(existing, item, true),
                    None => t.push(item.clone()),
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

fn patch(
    st: &Shared,
    t: &Target,
    headers: &HeaderMap,
    body: &[u8],
    manager: &str,
    q: &BTreeMap<String, String>,
    dry_run: bool,
) -> Response {
    let k = &KINDS[t.kind];
    let name = t.name.clone().unwrap();
    let ctype = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let mut inner = st.inner.lock().unwrap();
    let key = (t.kind, t.namespace.clone(), name.clone());
    let old = inner.objects.get(&key).cloned();
    if ctype.starts_with("application/apply-patch") {
        if !q.contains_key("fieldManager") {
            return status(
                422,
                "Invalid",
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
                    .into(),
                json!({"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [{"reason": "FieldValueRequired", "message": "Required value: is required for apply patch", "field": "fieldManager"}]}),
            );
        }
        let text = String::from_utf8_lossy(body);
        let Ok(applied) = serde_saphyr::from_str::<Value>(&text) else {
            return status(400, "BadRequest", "invalid apply body".into(), Value::Null);
        };
        let force = q.get("force").is_some_and(|f| f == "true");
        let applied_paths = leaves(&applied);
        let time = now(&inner);
        let mut obj = match &old {
            Some(o) => {
                if !force {
                    let conflicts = conflicts(o, &applied, &applied_paths, manager);
                    if !conflicts.is_empty() {
                        let causes: Vec<Value> = conflicts
                            .iter()
                            .map(|(m, p)| json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{m}\""), "field": p}))
                            .collect();
                        return status(
                            409,
                            "Conflict",
                            format!("Apply failed with {} conflict(s)", conflicts.len()),
                            json!({"name": name, "group": k.group, "kind": k.plural, "causes": causes}),
                        );
                    }
                }
                let mut merged = o.clone();
                merge(&mut merged, &applied, true);
                merged
            }
            None => applied.clone(),
        };
        obj = prepare(&mut inner, &key, old.as_ref(), obj, manager, "Apply");
        record_manager(&mut obj, manager, "Apply", &applied_paths, &time, true);
        if dry_run {
            if let Some(o) = &old {
                obj["metadata"]["resourceVersion"] = o["metadata"]["resourceVersion"].clone();
            }
            return json_response(if old.is_some() { StatusCode::OK } else { StatusCode::CREATED }, &obj);
        }
        let created = old.is_none();
        let out = store_prepared(&mut inner, &st.events, key, old, obj);
        return json_response(if created { StatusCode::CREATED } else { StatusCode::OK }, &out);
    }
    let Some(o) = old else { return not_found(k, &name) };
    let Ok(p) = serde_json::from_slice::<Value>(body) else {
        return status(400, "BadRequest", "invalid patch".into(), Value::Null);
    };
    let mut obj = o.clone();
    if ctype.starts_with("application/json-patch+json") {
        let Ok(ops) = serde_json::from_value::<json_patch::Patch>(p) else {
            return status(400, "BadRequest", "invalid json patch".into(), Value::Null);
        };
        if json_patch::patch(&mut obj, &ops).is_err() {
            return status(
                422,
                "Invalid",
                "the server rejected our request due to an error in our request".into(),
                json!({}),
            );
        }
    } else {
        merge(&mut obj, &p, ctype.starts_with("application/strategic-merge-patch"));
    }
    if let Some(rv) = p_rv(body)
        && rv != o["metadata"]["resourceVersion"].as_str().unwrap_or_default()
    {
        return conflict(k, &name);
    }
    if dry_run {
        let out = prepare(&mut inner, &key, Some(&o), obj, manager, "Update");
        return json_response(StatusCode::OK, &out);
    }
    let out = store(&mut inner, &st.events, key, Some(o), obj, manager, "Update");
    json_response(StatusCode::OK, &out)
}

/// A resourceVersion precondition in a merge patch body.
fn p_rv(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get("metadata")?.get("resourceVersion")?.as_str().map(str::to_owned)
}

fn store_prepared(
    inner: &mut Inner,
    events: &broadcast::Sender<WatchEvent>,
    key: ObjKey,
    old: Option<Value>,
    mut obj: Value,
) -> Value {
    if let Some(o) = &old
        && strip_rv(o) == strip_rv(&obj)
    {
        return o.clone();
    }
    inner.rv += 1;
    obj["metadata"]["resourceVersion"] = json!(inner.rv.to_string());
    inner.objects.insert(key.clone(), obj.clone());
    emit(inner, events, &key, if old.is_some() { "MODIFIED" } else { "ADDED" }, obj.clone());
    obj
}

/// Fields `applied` would change that another manager owns.
fn conflicts(live: &Value, applied: &Value, paths: &BTreeSet<FieldPath>, manager: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let live_leaves = leaves(live);
    for e in live["metadata"]["managedFields"].as_array().into_iter().flatten() {
        if e["manager"] == manager {
            continue;
        }
        let mut owned = BTreeSet::new();
        parse_fields(&e["fieldsV1"], &mut Vec::new(), &mut owned);
        for p in paths.intersection(&owned) {
            if live_leaves.contains(p) && value_at(live, p) != value_at(applied, p) {
                out.push((e["manager"].as_str().unwrap_or_default().to_owned(), readable(p)));
            }
        }
    }
    out
}

fn value_at(obj: &Value, p: &FieldPath) -> Option<Value> {
    let mut cur = obj;
    for seg in p {
        cur = if let Some(f) = seg.strip_prefix("f:") {
            cur.get(f)?
        } else {
            cur.as_array()?.iter().find(|i| item_id(i).as_deref() == Some(seg))?
        };
    }
    Some(cur.clone())
}

fn readable(p: &FieldPath) -> String {
    p.iter().map(|s| s.strip_prefix("f:").map_or_else(|| format!("[{}]", &s[2..]), |f| format!(".{f}"))).collect()
}

/// The audience of the fake's tokens, the API server's own.
const AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";

/// TokenReview and SubjectAccessReview: `None` for any other path.
fn access_review(st: &Shared, method: &Method, path: &str, body: &[u8]) -> Option<Response> {
    let (group, plural, kind) = match path.trim_end_matches('/') {
        "/apis/authentication.k8s.io/v1/tokenreviews" => ("authentication.k8s.io", "tokenreviews", "TokenReview"),
        "/apis/authorization.k8s.io/v1/subjectaccessreviews" => {
            ("authorization.k8s.io", "subjectaccessreviews", "SubjectAccessReview")
        }
        _ => return None,
    };
    if method != Method::POST {
        let message = "the server does not allow this method on the requested resource".to_owned();
        return Some(status(405, "MethodNotAllowed", message, json!({})));
    }
    let inner = st.inner.lock().unwrap();
    if inner.forbidden.contains(plural) {
        let message = format!(
            "{plural}.{group} is forbidden: User \"system:serviceaccount:driftgate:driftgate\" cannot create resource \"{plural}\" in API group \"{group}\" at the cluster scope"
        );
        return Some(status(403, "Forbidden", message, json!({"group": group, "kind": plural})));
    }
    let Ok(review) = serde_json::from_slice::<Value>(body) else {
        return Some(status(400, "BadRequest", "invalid body".into(), Value::Null));
    };
    let api_version = format!("{group}/v1");
    if review["apiVersion"] != api_version.as_str() || review["kind"] != kind {
        let message = format!(
            "the API version in the data ({}) does not match the expected API version ({api_version})",
            review["apiVersion"].as_str().unwrap_or_default()
        );
        return Some(status(400, "BadRequest", message, Value::Null));
    }
    let spec = review["spec"].clone();
    let answer = if kind == "TokenReview" {
        let token = spec["token"].as_str().unwrap_or_default();
        if token.is_empty() {
            return Some(status(
                400,
                "BadRequest",
                "token is required for TokenReview in authentication".into(),
                Value::Null,
            ));
        }
        let audiences: Vec<&str> =
            spec["audiences"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        match inner.tokens.get(token) {
            Some(_) if !audiences.is_empty() && !audiences.contains(&AUDIENCE) => json!({"user": {},
                "error": "[invalid bearer token, token audiences [\"https://kubernetes.default.svc.cluster.local\"] is invalid for the target audiences]"}),
            Some(user) => json!({"authenticated": true, "user": user, "audiences": [AUDIENCE]}),
            None => json!({"user": {}, "error": "[invalid bearer token, token lookup failed]"}),
        }
    } else {
        let (resource, non_resource) = (spec.get("resourceAttributes"), spec.get("nonResourceAttributes"));
        if resource.is_some() == non_resource.is_some() {
            let message = format!(
                "SubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: {}: exactly one of nonResourceAttributes or resourceAttributes must be specified",
                resource.cloned().unwrap_or(Value::Null)
            );
            return Some(status(422, "Invalid", message, json!({"group": group, "kind": kind})));
        }
        let user = spec["user"].as_str().unwrap_or_default();
        let groups: Vec<&str> = spec["groups"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        if user.is_empty() && groups.is_empty() {
            let message = "SubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.user: Invalid value: \"\": at least one of user or group must be specified".to_owned();
            return Some(status(422, "Invalid", message, json!({"group": group, "kind": kind})));
        }
        let matching = resource.and_then(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            let mut res = text("resource");
            if !text("subresource").is_empty() {
                res = format!("{res}/{}", text("subresource"));
            }
            let (api_group, verb, name) = (text("group"), text("verb"), text("name"));
            inner.grants.iter().find(|g| {
                let subject = match &g.subject {
                    Subject::User(u) => u == user,
                    Subject::Group(x) => groups.contains(&x.as_str()),
                };
                let any = |rule: &str, asked: &str| rule == "*" || rule == asked;
                subject
                    && any(&g.api_group, &api_group)
                    && any(&g.resource, &res)
                    && any(&g.verb, &verb)
                    && (g.names.is_empty() || (!name.is_empty() && g.names.contains(&name)))
            })
        });
        if groups.contains(&"system:masters") {
            json!({"allowed": true})
        } else if let Some(g) = matching {
            let to = match &g.subject {
                Subject::User(u) => format!("User \"{u}\""),
                Subject::Group(x) => format!("Group \"{x}\""),
            };
            json!({"allowed": true,
                   "reason": format!("RBAC: allowed by ClusterRoleBinding \"{}\" of ClusterRole \"{}\" to {to}", g.name, g.name)})
        } else {
            json!({"allowed": false})
        }
    };
    Some(json_response(
        StatusCode::CREATED,
        &json!({"kind": kind, "apiVersion": api_version, "metadata": {"creationTimestamp": null},
                "spec": spec, "status": answer}),
    ))
}
