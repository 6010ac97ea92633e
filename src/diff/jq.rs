//! `jqPathExpressions`: jq expressions, run with jaq, that select the paths to ignore.

use std::fmt;

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;
use serde_json::Value;

type Filter = jaq_core::compile::Filter<jaq_core::Native<data::JustLut<Val>>>;

/// A compiled jq path expression.
pub struct JqPath {
    source: String,
    filter: Filter,
}

impl fmt::Debug for JqPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JqPath").field(&self.source).finish()
    }
}

impl JqPath {
    /// Compiles `expr`; the error says what is wrong with it.
    pub fn compile(expr: &str) -> Result<Self, String> {
        // `path(f)` yields the paths `f` selects; wrapping keeps user syntax exactly jq's
        let code = format!("path({expr})");
        let defs = jaq_core::defs().chain(jaq_std::defs()).chain(jaq_json::defs());
        let funs = jaq_core::funs().chain(jaq_std::funs()).chain(jaq_json::funs());
        let loader = Loader::new(defs);
        let arena = Arena::default();
        let modules = loader
            .load(&arena, File { code: code.as_str(), path: () })
            .map_err(|errs| format!("cannot parse jq expression {expr:?} ({} error(s))", errs.len()))?;
        let filter = Compiler::default().with_funs(funs).compile(modules).map_err(|errs| {
            let names: Vec<String> =
                errs.iter().flat_map(|(_, es)| es.iter().map(|(name, _)| (*name).to_owned())).collect();
            format!("jq expression {expr:?} uses undefined names: {}", names.join(", "))
        })?;
        Ok(Self { source: expr.to_owned(), filter })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The paths the expression selects in `input`, as JSON pointer tokens. Errors while
    /// running (a type mismatch on this object) select nothing, as in Argo CD.
    pub fn paths(&self, input: &Value) -> Vec<Vec<String>> {
        let Ok(bytes) = serde_json::to_vec(input) else {
            return Vec::new();
        };
        let Ok(val) = jaq_json::read::parse_single(&bytes) else {
            return Vec::new();
        };
        let ctx = Ctx::<data::JustLut<Val>>::new(&self.filter.lut, Vars::new([]));
        let mut out = Vec::new();
        for result in self.filter.id.run((ctx, val)).map(unwrap_valr) {
            let Ok(path) = result else { continue };
            let Ok(Value::Array(steps)) = serde_json::from_str::<Value>(&path.to_string()) else {
                continue;
            };
            let tokens: Option<Vec<String>> = steps
                .iter()
                .map(|s| match s {
                    Value::String(k) => Some(k.clone()),
                    Value::Number(n) => n.as_u64().map(|i| i.to_string()),
                    _ => None,
                })
                .collect();
            if let Some(t) = tokens {
                out.push(t);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selects_container_by_name() {
        let q = JqPath::compile(r#".spec.template.spec.containers[] | select(.name == "istio-proxy")"#).unwrap();
        let obj = json!({"spec": {"template": {"spec": {"containers": [{"name": "app"}, {"name": "istio-proxy"}]}}}});
        assert_eq!(q.paths(&obj), vec![vec!["spec", "template", "spec", "containers", "1"]]);
    }

    #[test]
    fn missing_paths_select_nothing() {
        let q = JqPath::compile(".spec.template.spec.containers[]").unwrap();
        assert!(q.paths(&json!({"data": {}})).is_empty());
    }

    #[test]
    fn bad_expression_is_an_error() {
        assert!(JqPath::compile(".spec[").is_err());
        assert!(JqPath::compile("nosuchfn").is_err());
    }
}
