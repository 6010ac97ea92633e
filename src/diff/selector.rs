//! Kubernetes label selectors in their string form (`app=web,tier!=db,env in (a, b),!legacy`), as
//! Flux's `target.labelSelector` and `annotationSelector` take them.
//!
//! The grammar is apimachinery's `labels.Parse`: requirements joined by commas, each one of
//! `k=v`, `k==v`, `k!=v`, `k in (v1, v2)`, `k notin (v1, v2)`, `k` (exists) or `!k` (does not
//! exist). A selector that does not parse is a config error, never a selector that matches all.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    /// `k in (..)`, `k=v`, `k==v`.
    In(String, BTreeSet<String>),
    /// `k notin (..)`, `k!=v`: true also when the key is absent, as in Kubernetes.
    NotIn(String, BTreeSet<String>),
    /// `k`.
    Exists(String),
    /// `!k`.
    DoesNotExist(String),
}

/// A parsed selector: every requirement must hold. Empty selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector(Vec<Requirement>);

impl Selector {
    /// Parses the string form; the error says what is wrong and where.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for part in split_top_level(text)? {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            out.push(requirement(part)?);
        }
        Ok(Self(out))
    }

    /// True when the map (labels or annotations; absent is empty) satisfies every requirement.
    pub fn matches(&self, map: Option<&Map<String, Value>>) -> bool {
        let get = |k: &str| map.and_then(|m| m.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Requirement::In(k, values) => get(k).is_some_and(|v| values.contains(v)),
            Requirement::NotIn(k, values) => get(k).is_none_or(|v| !values.contains(v)),
            Requirement::Exists(k) => map.is_some_and(|m| m.contains_key(k)),
            Requirement::DoesNotExist(k) => !map.is_some_and(|m| m.contains_key(k)),
        })
    }
}

/// Splits at commas outside parentheses.
fn split_top_level(text: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1).ok_or_else(|| format!("unbalanced ')' at {i} in {text:?}"))?,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("unclosed '(' in {text:?}"));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

fn requirement(part: &str) -> Result<Requirement, String> {
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(key_of(key, part)?));
    }
    if let Some((k, v)) = part.split_once("!=") {
        return Ok(Requirement::NotIn(key_of(k, part)?, BTreeSet::from([value_of(v, part)?])));
    }
    if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(Requirement::In(key_of(k, part)?, BTreeSet::from([value_of(v, part)?])));
    }
    let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    if let [key, rest] = words.as_slice() {
        let rest = rest.trim_start();
        for (op, negated) in [("notin", true), ("in", false)] {
            if let Some(list) = rest.strip_prefix(op) {
                let values = set_of(list.trim(), part)?;
                let key = key_of(key, part)?;
                return Ok(if negated { Requirement::NotIn(key, values) } else { Requirement::In(key, values) });
            }
        }
        return Err(format!("{part:?}: expected =, ==, !=, in or notin after the key"));
    }
    // `key in(v)` without a space
    for (op, negated) in [("notin(", true), ("in(", false)] {
        if let Some(i) = part.find(op) {
            let values = set_of(&part[i + op.len() - 1..], part)?;
            let key = key_of(&part[..i], part)?;
            return Ok(if negated { Requirement::NotIn(key, values) } else { Requirement::In(key, values) });
        }
    }
    Ok(Requirement::Exists(key_of(part, part)?))
}

fn set_of(list: &str, part: &str) -> Result<BTreeSet<String>, String> {
    let inner = list
        .strip_prefix('(')
        .and_then(|l| l.strip_suffix(')'))
        .ok_or_else(|| format!("{part:?}: values must be in parentheses"))?;
    inner.split(',').map(|v| value_of(v, part)).collect()
}

fn key_of(key: &str, part: &str) -> Result<String, String> {
    let key = key.trim();
    let valid = !key.is_empty()
        && key.len() <= 316
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if valid { Ok(key.to_owned()) } else { Err(format!("{part:?}: {key:?} is not a valid key")) }
}

fn value_of(value: &str, part: &str) -> Result<String, String> {
    let value = value.trim();
    let valid = value.len() <= 63 && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid { Ok(value.to_owned()) } else { Err(format!("{part:?}: {value:?} is not a valid value")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: &Value) -> Option<&Map<String, Value>> {
        v.as_object()
    }

    #[test]
    fn equality_inequality_and_sets() {
        let l = json!({"app": "web", "tier": "front"});
        assert!(Selector::parse("app=web").unwrap().matches(labels(&l)));
        assert!(Selector::parse("app==web,tier=front").unwrap().matches(labels(&l)));
        assert!(!Selector::parse("app!=web").unwrap().matches(labels(&l)));
        assert!(Selector::parse("env!=prod").unwrap().matches(labels(&l)), "absent keys satisfy !=");
        assert!(Selector::parse("tier in (front, back)").unwrap().matches(labels(&l)));
        assert!(!Selector::parse("tier notin (front)").unwrap().matches(labels(&l)));
        assert!(Selector::parse("app in(web)").unwrap().matches(labels(&l)));
        assert!(Selector::parse("app,!legacy").unwrap().matches(labels(&l)));
        assert!(!Selector::parse("legacy").unwrap().matches(labels(&l)));
        assert!(!Selector::parse("app").unwrap().matches(None));
        assert!(Selector::parse("").unwrap().matches(None));
    }

    #[test]
    fn bad_selectors_are_errors() {
        assert!(Selector::parse("app in (a").is_err());
        assert!(Selector::parse("app in a").is_err());
        assert!(Selector::parse("a b c").is_err());
        assert!(Selector::parse("=x").is_err());
    }
}
