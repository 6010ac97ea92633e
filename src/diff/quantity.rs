//! Kubernetes resource quantities compared by value: `1000m` equals `1`, `1Gi` equals `1024Mi`.

use serde_json::Value;

/// A quantity as an exact fraction `num / 10^den_exp10`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Exact {
    num: i128,
    den_exp10: u32,
}

/// Parses a quantity string (`500m`, `1Gi`, `1.5`, `2e3`) or a JSON number.
fn parse(v: &Value) -> Option<Exact> {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(Exact { num: i128::from(i), den_exp10: 0 })
            } else {
                parse_str(&n.to_string())
            }
        }
        Value::String(s) => parse_str(s),
        _ => None,
    }
}

fn parse_str(s: &str) -> Option<Exact> {
    let s = s.trim();
    let (sign, s) = match s.as_bytes().first()? {
        b'-' => (-1i128, &s[1..]),
        b'+' => (1, &s[1..]),
        _ => (1, s),
    };
    let num_end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (number, suffix) = s.split_at(num_end);
    if number.is_empty() || number == "." {
        return None;
    }
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if frac_part.contains('.') {
        return None;
    }
    let digits = format!("{int_part}{frac_part}");
    let mut num: i128 = digits.parse().ok()?;
    // exponent of ten applied to `num`, before the suffix
    let mut exp10: i64 = -i64::try_from(frac_part.len()).ok()?;
    let mut mul2: u32 = 0;
    match suffix {
        "" => {}
        "Ki" => mul2 = 10,
        "Mi" => mul2 = 20,
        "Gi" => mul2 = 30,
        "Ti" => mul2 = 40,
        "Pi" => mul2 = 50,
        "Ei" => mul2 = 60,
        "n" => exp10 -= 9,
        "u" => exp10 -= 6,
        "m" => exp10 -= 3,
        "k" => exp10 += 3,
        "M" => exp10 += 6,
        "G" => exp10 += 9,
        "T" => exp10 += 12,
        "P" => exp10 += 15,
        "E" => exp10 += 18,
        other => {
            let e = other.strip_prefix('e').or_else(|| other.strip_prefix('E'))?;
            exp10 += e.parse::<i64>().ok()?;
        }
    }
    num = num.checked_mul(1i128.checked_shl(mul2)?)?;
    if exp10 >= 0 {
        num = num.checked_mul(10i128.checked_pow(u32::try_from(exp10).ok()?)?)?;
        Some(Exact { num: sign * num, den_exp10: 0 })
    } else {
        Some(Exact { num: sign * num, den_exp10: u32::try_from(-exp10).ok()? })
    }
}

/// True when both values are quantities of the same amount.
pub fn equal(a: &Value, b: &Value) -> bool {
    let (Some(a), Some(b)) = (parse(a), parse(b)) else {
        return false;
    };
    // compare a.num * 10^b.den == b.num * 10^a.den without overflow surprises
    let scale = |n: i128, e: u32| 10i128.checked_pow(e).and_then(|p| n.checked_mul(p));
    match (scale(a.num, b.den_exp10), scale(b.num, a.den_exp10)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// True for paths whose values are quantities: resource lists and sizes.
pub fn is_quantity_path(shape: &[&str]) -> bool {
    let Some(last) = shape.last() else {
        return false;
    };
    if matches!(*last, "sizeLimit" | "storage") {
        return true;
    }
    shape.len() >= 2
        && matches!(
            shape[shape.len() - 2],
            "limits"
                | "requests"
                | "hard"
                | "capacity"
                | "allocatable"
                | "overhead"
                | "default"
                | "defaultRequest"
                | "max"
                | "min"
                | "maxLimitRequestRatio"
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_by_value() {
        assert!(equal(&json!("1000m"), &json!("1")));
        assert!(equal(&json!("1000m"), &json!(1)));
        assert!(equal(&json!("1Gi"), &json!("1024Mi")));
        assert!(equal(&json!("0.5"), &json!("500m")));
        assert!(equal(&json!("1k"), &json!("1000")));
        assert!(equal(&json!("1e3"), &json!("1k")));
        assert!(!equal(&json!("128974848"), &json!("129e6")));
        assert!(equal(&json!("129e6"), &json!("129M")));
        assert!(!equal(&json!("1Gi"), &json!("1G")));
        assert!(!equal(&json!("100m"), &json!("200m")));
        assert!(!equal(&json!("abc"), &json!("abc")));
        assert!(!equal(&json!("1Zi"), &json!("1Zi")));
    }

    #[test]
    fn quantity_paths() {
        assert!(is_quantity_path(&["spec", "containers", "[]", "resources", "limits", "cpu"]));
        assert!(is_quantity_path(&["spec", "resources", "requests", "storage"]));
        assert!(is_quantity_path(&["emptyDir", "sizeLimit"]));
        assert!(!is_quantity_path(&["data", "cpu"]));
    }
}
