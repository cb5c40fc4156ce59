//! "Did you mean" suggestions for misspelt names.

/// Work (compared character pairs) one suggestion may spend.
const CALL_WORK: usize = 5_000_000;

/// Work all suggestions of one load may spend: a hostile project with thousands of
/// misspelt names among thousands of nodes (or megabyte-long names) stays fast; the
/// suggestions past the budget are left out.
pub(crate) const LOAD_WORK: usize = 20_000_000;

/// The candidate closest to `word`, if one is close enough to be a likely typo.
pub(crate) fn closest<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut budget = CALL_WORK;
    closest_within(word, candidates, &mut budget)
}

/// As [`closest`], spending at most `budget` compared character pairs (and taking them
/// from it); candidates that would overspend are skipped.
pub(crate) fn closest_within<'a, I>(word: &str, candidates: I, budget: &mut usize) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let lower = word.to_lowercase();
    // Very short names are one edit away from everything: only suggest a case change.
    let len = word.chars().count();
    let limit = if len < 3 { 0 } else { (len / 3).max(1) };
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        if *budget < len {
            break;
        }
        let candidate_len = candidate.chars().count();
        // The length difference is a lower bound of the distance.
        if candidate_len.abs_diff(len) > limit {
            continue;
        }
        let work = len.saturating_mul(candidate_len).max(1);
        if work > *budget {
            continue;
        }
        *budget -= work;
        let distance = if candidate.to_lowercase() == lower {
            0
        } else {
            strsim::damerau_levenshtein(&lower, &candidate.to_lowercase())
        };
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c.to_owned())
}

/// `"; did you mean 'x'?"` or an empty string.
pub(crate) fn did_you_mean<'a, I>(word: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    closest(word, candidates)
        .map(|c| format!("; did you mean '{c}'?"))
        .unwrap_or_default()
}

/// As [`did_you_mean`], within `budget` (see [`closest_within`]).
pub(crate) fn did_you_mean_within<'a, I>(word: &str, candidates: I, budget: &mut usize) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    closest_within(word, candidates, budget)
        .map(|c| format!("; did you mean '{c}'?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let keys = ["format", "filepath", "options"];
        assert_eq!(closest("fromat", keys), Some("format".to_owned()));
        assert_eq!(closest("FilePath", keys), Some("filepath".to_owned()));
        assert_eq!(closest("zzz", keys), None);
        assert_eq!(closest("m", ["n"]), None);
        assert_eq!(closest("N", ["n"]), Some("n".to_owned()));
        assert_eq!(did_you_mean("optons", keys), "; did you mean 'options'?");
        assert_eq!(did_you_mean("unrelated", keys), "");
    }

    #[test]
    fn the_budget_bounds_the_work() {
        let mut budget = 100;
        assert_eq!(
            closest_within("fromat", ["format"], &mut budget),
            Some("format".to_owned())
        );
        assert_eq!(budget, 64);
        // Too expensive for what is left: skipped, nothing spent.
        let long = "x".repeat(20);
        assert_eq!(closest_within(&long, [long.as_str()], &mut budget), None);
        assert_eq!(budget, 64);
    }
}
