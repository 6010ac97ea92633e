//! The configuration file: one typed YAML document, validated once at start-up.
//!
//! Unknown keys are errors that name the key and its line. Relative paths resolve against the
//! folder that holds the config file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};
use thiserror::Error;

use crate::diff::ignore::{IgnoreRuleSpec, Rule, RuleError};

/// The only `apiVersion` this build reads.
pub const API_VERSION: &str = "driftgate.dev/v1alpha1";

/// Field managers that are always reconcilers: Argo CD (SSA and client-side), Flux, driftgate.
pub const DEFAULT_FIELD_MANAGERS: &[&str] =
    &["argocd-controller", "argocd-application-controller", "kustomize-controller", "helm-controller", "driftgate"];

/// Why the config could not be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The config path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is invalid or does not fit the schema; the message names the key and line.
    #[error("{}: {message}", path.display())]
    Parse {
        /// The config path.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// The document parsed but a value is not allowed.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The config path.
        path: PathBuf,
        /// What is wrong, naming the key.
        message: String,
    },
    /// An ignore rule does not compile.
    #[error("{}: {source}", path.display())]
    Rule {
        /// The config path.
        path: PathBuf,
        /// The rule error, naming the rule.
        #[source]
        source: RuleError,
    },
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Must be `driftgate.dev/v1alpha1`.
    pub api_version: String,
    /// Must be `Config`.
    pub kind: String,
    /// Where the desired state comes from.
    #[serde(default)]
    pub sources: Vec<Source>,
    /// System-wide ignore rules, unioned with each source's own (like `argocd-cm`).
    #[serde(default)]
    pub ignore_differences: Vec<IgnoreRuleSpec>,
    /// The budget of every `jqPathExpressions` evaluation.
    #[serde(default)]
    pub jq: Jq,
    /// Who counts as a reconciler.
    #[serde(default)]
    pub reconcilers: Reconcilers,
    /// Which ownership markers make an object managed when no source declares it.
    #[serde(default)]
    pub ownership: Ownership,
    /// The admission webhook.
    #[serde(default)]
    pub admission: Admission,
    /// The self-heal applier.
    #[serde(default)]
    pub self_heal: SelfHeal,
    /// The audit event stream.
    #[serde(default)]
    pub audit: Audit,
    /// Traces, metrics and logs.
    #[serde(default)]
    pub telemetry: Telemetry,
    /// Who may read the HTTP APIs (docs/detector.md, Access).
    #[serde(default)]
    pub server: Server,
}

/// What one jq evaluation (one rule's expression on one object) may spend; over it, the rule
/// selects nothing and says so.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Jq {
    /// Wall-clock time, like Argo CD's `ignore.normalizer.jq.timeout`.
    #[serde(default = "default_jq_timeout", deserialize_with = "duration", serialize_with = "ser_duration")]
    pub timeout: Duration,
    /// Turns of the recursive generators (`repeat`, `recurse`, `..`, `while`, `until`, `range`):
    /// bounds the work and so the memory of one evaluation.
    #[serde(default = "default_jq_max_steps")]
    pub max_steps: u64,
    /// Paths one expression may select in one object.
    #[serde(default = "default_jq_max_paths")]
    pub max_paths: usize,
}

impl Default for Jq {
    fn default() -> Self {
        let b = crate::diff::jq::Budget::default();
        Self { timeout: b.timeout, max_steps: b.max_steps, max_paths: b.max_paths }
    }
}

impl Jq {
    /// As the diff's budget.
    pub fn budget(&self) -> crate::diff::jq::Budget {
        crate::diff::jq::Budget { timeout: self.timeout, max_steps: self.max_steps, max_paths: self.max_paths }
    }
}

fn default_jq_timeout() -> Duration {
    crate::diff::jq::Budget::default().timeout
}

fn default_jq_max_steps() -> u64 {
    crate::diff::jq::Budget::default().max_steps
}

fn default_jq_max_paths() -> usize {
    crate::diff::jq::Budget::default().max_paths
}

/// One source of desired state.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Source {
    /// A unique name.
    pub name: String,
    /// A local folder, or with `git`, a folder inside the repository.
    pub path: PathBuf,
    /// Read the path from a Git repository.
    #[serde(default)]
    pub git: Option<GitSource>,
    /// Default namespace for namespaced objects that have none.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Overrides `admission.mode` for this source's objects.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// This source's own ignore rules.
    #[serde(default)]
    pub ignore_differences: Vec<IgnoreRuleSpec>,
    /// The GitOps identity that reconciles this source (an Argo CD Application, a Flux
    /// Kustomization or HelmRelease). With it, objects that carry its marker and that Git no
    /// longer declares are Extra, and pending sync is left to that reconciler; without it,
    /// nothing undeclared is reported and driftgate itself is the reconciler.
    #[serde(default)]
    pub owner: Option<crate::model::ownership::Owner>,
}

/// A Git repository to read a source from. `Debug` masks the URL's credentials.
#[derive(Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GitSource {
    /// Clone URL or local path.
    pub url: String,
    /// Branch, tag or commit.
    #[serde(default = "default_revision")]
    pub revision: String,
    /// How often to poll for a new commit.
    #[serde(default, deserialize_with = "opt_duration", serialize_with = "ser_opt_duration")]
    pub interval: Option<Duration>,
    /// Environment variable holding an HTTPS token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// File holding an HTTPS token.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
}

impl std::fmt::Debug for GitSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // a token may sit in the URL's userinfo; tokenEnv and tokenFile are names, not tokens
        f.debug_struct("GitSource")
            .field("url", &crate::redact::url(&self.url))
            .field("revision", &self.revision)
            .field("interval", &self.interval)
            .field("token_env", &self.token_env)
            .field("token_file", &self.token_file)
            .finish()
    }
}

fn default_revision() -> String {
    "HEAD".into()
}

/// The reconcilers' usernames when the config names none: Argo CD's application controller,
/// Flux's kustomize- and helm-controller, each in its usual namespace, and driftgate's own
/// ServiceAccount as deploy/ installs it.
pub const DEFAULT_USERNAMES: &[&str] = &[
    "system:serviceaccount:argocd:argocd-application-controller",
    "system:serviceaccount:flux-system:kustomize-controller",
    "system:serviceaccount:flux-system:helm-controller",
    "system:serviceaccount:driftgate-system:driftgate",
];

fn default_usernames() -> Vec<String> {
    DEFAULT_USERNAMES.iter().map(|s| (*s).to_owned()).collect()
}

/// Reconciler identities: admission sees usernames and groups, managedFields shows managers.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Reconcilers {
    /// Usernames, e.g. `system:serviceaccount:argocd:argocd-application-controller`; a list here
    /// replaces [`DEFAULT_USERNAMES`]. Only `userInfo` says who asks: identity is never taken from
    /// a request's field manager.
    #[serde(default = "default_usernames")]
    pub usernames: Vec<String>,
    /// Groups whose members are reconcilers.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Field managers in addition to [`DEFAULT_FIELD_MANAGERS`].
    #[serde(default)]
    pub field_managers: Vec<String>,
}

impl Default for Reconcilers {
    fn default() -> Self {
        Self { usernames: default_usernames(), groups: Vec::new(), field_managers: Vec::new() }
    }
}

impl Reconcilers {
    /// The configured field managers plus the defaults.
    pub fn all_field_managers(&self) -> Vec<String> {
        let mut all: Vec<String> = DEFAULT_FIELD_MANAGERS.iter().map(|s| (*s).to_owned()).collect();
        for m in &self.field_managers {
            if !all.contains(m) {
                all.push(m.clone());
            }
        }
        all
    }
}

/// Ownership markers that count without a source.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ownership {
    /// Count Argo CD's legacy `app.kubernetes.io/instance` label (off: Helm sets it everywhere).
    #[serde(default)]
    pub instance_label: bool,
}

/// What a violation gets.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Deny with 403.
    #[default]
    Enforce,
    /// Allow with warnings and audit annotations.
    Warn,
    /// Allow; write an audit event only.
    Audit,
}

/// What the webhook answers before the desired state has loaded.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum FailurePolicy {
    /// Deny.
    #[default]
    Closed,
    /// Allow.
    Open,
}

/// Admission webhook settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Admission {
    /// The global mode.
    #[serde(default)]
    pub mode: Mode,
    /// While the desired state is not loaded.
    #[serde(default)]
    pub failure_policy: FailurePolicy,
    /// Who may break glass.
    #[serde(default)]
    pub break_glass: BreakGlass,
    /// Admit (audited) a change that only sets `kubectl.kubernetes.io/restartedAt` on a pod
    /// template (`kubectl rollout restart`, Argo CD's restart action), and leave that annotation
    /// out of drift. On by default.
    #[serde(default = "yes")]
    pub allow_rollout_restart: bool,
    /// `serve` keeps the ValidatingWebhookConfiguration `webhook.configurationName` matching what
    /// the sources declare, as Git changes (it patches only that object). Off by default.
    #[serde(default)]
    pub manage_webhook_configuration: bool,
    /// The ValidatingWebhookConfiguration that `driftgate webhook-config` prints and `serve`
    /// manages.
    #[serde(default)]
    pub webhook: Webhook,
    /// Where `serve` keeps the last set of managed objects it knew, so that before Git loads
    /// after a restart it still refuses changes to them. Unset: nothing is kept.
    #[serde(default)]
    pub managed_snapshot: Option<PathBuf>,
}

/// The API server's side of the webhook: what the generated configuration says.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Webhook {
    /// The ValidatingWebhookConfiguration's name.
    #[serde(default = "default_webhook_name")]
    pub configuration_name: String,
    /// The Service the API server calls.
    #[serde(default)]
    pub service: WebhookService,
    /// What the API server does when no replica answers, per webhook entry.
    #[serde(default)]
    pub failure_policy: WebhookFailurePolicies,
    /// How long the API server waits for an answer (1 to 30).
    #[serde(default = "default_webhook_timeout")]
    pub timeout_seconds: u8,
    /// Namespaces never sent to driftgate, beside `kube-system`, `kube-public`, `kube-node-lease`
    /// and the Service's own namespace, which are never sent in any case.
    #[serde(default)]
    pub exclude_namespaces: Vec<String>,
}

impl Default for Webhook {
    fn default() -> Self {
        Self {
            configuration_name: default_webhook_name(),
            service: WebhookService::default(),
            failure_policy: WebhookFailurePolicies::default(),
            timeout_seconds: default_webhook_timeout(),
            exclude_namespaces: Vec::new(),
        }
    }
}

fn default_webhook_name() -> String {
    "driftgate".into()
}

fn default_webhook_timeout() -> u8 {
    5
}

/// The webhook Service, as deploy/ installs it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookService {
    /// Its name.
    #[serde(default = "default_webhook_name")]
    pub name: String,
    /// Its namespace: driftgate's own, never sent to the webhook.
    #[serde(default = "default_webhook_namespace")]
    pub namespace: String,
    /// The path of the review endpoint.
    #[serde(default = "default_webhook_path")]
    pub path: String,
    /// The Service port.
    #[serde(default = "default_webhook_port")]
    pub port: u16,
}

impl Default for WebhookService {
    fn default() -> Self {
        Self {
            name: default_webhook_name(),
            namespace: default_webhook_namespace(),
            path: default_webhook_path(),
            port: default_webhook_port(),
        }
    }
}

fn default_webhook_namespace() -> String {
    "driftgate-system".into()
}

fn default_webhook_path() -> String {
    "/validate".into()
}

fn default_webhook_port() -> u16 {
    443
}

/// The API server's failure policy for each webhook entry.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookFailurePolicies {
    /// The entry for declared namespaced objects.
    #[serde(default)]
    pub namespaced: WebhookFailurePolicy,
    /// The entry for declared cluster-scoped objects (Namespaces, ClusterRoles, CRDs, ...).
    #[serde(default)]
    pub cluster: WebhookFailurePolicy,
}

impl Default for WebhookFailurePolicies {
    fn default() -> Self {
        Self { namespaced: WebhookFailurePolicy::Fail, cluster: WebhookFailurePolicy::Fail }
    }
}

/// `failurePolicy` of a webhook entry, as the API spells it.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
pub enum WebhookFailurePolicy {
    /// Refuse the request when driftgate cannot be reached.
    #[default]
    Fail,
    /// Let the request through unchecked.
    Ignore,
}

fn yes() -> bool {
    true
}

impl Default for Admission {
    fn default() -> Self {
        Self {
            mode: Mode::default(),
            failure_policy: FailurePolicy::default(),
            break_glass: BreakGlass::default(),
            allow_rollout_restart: true,
            manage_webhook_configuration: false,
            webhook: Webhook::default(),
            managed_snapshot: None,
        }
    }
}

/// Break-glass settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BreakGlass {
    /// Groups whose members may set `driftgate.dev/break-glass`.
    #[serde(default)]
    pub groups: Vec<String>,
    /// How far ahead `driftgate.dev/break-glass-until` may be: a grant always expires.
    #[serde(default = "default_break_glass_max", deserialize_with = "duration", serialize_with = "ser_duration")]
    pub max_duration: Duration,
}

impl Default for BreakGlass {
    fn default() -> Self {
        Self { groups: Vec::new(), max_duration: default_break_glass_max() }
    }
}

fn default_break_glass_max() -> Duration {
    Duration::from_secs(24 * 3600)
}

/// Self-heal settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelfHeal {
    /// Revert drift.
    #[serde(default)]
    pub enabled: bool,
    /// Report what would be done, change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Retry, in Argo CD's schema.
    #[serde(default)]
    pub retry: Retry,
    /// Delete Extra objects (marked as managed, no longer in Git); off by default, as in Argo CD.
    #[serde(default)]
    pub prune: bool,
    /// Reverts of one object's field within `flapWindow` that quarantine it.
    #[serde(default = "default_flap_threshold")]
    pub flap_threshold: usize,
    /// The window of `flapThreshold`.
    #[serde(default = "default_flap_window", deserialize_with = "duration", serialize_with = "ser_duration")]
    pub flap_window: Duration,
}

impl Default for SelfHeal {
    fn default() -> Self {
        Self {
            enabled: false,
            dry_run: false,
            retry: Retry::default(),
            prune: false,
            flap_threshold: default_flap_threshold(),
            flap_window: default_flap_window(),
        }
    }
}

fn default_flap_threshold() -> usize {
    3
}

fn default_flap_window() -> Duration {
    Duration::from_secs(600)
}

/// Argo CD's retry schema.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Retry {
    /// Attempts: 0 none, -1 unlimited.
    #[serde(default = "default_limit")]
    pub limit: i64,
    /// Backoff between attempts.
    #[serde(default)]
    pub backoff: Backoff,
}

impl Default for Retry {
    fn default() -> Self {
        Self { limit: default_limit(), backoff: Backoff::default() }
    }
}

fn default_limit() -> i64 {
    5
}

/// Exponential backoff.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Backoff {
    /// First delay.
    #[serde(default = "default_duration", deserialize_with = "duration", serialize_with = "ser_duration")]
    pub duration: Duration,
    /// Growth factor.
    #[serde(default = "default_factor")]
    pub factor: f64,
    /// Largest delay.
    #[serde(default = "default_max_duration", deserialize_with = "duration", serialize_with = "ser_duration")]
    pub max_duration: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { duration: default_duration(), factor: default_factor(), max_duration: default_max_duration() }
    }
}

fn default_duration() -> Duration {
    Duration::from_secs(5)
}
fn default_factor() -> f64 {
    2.0
}
fn default_max_duration() -> Duration {
    Duration::from_secs(180)
}

/// Audit settings.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Audit {
    /// Where events go; none means stdout.
    #[serde(default)]
    pub sinks: Vec<Sink>,
}

/// Kinds of audit sink.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum SinkType {
    /// JSON lines on stdout.
    Stdout,
    /// JSON lines appended to a file.
    File,
    /// POSTed to an HTTP endpoint, spooled on disk while it is down.
    Http,
    /// Kubernetes Events on the object.
    KubernetesEvents,
}

/// When the file sink forces its writes to disk.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub enum Fsync {
    /// After every write batch (group commit): under load, events share one fsync.
    Always,
    /// Every `fsyncInterval`: a crash of the machine can lose at most that window.
    #[default]
    Batch,
    /// Never: the kernel decides.
    Never,
}

/// One audit sink.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sink {
    /// The kind of sink.
    #[serde(rename = "type")]
    pub sink_type: SinkType,
    /// For `file`: the file.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// For `file`: when writes are forced to disk.
    #[serde(default)]
    pub fsync: Fsync,
    /// For `file` with `fsync: batch`: the longest time an event waits for its fsync.
    #[serde(default = "default_fsync_interval", deserialize_with = "duration", serialize_with = "ser_duration")]
    pub fsync_interval: Duration,
    /// For `file`: the size at which the file is rotated to `PATH.1`.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// For `file`: rotated files kept (`PATH.1` .. `PATH.N`).
    #[serde(default = "default_max_files")]
    pub max_files: usize,
    /// For `http`: the endpoint.
    #[serde(default)]
    pub url: Option<String>,
    /// For `http`: the spool folder, where events wait until the endpoint has them.
    #[serde(default)]
    pub spool_dir: Option<PathBuf>,
    /// For `http`: the spool's size limit; beyond it new events wait in memory for delivery to make room.
    #[serde(default = "default_max_spool_bytes")]
    pub max_spool_bytes: u64,
    /// For `http`: events per POST.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// For `http`: the limit of one POST.
    #[serde(default = "default_http_timeout", deserialize_with = "duration", serialize_with = "ser_duration")]
    pub timeout: Duration,
    /// For `http`: a PEM CA bundle that signs the endpoint's certificate (besides the system roots).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// For `http`: a file holding a bearer token, re-read for every POST so a rotated token is used.
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    /// For `kubernetesEvents`: Events written per second, on average.
    #[serde(default = "default_events_qps")]
    pub qps: f64,
    /// For `kubernetesEvents`: Events written at once before `qps` applies.
    #[serde(default = "default_events_burst")]
    pub burst: u32,
    /// For `kubernetesEvents`: repeats of one event within this window update its count.
    #[serde(default = "default_aggregate_window", deserialize_with = "duration", serialize_with = "ser_duration")]
    pub aggregate_window: Duration,
}

impl Sink {
    /// A sink of `sink_type` with every option at its default.
    pub fn new(sink_type: SinkType) -> Self {
        Self {
            sink_type,
            path: None,
            fsync: Fsync::default(),
            fsync_interval: default_fsync_interval(),
            max_bytes: default_max_bytes(),
            max_files: default_max_files(),
            url: None,
            spool_dir: None,
            max_spool_bytes: default_max_spool_bytes(),
            batch_size: default_batch_size(),
            timeout: default_http_timeout(),
            ca_file: None,
            bearer_token_file: None,
            qps: default_events_qps(),
            burst: default_events_burst(),
            aggregate_window: default_aggregate_window(),
        }
    }
}

fn default_fsync_interval() -> Duration {
    Duration::from_millis(200)
}

fn default_max_bytes() -> u64 {
    100 * 1024 * 1024
}

fn default_max_files() -> usize {
    5
}

fn default_max_spool_bytes() -> u64 {
    256 * 1024 * 1024
}

fn default_batch_size() -> usize {
    100
}

fn default_http_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_events_qps() -> f64 {
    1.0
}

fn default_events_burst() -> u32 {
    25
}

fn default_aggregate_window() -> Duration {
    Duration::from_secs(600)
}

/// Telemetry settings.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Telemetry {
    /// OTLP endpoint for traces. Without it, the standard `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
    /// or `OTEL_EXPORTER_OTLP_ENDPOINT`; with none, traces are not exported.
    #[serde(default)]
    pub otlp_endpoint: Option<String>,
    /// `grpc` or `http/protobuf`; without it, `OTEL_EXPORTER_OTLP_PROTOCOL`, else `grpc`.
    #[serde(default)]
    pub otlp_protocol: Option<OtlpProtocol>,
    /// The `service.name` resource attribute; without it, `OTEL_SERVICE_NAME`, else `driftgate`.
    #[serde(default)]
    pub service_name: Option<String>,
}

/// Access to the HTTP APIs: `/api/v1/*` (and, with `metricsAuth`, `/metrics`) need a
/// Kubernetes bearer token allowed by a SubjectAccessReview on `driftgate.dev` resources.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Server {
    /// `kubernetes` (the default) or `none`, which serves the APIs to anyone (local development).
    #[serde(default)]
    pub auth: ApiAuth,
    /// Puts `/metrics` behind the same check (`get` on `metrics.driftgate.dev`).
    #[serde(default)]
    pub metrics_auth: bool,
}

/// How API readers are authenticated.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ApiAuth {
    /// TokenReview and SubjectAccessReview against the cluster the detector watches.
    #[default]
    Kubernetes,
    /// No check at all: whoever reaches the port reads everything.
    None,
}

/// OTLP transports.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// OTLP over gRPC (port 4317 by convention).
    #[serde(rename = "grpc")]
    Grpc,
    /// OTLP over HTTP with protobuf bodies (port 4318, path `/v1/traces`).
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
}

/// Parses a Go-style duration: `500ms`, `5s`, `1m`, `1h30m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {s:?} (use e.g. 500ms, 5s, 1m, 1h30m)");
    let mut total = Duration::ZERO;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
        let n: f64 = rest[..num_end].parse().map_err(|_| bad())?;
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let secs = match &rest[..unit_end] {
            "ms" => n / 1000.0,
            "s" => n,
            "m" => n * 60.0,
            "h" => n * 3600.0,
            _ => return Err(bad()),
        };
        total += Duration::from_secs_f64(secs);
        rest = &rest[unit_end..];
    }
    Ok(total)
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).map_err(serde::de::Error::custom)
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) { format!("{}s", ms / 1000) } else { format!("{ms}ms") }
}

#[allow(clippy::ref_option)]
fn ser_opt_duration<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&format_duration(*d)),
        None => s.serialize_none(),
    }
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_duration(*d))
}

/// Folds `.` and `..` without touching the filesystem, so messages show `apps/base`, not
/// `config/../apps/base`.
fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

impl Config {
    /// Reads, parses and validates a config file; relative paths become relative to its folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.to_owned(), source })?;
        let mut config = Self::parse(&text, path)?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        config.resolve_paths(base);
        Ok(config)
    }

    /// Parses and validates config text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let config: Self = serde_saphyr::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_start_matches("error: ").to_owned(),
        })?;
        config.validate(path)?;
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { path: path.to_owned(), message };
        if self.api_version != API_VERSION {
            return Err(invalid(format!("apiVersion: expected {API_VERSION:?}, found {:?}", self.api_version)));
        }
        if self.kind != "Config" {
            return Err(invalid(format!("kind: expected \"Config\", found {:?}", self.kind)));
        }
        for (i, s) in self.sources.iter().enumerate() {
            if s.name.is_empty() {
                return Err(invalid(format!("sources[{i}].name: must not be empty")));
            }
            if self.sources[..i].iter().any(|o| o.name == s.name) {
                return Err(invalid(format!("sources[{i}].name: {:?} is used twice", s.name)));
            }
            if let Some(problem) = s.owner.as_ref().and_then(crate::model::ownership::Owner::problem) {
                return Err(invalid(format!("sources[{i}].owner: {problem}")));
            }
        }
        if self.jq.timeout.is_zero() || self.jq.max_steps == 0 || self.jq.max_paths == 0 {
            return Err(invalid("jq: timeout, maxSteps and maxPaths must be above 0".into()));
        }
        let w = &self.admission.webhook;
        if !(1..=30).contains(&w.timeout_seconds) {
            return Err(invalid(format!(
                "admission.webhook.timeoutSeconds: {} (the API server accepts 1 to 30)",
                w.timeout_seconds
            )));
        }
        if w.configuration_name.is_empty() || w.service.name.is_empty() || w.service.namespace.is_empty() {
            return Err(invalid(
                "admission.webhook: configurationName, service.name and service.namespace must not be empty".into(),
            ));
        }
        if self.server.auth == ApiAuth::None && self.server.metrics_auth {
            return Err(invalid("server.metricsAuth: needs server.auth: kubernetes (it is none)".into()));
        }
        let r = &self.self_heal.retry;
        if r.limit < -1 {
            return Err(invalid(format!("selfHeal.retry.limit: {} (use -1 for unlimited, 0 for none)", r.limit)));
        }
        if r.backoff.factor < 1.0 || !r.backoff.factor.is_finite() {
            return Err(invalid(format!("selfHeal.retry.backoff.factor: {} must be at least 1", r.backoff.factor)));
        }
        for (i, sink) in self.audit.sinks.iter().enumerate() {
            let missing = match sink.sink_type {
                SinkType::File if sink.path.is_none() => Some("path"),
                SinkType::Http if sink.url.is_none() => Some("url"),
                SinkType::Http if sink.spool_dir.is_none() => Some("spoolDir"),
                _ => None,
            };
            if let Some(field) = missing {
                return Err(invalid(format!("audit.sinks[{i}].{field}: required for this sink type")));
            }
            let bad = match sink.sink_type {
                SinkType::File if sink.max_bytes == 0 => Some("maxBytes: must be above 0"),
                SinkType::File if sink.max_files == 0 => Some("maxFiles: must be at least 1"),
                SinkType::Http if sink.max_spool_bytes == 0 => Some("maxSpoolBytes: must be above 0"),
                SinkType::Http if sink.batch_size == 0 => Some("batchSize: must be at least 1"),
                SinkType::KubernetesEvents if !(sink.qps > 0.0 && sink.qps.is_finite()) => Some("qps: must be above 0"),
                _ => None,
            };
            if let Some(why) = bad {
                return Err(invalid(format!("audit.sinks[{i}].{why}")));
            }
        }
        // compile every rule now so a bad rule fails at start-up, not on first use
        self.rules(None).map_err(|source| ConfigError::Rule { path: path.to_owned(), source })?;
        for s in &self.sources {
            self.rules(Some(&s.name)).map_err(|source| ConfigError::Rule { path: path.to_owned(), source })?;
        }
        Ok(())
    }

    fn resolve_paths(&mut self, base: &Path) {
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = lexical(&base.join(&*p));
            }
        };
        for s in &mut self.sources {
            if s.git.is_none() {
                resolve(&mut s.path);
            }
            if let Some(g) = &mut s.git {
                if let Some(t) = &mut g.token_file {
                    resolve(t);
                }
                let local = !g.url.contains("://") && !g.url.contains('@');
                if local && Path::new(&g.url).is_relative() {
                    g.url = base.join(&g.url).to_string_lossy().into_owned();
                }
            }
        }
        for sink in &mut self.audit.sinks {
            if let Some(p) = &mut sink.path {
                resolve(p);
            }
            for p in [&mut sink.spool_dir, &mut sink.ca_file, &mut sink.bearer_token_file].into_iter().flatten() {
                resolve(p);
            }
        }
    }

    /// The source with this name.
    pub fn source(&self, name: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.name == name)
    }

    /// The compiled rules for a source (or only the system-wide ones): built-in, system-wide,
    /// then the source's own.
    pub fn rules(&self, source: Option<&str>) -> Result<Vec<Rule>, RuleError> {
        let mut rules = vec![Rule::status()];
        if self.admission.allow_rollout_restart {
            rules.push(Rule::rollout_restart());
        }
        let budget = self.jq.budget();
        for (i, spec) in self.ignore_differences.iter().enumerate() {
            rules.push(Rule::compile(spec, format!("ignoreDifferences[{i}]"))?.with_jq_budget(budget));
        }
        if let Some(src) = source.and_then(|n| self.source(n)) {
            for (i, spec) in src.ignore_differences.iter().enumerate() {
                let origin = format!("sources[{}].ignoreDifferences[{i}]", src.name);
                rules.push(Rule::compile(spec, origin)?.with_jq_budget(budget));
            }
        }
        Ok(rules)
    }

    /// A config with no sources and default settings, for commands run without `--config`.
    pub fn empty() -> Self {
        Self { api_version: API_VERSION.into(), kind: "Config".into(), ..Self::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("driftgate.yaml"))
    }

    const FULL: &str = r#"
apiVersion: driftgate.dev/v1alpha1
kind: Config
sources:
  - name: guestbook
    path: apps/overlays/production
    git: {url: https://git.example.com/org/gitops.git, revision: main, interval: 1m}
    namespace: demo
    mode: warn
    ignoreDifferences:
      - group: apps
        kind: Deployment
        jsonPointers: [/spec/replicas]
ignoreDifferences:
  - group: "*"
    kind: "*"
    managedFieldsManagers: [kube-controller-manager]
  - paths: [/metadata/annotations]
    target: {kind: ConfigMap}
reconcilers:
  usernames: [system:serviceaccount:argocd:argocd-application-controller]
  groups: [system:serviceaccounts:flux-system]
  fieldManagers: [my-controller]
ownership: {instanceLabel: true}
admission:
  mode: enforce
  failurePolicy: open
  breakGlass: {groups: [sre]}
selfHeal: {enabled: true, dryRun: false, retry: {limit: 5, backoff: {duration: 5s, factor: 2, maxDuration: 3m}}}
audit:
  sinks:
    - {type: stdout}
    - {type: file, path: audit.jsonl}
    - {type: http, url: "https://audit.example.com/events", spoolDir: spool}
    - {type: kubernetesEvents, qps: 2, burst: 10, aggregateWindow: 5m}
telemetry: {otlpEndpoint: "http://127.0.0.1:4317", otlpProtocol: grpc}
"#;

    #[test]
    fn full_schema_parses() {
        let c = parse(FULL).unwrap();
        assert_eq!(c.sources[0].git.as_ref().unwrap().interval, Some(Duration::from_secs(60)));
        assert_eq!(c.sources[0].mode, Some(Mode::Warn));
        assert_eq!(c.admission.failure_policy, FailurePolicy::Open);
        assert_eq!(c.self_heal.retry.backoff.max_duration, Duration::from_secs(180));
        assert!(c.reconcilers.all_field_managers().contains(&"my-controller".to_owned()));
        assert!(c.reconcilers.all_field_managers().contains(&"argocd-controller".to_owned()));
        // built-in status and rollout-restart rules, two system-wide, one of the source's
        assert_eq!(c.rules(Some("guestbook")).unwrap().len(), 5);
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let err = parse(
            "apiVersion: driftgate.dev/v1alpha1\nkind: Config\nadmission:\n  mode: warn\n  failurePolicyy: open\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("driftgate.yaml: line 5 column 3: unknown field `failurePolicyy`"), "{err}");
    }

    #[test]
    fn unknown_key_in_rule() {
        let err = parse("apiVersion: driftgate.dev/v1alpha1\nkind: Config\nignoreDifferences:\n  - kind: X\n    jsonPointer: [/a]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 5") && err.contains("jsonPointer"), "{err}");
    }

    #[test]
    fn bad_values() {
        assert!(parse("apiVersion: v1\nkind: Config\n").unwrap_err().to_string().contains("apiVersion"));
        let err = parse("apiVersion: driftgate.dev/v1alpha1\nkind: Config\nadmission: {mode: block}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3"), "{err}");
        let err =
            parse("apiVersion: driftgate.dev/v1alpha1\nkind: Config\nselfHeal: {retry: {backoff: {duration: 5x}}}\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("invalid duration"), "{err}");
        let err = parse(
            "apiVersion: driftgate.dev/v1alpha1\nkind: Config\nsources: [{name: a, path: x}, {name: a, path: y}]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("sources[1].name"), "{err}");
        let err = parse("apiVersion: driftgate.dev/v1alpha1\nkind: Config\nignoreDifferences: [{kind: X, jqPathExpressions: ['.a[']}]\n").unwrap_err().to_string();
        assert!(err.contains("ignoreDifferences[0]: jqPathExpressions"), "{err}");
    }

    #[test]
    fn the_documented_config_parses() {
        let doc = include_str!("../docs/configuration.md");
        let start = doc.find("```yaml\n").unwrap() + 8;
        let end = start + doc[start..].find("```").unwrap();
        // the reference elides rule lists as `[...]`
        let c = parse(&doc[start..end].replace("[...]", "[]")).unwrap();
        assert_eq!(c.audit.sinks.len(), 4);
        assert_eq!(c.audit.sinks[2].max_spool_bytes, 268_435_456);
        assert_eq!(c.telemetry.otlp_protocol, Some(OtlpProtocol::Grpc));
    }

    #[test]
    fn api_access_is_checked_unless_turned_off() {
        let head = "apiVersion: driftgate.dev/v1alpha1\nkind: Config\n";
        let c = parse(head).unwrap();
        assert_eq!((c.server.auth, c.server.metrics_auth), (ApiAuth::Kubernetes, false));
        let c = parse(&format!("{head}server: {{auth: none}}\n")).unwrap();
        assert_eq!(c.server.auth, ApiAuth::None);
        let err = parse(&format!("{head}server: {{auth: none, metricsAuth: true}}\n")).unwrap_err().to_string();
        assert!(err.contains("server.metricsAuth"), "{err}");
        let err = parse(&format!("{head}server: {{auth: anonymous}}\n")).unwrap_err().to_string();
        assert!(err.contains("anonymous"), "{err}");
    }

    /// Issue 14, finding 7: printing the config never shows a token from a URL.
    #[test]
    fn debug_masks_credentials_in_git_urls() {
        let c = parse("apiVersion: driftgate.dev/v1alpha1\nkind: Config\nsources:\n  - name: s\n    path: apps\n    git: {url: \"https://u:PLANTED@git.example.com/r.git\", tokenEnv: GIT_TOKEN}\n").unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("PLANTED"), "{shown}");
        assert!(shown.contains("https://***@git.example.com/r.git") && shown.contains("GIT_TOKEN"), "{shown}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("").is_err());
    }
}
