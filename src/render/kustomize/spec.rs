//! The `kustomization.yaml` schema (kustomize v5), as far as driftgate renders it.
//!
//! Fields driftgate cannot render (`helmCharts`, `vars`, KRM function plugins, `openapi`,
//! `configurations`, ...) are still parsed, so that [`Kustomization::unsupported`] can name them:
//! nothing is skipped silently. Unknown fields are errors that name the field and line.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// A kustomization or component.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Kustomization {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: Option<Value>,
    #[serde(default, deserialize_with = "or_default")]
    pub resources: Vec<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub bases: Vec<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub components: Vec<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub crds: Vec<String>,
    pub namespace: Option<String>,
    pub name_prefix: Option<String>,
    pub name_suffix: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "or_default")]
    pub labels: Vec<Labels>,
    #[serde(default, deserialize_with = "or_default")]
    pub common_annotations: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "or_default")]
    pub images: Vec<Image>,
    /// The deprecated name of `images`.
    #[serde(default, deserialize_with = "or_default")]
    pub image_tags: Vec<Image>,
    #[serde(default, deserialize_with = "or_default")]
    pub replicas: Vec<Replica>,
    #[serde(default, deserialize_with = "or_default")]
    pub patches: Vec<Patch>,
    #[serde(default, deserialize_with = "or_default")]
    pub patches_strategic_merge: Vec<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub patches_json6902: Vec<Patch>,
    #[serde(default, deserialize_with = "or_default")]
    pub config_map_generator: Vec<Generator>,
    #[serde(default, deserialize_with = "or_default")]
    pub secret_generator: Vec<Generator>,
    pub generator_options: Option<GeneratorOptions>,
    #[serde(default, deserialize_with = "or_default")]
    pub replacements: Vec<ReplacementEntry>,
    pub sort_options: Option<SortOptions>,
    // parsed only to be refused by name
    pub vars: Option<Value>,
    pub helm_charts: Option<Value>,
    pub helm_globals: Option<Value>,
    pub helm_chart_inflation_generator: Option<Value>,
    pub generators: Option<Value>,
    pub transformers: Option<Value>,
    pub validators: Option<Value>,
    pub configurations: Option<Value>,
    pub openapi: Option<Value>,
    pub build_metadata: Option<Value>,
}

/// A field written with no value (every entry commented out) is null in YAML; kustomize reads
/// it as empty, and so does driftgate.
fn or_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl Kustomization {
    /// The first field set that this renderer does not support, if any.
    pub fn unsupported(&self) -> Option<&'static str> {
        let set = |v: &Option<Value>| v.as_ref().is_some_and(|v| !v.is_null());
        [
            ("vars", set(&self.vars)),
            ("helmCharts", set(&self.helm_charts)),
            ("helmGlobals", set(&self.helm_globals)),
            ("helmChartInflationGenerator", set(&self.helm_chart_inflation_generator)),
            ("generators", set(&self.generators)),
            ("transformers", set(&self.transformers)),
            ("validators", set(&self.validators)),
            ("configurations", set(&self.configurations)),
            ("openapi", set(&self.openapi)),
            ("buildMetadata", set(&self.build_metadata)),
            ("crds", !self.crds.is_empty()),
        ]
        .into_iter()
        .find_map(|(name, on)| on.then_some(name))
    }
}

/// An entry of `labels`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Labels {
    #[serde(default)]
    pub pairs: BTreeMap<String, String>,
    #[serde(default)]
    pub include_selectors: bool,
    #[serde(default)]
    pub include_templates: bool,
    pub fields: Option<Value>,
}

/// An entry of `images`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Image {
    pub name: String,
    pub new_name: Option<String>,
    pub new_tag: Option<String>,
    pub digest: Option<String>,
    pub tag_suffix: Option<String>,
}

/// An entry of `replicas`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Replica {
    pub name: String,
    pub count: i64,
}

/// An entry of `patches` or `patchesJson6902`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Patch {
    pub path: Option<String>,
    pub patch: Option<String>,
    pub target: Option<Target>,
    #[serde(default)]
    pub options: BTreeMap<String, bool>,
}

/// A patch or replacement target selector; name, namespace, kind, group and version are regexes.
#[derive(Debug, Clone, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Target {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub label_selector: Option<String>,
    pub annotation_selector: Option<String>,
}

/// A `configMapGenerator` or `secretGenerator` entry.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Generator {
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub behavior: Option<String>,
    #[serde(default)]
    pub literals: Vec<String>,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub envs: Vec<String>,
    pub env: Option<String>,
    #[serde(rename = "type")]
    pub secret_type: Option<String>,
    pub options: Option<GeneratorOptions>,
}

/// `generatorOptions`, or a generator's `options`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct GeneratorOptions {
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub disable_name_suffix_hash: Option<bool>,
    pub immutable: Option<bool>,
}

/// `sortOptions`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct SortOptions {
    pub order: Option<String>,
    pub legacy_sort_options: Option<LegacySortOptions>,
}

/// `sortOptions.legacySortOptions`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct LegacySortOptions {
    #[serde(default)]
    pub order_first: Vec<String>,
    #[serde(default)]
    pub order_last: Vec<String>,
}

/// An entry of `replacements`: inline, or a file of them.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ReplacementEntry {
    pub path: Option<String>,
    pub source: Option<Value>,
    pub targets: Option<Value>,
}
