//! Kubernetes resource quantities (`250m`, `64Mi`, `1.5`, `1e3`), checked
//! before they go into a patch: a value the API server would refuse is
//! the injector's refusal, naming the annotation, not a failed pod
//! creation with a puzzling message.

/// Whether `v` is a quantity a container's resources may hold: the API
/// server's grammar, and not negative.
pub fn check(v: &str) -> Result<(), String> {
    let bad = || format!("{v:?} is not a resource quantity (like 250m, 64Mi, 1)");
    let s = v.trim();
    if s.is_empty() || s != v {
        return Err(bad());
    }
    if s.starts_with('-') {
        return Err(format!("{v:?} is negative"));
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    // The number: digits, with at most one point, at least one digit.
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(end);
    if number.matches('.').count() > 1 || !number.chars().any(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let ok = match suffix {
        "" | "m" | "k" | "M" | "G" | "T" | "P" | "E" => true,
        "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => true,
        e if e.starts_with('e') || e.starts_with('E') => {
            let exp = &e[1..];
            let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            !exp.is_empty() && exp.chars().all(|c| c.is_ascii_digit())
        }
        _ => false,
    };
    if ok { Ok(()) } else { Err(bad()) }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn the_api_servers_grammar() {
        for good in [
            "250m",
            "64Mi",
            "1",
            "1.5",
            "0.5Gi",
            ".5",
            "5.",
            "1e3",
            "1E-2",
            "+2",
            "128974848",
            "129e6",
            "123Mi",
            "2k",
        ] {
            assert!(check(good).is_ok(), "{good}");
        }
        for bad in [
            "", " 1", "1 ", "-1", "-5Mi", "abc", "1.2.3", "5MB", "Mi", "1e", "1ee3", "5 Mi",
            "0x10", "1mi",
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
        assert_eq!(check("-1").unwrap_err(), "\"-1\" is negative");
    }
}
