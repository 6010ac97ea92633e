//! `jqPathExpressions`: jq expressions, run with jaq, that select the paths to ignore.
//!
//! Every evaluation runs under a budget of time and steps (documented in docs/configuration.md,
//! `jq`), as Argo CD bounds its jq normaliser by a timeout: a rule like `repeat(.)` must not hang
//! the diff or eat memory. jq loops only through recursion, so the recursive generators of the
//! standard library (`repeat`, `recurse` and `..`, `while`, `until`, `range`) are redefined to
//! spend one step of the budget per turn, and a rule may not define functions of its own.

use std::cell::Cell;
use std::fmt;
use std::time::{Duration, Instant};

use jaq_core::load::{Arena, File, Loader};
use jaq_core::native::{bome, run, v};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;
use serde_json::Value;

type Filter = jaq_core::compile::Filter<jaq_core::Native<data::JustLut<Val>>>;

/// What one evaluation of one expression on one object may spend (the config's `jq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Wall-clock time (Argo CD's `ignore.normalizer.jq.timeout` defaults to 1 s too).
    pub timeout: Duration,
    /// Turns of the recursive generators: bounds the work, and so the memory, of one run.
    pub max_steps: u64,
    /// Paths one expression may select in one object.
    pub max_paths: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(1), max_steps: 1_000_000, max_paths: 10_000 }
    }
}

/// Why an evaluation was stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Exceeded {
    /// It ran longer than the budget's time.
    #[error("ran longer than {0:?}")]
    Time(Duration),
    /// It took more steps than the budget allows.
    #[error("took more than {0} steps")]
    Steps(u64),
    /// It selected more paths than the budget allows.
    #[error("selected more than {0} paths")]
    Paths(usize),
}

/// The running evaluation's budget, read by the `__budget` native filter.
#[derive(Clone, Copy)]
struct Running {
    deadline: Instant,
    steps_left: u64,
    exceeded: Option<StopReason>,
}

#[derive(Clone, Copy)]
enum StopReason {
    Time,
    Steps,
}

thread_local! {
    static RUNNING: Cell<Option<Running>> = const { Cell::new(None) };
}

/// Spends one step; false once the budget is gone (and from then on, so loops cannot go on).
fn spend() -> bool {
    RUNNING.with(|cell| {
        let Some(mut r) = cell.get() else { return true };
        if r.exceeded.is_none() {
            if r.steps_left == 0 {
                r.exceeded = Some(StopReason::Steps);
            } else {
                r.steps_left -= 1;
                // the clock is read every 256 steps: a step is a few hundred nanoseconds
                if r.steps_left % 256 == 0 && Instant::now() >= r.deadline {
                    r.exceeded = Some(StopReason::Time);
                }
            }
            cell.set(Some(r));
        }
        r.exceeded.is_none()
    })
}

/// The generators that can loop, redefined to spend the budget on every turn. `__budget as $_`
/// is evaluated as a value, so the definitions stay valid path expressions.
const BOUNDED_DEFS: &str = r"
def __turn: __budget as $_ | .;
def repeat(f): def rec: __turn | f, rec; rec;
def recurse(f): def rec: __turn | ., (f | rec); rec;
def recurse: recurse(.[]?);
def recurse(f; cond): recurse(f | select(cond));
def while(cond; update): def rec: __turn | if cond then ., (update | rec) else empty end; rec;
def until(cond; update): def rec: __turn | if cond then . else update | rec end; rec;
def range($from; $to; $by):
  $from | if $by > 0 then while(. < $to; . + $by) elif $by < 0 then while(. > $to; . + $by) else while(. != $to; . + $by) end;
def range($from; $to): range($from; $to; 1);
def range($to): range(0; $to; 1);
";

/// A compiled jq path expression.
pub struct JqPath {
    source: String,
    filter: Filter,
    budget: Budget,
}

impl fmt::Debug for JqPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JqPath").field(&self.source).finish()
    }
}

impl JqPath {
    /// Compiles `expr` under the default budget; the error says what is wrong with it.
    pub fn compile(expr: &str) -> Result<Self, String> {
        if defines_functions(expr) {
            return Err(format!(
                "jq expression {expr:?} defines a function: not allowed, so that every evaluation stays within its budget"
            ));
        }
        // `path(f)` yields the paths `f` selects; wrapping keeps user syntax exactly jq's
        let code = format!("path({expr})");
        let bounded = jaq_core::load::parse(BOUNDED_DEFS, |p| p.defs()).unwrap_or_default();
        let defs = jaq_core::defs().chain(jaq_std::defs()).chain(jaq_json::defs()).chain(bounded);
        let budget_fn = run::<data::JustLut<Val>>(("__budget", v(0), |cv| {
            bome(if spend() { Ok(cv.1) } else { Err(jaq_core::Error::str("driftgate: jq budget exceeded")) })
        }));
        let funs = jaq_core::funs().chain(jaq_std::funs()).chain(jaq_json::funs()).chain(std::iter::once(budget_fn));
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
        Ok(Self { source: expr.to_owned(), filter, budget: Budget::default() })
    }

    /// The same expression under another budget.
    #[must_use]
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.budget = budget;
        self
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The paths the expression selects in `input`, as JSON pointer tokens. Errors while
    /// running (a type mismatch on this object) select nothing, as in Argo CD. An evaluation
    /// that exceeds its budget is stopped and selects nothing: the error says which limit.
    pub fn paths(&self, input: &Value) -> Result<Vec<Vec<String>>, Exceeded> {
        let Ok(bytes) = serde_json::to_vec(input) else {
            return Ok(Vec::new());
        };
        let Ok(val) = jaq_json::read::parse_single(&bytes) else {
            return Ok(Vec::new());
        };
        let b = self.budget;
        let start = Instant::now();
        RUNNING.with(|c| {
            c.set(Some(Running { deadline: start + b.timeout, steps_left: b.max_steps, exceeded: None }));
        });
        let outcome = self.collect(val, start);
        let stopped = RUNNING.with(Cell::take).and_then(|r| r.exceeded);
        match (outcome, stopped) {
            (_, Some(StopReason::Steps)) => Err(Exceeded::Steps(b.max_steps)),
            (_, Some(StopReason::Time)) => Err(Exceeded::Time(b.timeout)),
            (outcome, None) => outcome,
        }
    }

    fn collect(&self, val: Val, start: Instant) -> Result<Vec<Vec<String>>, Exceeded> {
        let ctx = Ctx::<data::JustLut<Val>>::new(&self.filter.lut, Vars::new([]));
        let mut out = Vec::new();
        for result in self.filter.id.run((ctx, val)).map(unwrap_valr) {
            if start.elapsed() > self.budget.timeout {
                return Err(Exceeded::Time(self.budget.timeout));
            }
            let Ok(path) = result else {
                // a budget error ends the run; other errors skip that output, as jq's path() does
                if RUNNING.with(|c| c.get().is_some_and(|r| r.exceeded.is_some())) {
                    break;
                }
                continue;
            };
            if out.len() == self.budget.max_paths {
                return Err(Exceeded::Paths(self.budget.max_paths));
            }
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
        Ok(out)
    }
}

/// True when the expression holds a `def` outside string literals.
fn defines_functions(expr: &str) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    let bytes = expr.as_bytes();
    for (i, &c) in bytes.iter().enumerate() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if c == b'"' {
            in_string = true;
            continue;
        }
        let word_start = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if word_start && expr[i..].starts_with("def") && bytes.get(i + 3).is_some_and(u8::is_ascii_whitespace) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selects_container_by_name() {
        let q = JqPath::compile(r#".spec.template.spec.containers[] | select(.name == "istio-proxy")"#).unwrap();
        let obj = json!({"spec": {"template": {"spec": {"containers": [{"name": "app"}, {"name": "istio-proxy"}]}}}});
        assert_eq!(q.paths(&obj).unwrap(), vec![vec!["spec", "template", "spec", "containers", "1"]]);
    }

    #[test]
    fn missing_paths_select_nothing() {
        let q = JqPath::compile(".spec.template.spec.containers[]").unwrap();
        assert!(q.paths(&json!({"data": {}})).unwrap().is_empty());
    }

    #[test]
    fn bad_expression_is_an_error() {
        assert!(JqPath::compile(".spec[").is_err());
        assert!(JqPath::compile("nosuchfn").is_err());
        assert!(JqPath::compile("def f: f; f").unwrap_err().contains("defines a function"));
        assert!(JqPath::compile(r#".metadata.labels["def x"]"#).is_ok());
    }

    /// Finding 8 of issue 12: rules that never end are stopped, quickly and in bounded memory.
    #[test]
    fn endless_rules_are_stopped_by_the_budget() {
        let obj = json!({"spec": {"a": [1, 2, 3]}});
        let budget = Budget { timeout: Duration::from_millis(200), max_steps: 100_000, max_paths: 1000 };
        for expr in [
            "repeat(.)",
            "recurse(.)",
            "last(repeat(.))",
            ".spec | select([repeat(.)] | length > 0)",
            ".spec | select(last(range(0; 1e15)) > 0)",
        ] {
            let q = JqPath::compile(expr).unwrap().with_budget(budget);
            let start = Instant::now();
            let r = q.paths(&obj);
            assert!(r.is_err(), "{expr}: {r:?}");
            assert!(start.elapsed() < Duration::from_secs(2), "{expr} took {:?}", start.elapsed());
        }
        // an ordinary rule still works under the same budget
        let q = JqPath::compile(".spec.a[] | select(. == 2)").unwrap().with_budget(budget);
        assert_eq!(q.paths(&obj).unwrap(), vec![vec!["spec", "a", "1"]]);
        let q = JqPath::compile("..").unwrap().with_budget(budget);
        assert_eq!(q.paths(&obj).unwrap().len(), 6);
    }
}
