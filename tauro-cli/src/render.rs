//! Human rendering: errors as `error:` / `caused by:` / `hint:`, durations and tables.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::time::Duration;

/// Renders an error and its chain of causes, then a hint when one is known.
pub fn error_report(err: &(dyn StdError + 'static), hint: Option<&str>) -> String {
    located_report(err, None, hint)
}

/// Like [`error_report`], with the `file:line` the error is about (when the message does not
/// already name it).
pub fn located_report(
    err: &(dyn StdError + 'static),
    location: Option<&str>,
    hint: Option<&str>,
) -> String {
    let message = err.to_string();
    let mut out = match location {
        Some(loc) if !message.contains(loc) => format!("error: {loc}: {message}\n"),
        _ => format!("error: {message}\n"),
    };
    let mut seen = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // Some libraries repeat their cause in their own message; print each text once.
        if !seen.iter().any(|s| s.contains(&text)) {
            let _ = writeln!(out, "caused by: {text}");
        }
        seen.push(text);
        source = cause.source();
    }
    if let Some(hint) = hint {
        let _ = writeln!(out, "hint: {hint}");
    }
    out
}

/// `1.2s`, `350ms`, `2m03s`.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        let secs = d.as_secs();
        format!("{}m{:02}s", secs / 60, secs % 60)
    }
}

/// A metric value: 4 significant decimals (`0.6123`, `12.5`, `1.2e-5`).
pub fn metric(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v != 0.0 && v.abs() < 1e-3 {
        return format!("{v:.3e}");
    }
    let text = format!("{v:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_string()
}

/// `1,234` style thousands separators.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A plain left-aligned text table.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            let _ = write!(l, "{cell:<w$}  ");
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for row in rows {
        line(row.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_get_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1234), "1,234");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn durations_are_short() {
        assert_eq!(duration(Duration::from_millis(350)), "350ms");
        assert_eq!(duration(Duration::from_millis(1250)), "1.2s");
        assert_eq!(duration(Duration::from_secs(123)), "2m03s");
    }

    #[test]
    fn error_chain_lists_causes_and_hint() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let outer = std::io::Error::other(Wrapped(io));
        let text = error_report(&outer, Some("create it"));
        assert!(text.starts_with("error: wrapped\n"), "{text}");
        assert!(text.contains("caused by: no such file\n"), "{text}");
        assert!(text.ends_with("hint: create it\n"), "{text}");
    }

    #[derive(Debug)]
    struct Wrapped(std::io::Error);
    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("wrapped")
        }
    }
    impl StdError for Wrapped {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }
}
