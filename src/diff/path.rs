//! Paths into an object that stay meaningful on both sides of a comparison.
//!
//! A list item matched by merge key sits at different indices in live and desired, so a
//! segment keeps both indices; pointers for either side and a readable form derive from it.

use std::fmt;
use std::sync::Arc;

/// One step of a path. Its text is shared, not copied: a difference keeps the path it was
/// found at, and a review may hold 30,000 differences eight steps deep.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Seg {
    /// A map key.
    Field(Arc<str>),
    /// A list item, with its index on each side where it exists there.
    Item {
        /// The label people read: `name=web` for keyed items, the index for positional ones.
        label: Arc<str>,
        /// Index in the live list.
        live: Option<usize>,
        /// Index in the desired list.
        desired: Option<usize>,
    },
}

/// A path from the object's root.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath(pub Vec<Seg>);

/// Which side's indices a pointer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The live object.
    Live,
    /// The desired object.
    Desired,
}

impl FieldPath {
    /// The path extended by a map key.
    #[must_use]
    pub fn field(&self, key: &str) -> Self {
        let mut v = self.0.clone();
        v.push(Seg::Field(key.into()));
        Self(v)
    }

    /// The path extended by a list item.
    #[must_use]
    pub fn item(&self, label: String, live: Option<usize>, desired: Option<usize>) -> Self {
        let mut v = self.0.clone();
        v.push(Seg::Item { label: label.into(), live, desired });
        Self(v)
    }

    /// Descends into a map key (the path used as a stack).
    pub fn push_field(&mut self, key: &str) {
        self.0.push(Seg::Field(key.into()));
    }

    /// Descends into a list item (the path used as a stack).
    pub fn push_item(&mut self, label: String, live: Option<usize>, desired: Option<usize>) {
        self.0.push(Seg::Item { label: label.into(), live, desired });
    }

    /// Climbs back up one step.
    pub fn pop(&mut self) {
        self.0.pop();
    }

    /// The last map key, and whether the step before it is a list item.
    pub fn last_field(&self) -> Option<(&str, bool)> {
        let n = self.0.len();
        match self.0.last()? {
            Seg::Field(k) => Some((k, n >= 2 && matches!(self.0[n - 2], Seg::Item { .. }))),
            Seg::Item { .. } => None,
        }
    }

    /// RFC 6901 reference tokens on one side; `None` when an item does not exist there.
    pub fn tokens(&self, side: Side) -> Option<Vec<String>> {
        self.0
            .iter()
            .map(|s| match s {
                Seg::Field(k) => Some(k.to_string()),
                Seg::Item { live, desired, .. } => {
                    let idx = match side {
                        Side::Live => *live,
                        Side::Desired => *desired,
                    };
                    idx.map(|i| i.to_string())
                }
            })
            .collect()
    }

    /// Whether the path on one side begins with these reference tokens (a rule's pointer
    /// addresses it or something above it). Compares in place: called for every difference
    /// and every rule, it must not allocate.
    /// Like [`Self::tokens`], a path with an item missing on that side has no tokens there.
    pub fn starts_with_tokens(&self, side: Side, prefix: &[String]) -> bool {
        prefix.len() <= self.0.len()
            && self.0.iter().zip(prefix).all(|(s, t)| seg_is(s, side, t))
            && self.0[prefix.len()..].iter().all(|s| exists_on(s, side))
    }

    /// Whether these reference tokens lie strictly below the path on one side.
    pub fn is_above_tokens(&self, side: Side, tokens: &[String]) -> bool {
        tokens.len() > self.0.len() && self.0.iter().zip(tokens).all(|(s, t)| seg_is(s, side, t))
    }

    /// An RFC 6901 JSON pointer on one side.
    pub fn pointer(&self, side: Side) -> Option<String> {
        self.tokens(side).map(|t| pointer_of(&t))
    }

    /// The map keys only, with list items as `[]`: the shape used by the defaults table.
    pub fn shape(&self) -> Vec<&str> {
        self.0
            .iter()
            .map(|s| match s {
                Seg::Field(k) => k,
                Seg::Item { .. } => "[]",
            })
            .collect()
    }

    /// Calls `f` with [`FieldPath::shape`], built on the stack: the diff asks the defaults table
    /// for every undeclared leaf, and an allocation per question shows.
    pub fn with_shape<R>(&self, f: impl FnOnce(&[&str]) -> R) -> R {
        const MAX: usize = 16;
        if self.0.len() > MAX {
            return f(&self.shape());
        }
        let mut buf = [""; MAX];
        for (slot, s) in buf.iter_mut().zip(&self.0) {
            *slot = match s {
                Seg::Field(k) => k,
                Seg::Item { .. } => "[]",
            };
        }
        f(&buf[..self.0.len()])
    }

    /// True when `self` is `other` or lies under it.
    pub fn starts_with(&self, other: &Self) -> bool {
        self.0.len() >= other.0.len() && self.0[..other.0.len()] == other.0[..]
    }
}

/// Builds a JSON pointer from reference tokens, escaping `~` and `/`.
pub fn pointer_of(tokens: &[String]) -> String {
    let mut s = String::new();
    for t in tokens {
        s.push('/');
        s.push_str(&t.replace('~', "~0").replace('/', "~1"));
    }
    s
}

/// Splits a JSON pointer into reference tokens; `""` is the root.
/// Whether a segment, on one side, is this reference token: the key itself, or the item's index
/// written as RFC 6901 writes array indices (decimal, no sign, no leading zero).
fn seg_is(seg: &Seg, side: Side, token: &str) -> bool {
    match seg {
        Seg::Field(k) => **k == *token,
        Seg::Item { live, desired, .. } => {
            let index = match side {
                Side::Live => *live,
                Side::Desired => *desired,
            };
            let canonical = token.bytes().all(|b| b.is_ascii_digit()) && (token == "0" || !token.starts_with('0'));
            index.is_some_and(|i| canonical && token.parse::<usize>() == Ok(i))
        }
    }
}

/// Whether a segment exists on one side (a map key always does).
fn exists_on(seg: &Seg, side: Side) -> bool {
    match (seg, side) {
        (Seg::Field(_), _) => true,
        (Seg::Item { live, .. }, Side::Live) => live.is_some(),
        (Seg::Item { desired, .. }, Side::Desired) => desired.is_some(),
    }
}

/// Splits an RFC 6901 pointer into its reference tokens.
pub fn tokens_of(pointer: &str) -> Vec<String> {
    if pointer.is_empty() {
        return Vec::new();
    }
    pointer.strip_prefix('/').unwrap_or(pointer).split('/').map(|t| t.replace("~1", "/").replace("~0", "~")).collect()
}

impl fmt::Display for FieldPath {
    /// `spec.template.spec.containers[name=web].image`; keys with dots are quoted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            match s {
                Seg::Field(k) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    if k.contains('.') || k.contains('/') {
                        write!(f, "\"{k}\"")?;
                    } else {
                        f.write_str(k)?;
                    }
                }
                Seg::Item { label, .. } => write!(f, "[{label}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_per_side() {
        let p = FieldPath::default()
            .field("spec")
            .field("containers")
            .item("name=web".into(), Some(1), Some(0))
            .field("image");
        assert_eq!(p.pointer(Side::Live).as_deref(), Some("/spec/containers/1/image"));
        assert_eq!(p.pointer(Side::Desired).as_deref(), Some("/spec/containers/0/image"));
        assert_eq!(p.to_string(), "spec.containers[name=web].image");
        let added = FieldPath::default().field("env").item("name=X".into(), Some(2), None);
        assert_eq!(added.pointer(Side::Desired), None);
    }

    /// The in-place prefix tests agree with comparing materialised tokens, on every side.
    #[test]
    fn prefix_tests_agree_with_tokens() {
        let paths = [
            FieldPath::default()
                .field("spec")
                .field("containers")
                .item("name=web".into(), Some(1), Some(0))
                .field("image"),
            FieldPath::default().field("env").item("name=X".into(), Some(2), None).field("value"),
            FieldPath::default().field("spec").field("replicas"),
        ];
        let prefixes: Vec<Vec<String>> = [
            "",
            "/spec",
            "/spec/containers",
            "/spec/containers/1",
            "/spec/containers/0",
            "/spec/containers/01",
            "/spec/containers/+1",
            "/spec/containers/0/image",
            "/spec/containers/0/image/x",
            "/env/2",
            "/env",
            "/spec/replicas",
            "/spec/replicasX",
        ]
        .iter()
        .map(|p| tokens_of(p))
        .collect();
        for p in &paths {
            for side in [Side::Live, Side::Desired] {
                let tokens = p.tokens(side);
                for prefix in &prefixes {
                    let want = tokens.as_ref().is_some_and(|t| t.starts_with(prefix));
                    assert_eq!(p.starts_with_tokens(side, prefix), want, "{p} {side:?} {prefix:?}");
                }
                if let Some(t) = &tokens {
                    for below in &prefixes {
                        let want = below.len() > t.len() && below.starts_with(t);
                        assert_eq!(p.is_above_tokens(side, below), want, "{p} {side:?} {below:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn escaping_round_trips() {
        let t = vec!["metadata".to_owned(), "annotations".to_owned(), "a/b~c".to_owned()];
        let p = pointer_of(&t);
        assert_eq!(p, "/metadata/annotations/a~1b~0c");
        assert_eq!(tokens_of(&p), t);
        assert!(tokens_of("").is_empty());
    }

    #[test]
    fn dotted_keys_are_quoted() {
        let p = FieldPath::default().field("metadata").field("labels").field("app.kubernetes.io/name");
        assert_eq!(p.to_string(), "metadata.labels.\"app.kubernetes.io/name\"");
    }
}
