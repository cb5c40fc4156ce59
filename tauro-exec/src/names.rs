//! Name helpers: "did you mean" suggestions and temp view names for datasets.

/// The candidate closest to `word`, if it is close enough to be a likely typo
/// (case-insensitive Damerau-Levenshtein distance of at most a third of the word's length).
pub(crate) fn closest<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let lower = word.to_lowercase();
    let limit = (word.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let distance = strsim::damerau_levenshtein(&lower, &candidate.to_lowercase());
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c.to_owned())
}

/// The temp view name under which a node sees the dataset `name`.
///
/// Spark view names are identifiers, so every character outside `[A-Za-z0-9_]` becomes `_`
/// (`sales.daily` → `sales_daily`, `raw-events` → `raw_events`), and a leading digit gets a
/// `_` prefix (`2024_sales` → `_2024_sales`). Names that are already identifiers are kept.
pub fn view_name(name: &str) -> String {
    let mut view: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if view.is_empty() || view.starts_with(|c: char| c.is_ascii_digit()) {
        view.insert(0, '_');
    }
    view
}

/// The temp view of each input of `node`, in input order; two inputs mapping to the same
/// view name are an error.
pub(crate) fn input_views(node: &tauro_config::NodeConfig) -> crate::Result<Vec<(&str, String)>> {
    let mut views: Vec<(&str, String)> = Vec::with_capacity(node.input.len());
    for input in &node.input {
        let view = view_name(input);
        if let Some((first, _)) = views.iter().find(|(_, v)| *v == view) {
            return Err(crate::Error::ViewNameClash {
                node: node.name.clone(),
                first: (*first).to_string(),
                second: input.clone(),
                view,
                location: Box::new(node.location.clone()),
            });
        }
        views.push((input, view));
    }
    Ok(views)
}

/// `name` quoted as a Spark SQL identifier (backticks, inner backticks doubled).
pub(crate) fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["extract", "transform", "load"];
        assert_eq!(closest("tranform", names), Some("transform".to_string()));
        assert_eq!(closest("LOAD", names), Some("load".to_string()));
        assert_eq!(closest("zzz", names), None);
    }

    #[test]
    fn view_names_are_identifiers() {
        assert_eq!(view_name("sales.daily"), "sales_daily");
        assert_eq!(view_name("a.b.c"), "a_b_c");
        assert_eq!(view_name("raw-events"), "raw_events");
        assert_eq!(view_name("orders"), "orders");
        assert_eq!(view_name("2024_sales"), "_2024_sales");
        assert_eq!(quote_ident("we`ird"), "`we``ird`");
    }

    #[test]
    fn clashing_view_names_are_reported() {
        let n = crate::testutil::io("n", &["sales.daily", "orders", "sales_daily"], &[]);
        let err = input_views(&n).unwrap_err();
        assert_eq!(
            err.to_string(),
            "inputs 'sales.daily' and 'sales_daily' of node 'n' both become temp view 'sales_daily'"
        );
        let n = crate::testutil::io("n", &["a.b", "c"], &[]);
        let views: Vec<String> = input_views(&n)
            .unwrap()
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        assert_eq!(views, ["a_b", "c"]);
    }
}
