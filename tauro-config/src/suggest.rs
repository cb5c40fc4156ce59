//! "Did you mean" suggestions for misspelt names.

/// The candidate closest to `word`, if one is close enough to be a likely typo.
pub(crate) fn closest<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let lower = word.to_lowercase();
    // Very short names are one edit away from everything: only suggest a case change.
    let len = word.chars().count();
    let limit = if len < 3 { 0 } else { (len / 3).max(1) };
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
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
}
