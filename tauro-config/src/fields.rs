//! Reading typed fields out of a located mapping, reporting problems at the key's line.
//!
//! Values produced by interpolation are text, so numbers and booleans are also accepted
//! as strings (`max_workers: ${WORKERS:-4}`).

use std::collections::BTreeMap;
use std::time::Duration;

use indexmap::IndexMap;

use crate::diag::Diags;
use crate::redact;
use crate::suggest;
use crate::tree::{Entry, Kind, Loc, Node};

/// The fields of one entry (a node, an input, …), for messages named `what`.
#[derive(Debug)]
pub(crate) struct Fields<'a> {
    /// E.g. `node 'clean_orders'`.
    pub what: String,
    /// Where the entry's name is.
    pub loc: Loc,
    map: Option<&'a IndexMap<String, Entry>>,
}

/// An empty map for entries written as `name:` with no value.
static EMPTY: std::sync::LazyLock<IndexMap<String, Entry>> =
    std::sync::LazyLock::new(IndexMap::new);

impl<'a> Fields<'a> {
    /// The fields of `node`, which must be a mapping (or empty).
    pub fn of(what: String, key_loc: Loc, node: &'a Node, diags: &mut Diags) -> Option<Self> {
        match &node.kind {
            Kind::Map(map) => Some(Self {
                what,
                loc: key_loc,
                map: Some(map),
            }),
            Kind::Null => Some(Self {
                what,
                loc: key_loc,
                map: Some(&EMPTY),
            }),
            other => {
                diags.error(
                    key_loc,
                    format!(
                        "{what} must be a mapping of settings, found {}",
                        other.type_name()
                    ),
                );
                None
            }
        }
    }

    fn map(&self) -> &'a IndexMap<String, Entry> {
        self.map.unwrap_or(&EMPTY)
    }

    /// Reports every key not in `allowed`, with a suggestion.
    pub fn check_keys(&self, allowed: &[&str], diags: &mut Diags) {
        for (key, entry) in self.map() {
            if !allowed.contains(&key.as_str()) {
                diags.error(
                    entry.key_loc,
                    format!(
                        "unknown key '{key}' in {}{}",
                        self.what,
                        suggest::did_you_mean(key, allowed.iter().copied())
                    ),
                );
            }
        }
    }

    /// The entry of `key`, unless absent or null.
    pub fn get(&self, key: &str) -> Option<&'a Entry> {
        self.map()
            .get(key)
            .filter(|e| !matches!(e.value.kind, Kind::Null))
    }

    /// The first present of `keys` (a key and its aliases); more than one present is an error.
    pub fn one_of(&self, keys: &[&str], diags: &mut Diags) -> Option<(&'a str, &'a Entry)> {
        let mut found: Vec<(&'a str, &'a Entry)> = Vec::new();
        for key in keys {
            if let Some((k, e)) = self.map().get_key_value(*key)
                && !matches!(e.value.kind, Kind::Null)
            {
                found.push((k.as_str(), e));
            }
        }
        if let [_, second, ..] = found.as_slice() {
            let names: Vec<String> = found.iter().map(|(k, _)| format!("`{k}`")).collect();
            diags.error(
                second.1.key_loc,
                format!(
                    "{} sets {}; they mean the same, keep one",
                    self.what,
                    names.join(" and ")
                ),
            );
        }
        found.first().copied()
    }

    /// The first present of `keys`, silently preferring the earlier (canonical) name.
    pub fn first_of(&self, keys: &[&str]) -> Option<(&'a str, &'a Entry)> {
        keys.iter().find_map(|key| {
            self.map()
                .get_key_value(*key)
                .filter(|(_, e)| !matches!(e.value.kind, Kind::Null))
                .map(|(k, e)| (k.as_str(), e))
        })
    }

    /// A text value (numbers and booleans are printed).
    pub fn text(&self, key: &str, diags: &mut Diags) -> Option<String> {
        let entry = self.get(key)?;
        self.text_of(key, entry, diags)
    }

    /// The text of `entry` (named `key` in messages).
    pub fn text_of(&self, key: &str, entry: &Entry, diags: &mut Diags) -> Option<String> {
        match entry.value.scalar_text() {
            Some(s) => Some(s),
            None => {
                self.expected(key, entry, "a string", diags);
                None
            }
        }
    }

    /// A boolean (`true`/`false`, also as text).
    pub fn boolean(&self, key: &str, default: bool, diags: &mut Diags) -> bool {
        let Some(entry) = self.get(key) else {
            return default;
        };
        let parsed = match &entry.value.kind {
            Kind::Bool(b) => Some(*b),
            Kind::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            Kind::Null | Kind::Num(_) | Kind::Seq(_) | Kind::Map(_) => None,
        };
        parsed.unwrap_or_else(|| {
            self.expected(key, entry, "true or false", diags);
            default
        })
    }

    /// A whole number in `min..=u32::MAX`.
    pub fn count(&self, key: &str, min: u64, diags: &mut Diags) -> Option<u32> {
        let entry = self.get(key)?;
        self.count_of(key, entry, min, diags)
    }

    /// A whole number in `min..=u32::MAX` from `entry`.
    pub fn count_of(&self, key: &str, entry: &Entry, min: u64, diags: &mut Diags) -> Option<u32> {
        let parsed = match &entry.value.kind {
            Kind::Num(n) => n.as_u64(),
            Kind::Str(s) => s.trim().parse::<u64>().ok(),
            Kind::Null | Kind::Bool(_) | Kind::Seq(_) | Kind::Map(_) => None,
        };
        match parsed
            .filter(|n| *n >= min)
            .and_then(|n| u32::try_from(n).ok())
        {
            Some(n) => Some(n),
            None => {
                let expected = if min == 0 {
                    "a whole number >= 0"
                } else {
                    "a whole number >= 1"
                };
                self.expected(key, entry, expected, diags);
                None
            }
        }
    }

    /// A duration in seconds (whole or fractional), `> 0` unless `allow_zero`.
    pub fn seconds(&self, key: &str, allow_zero: bool, diags: &mut Diags) -> Option<Duration> {
        let entry = self.get(key)?;
        let parsed = match &entry.value.kind {
            Kind::Num(n) => n.as_f64(),
            Kind::Str(s) => s.trim().parse::<f64>().ok(),
            Kind::Null | Kind::Bool(_) | Kind::Seq(_) | Kind::Map(_) => None,
        };
        let valid = parsed
            .filter(|s| if allow_zero { *s >= 0.0 } else { *s > 0.0 })
            .and_then(|s| Duration::try_from_secs_f64(s).ok());
        if valid.is_none() {
            let expected = if allow_zero {
                "a number of seconds >= 0"
            } else {
                "a number of seconds > 0"
            };
            self.expected(key, entry, expected, diags);
        }
        valid
    }

    /// A name or a list of names (`input: a` or `input: [a, b]`), with each item's location.
    pub fn names(&self, key: &str, diags: &mut Diags) -> Vec<(String, Loc)> {
        let Some(entry) = self.get(key) else {
            return Vec::new();
        };
        self.names_of(key, entry, diags)
    }

    /// Like [`Fields::names`] for a given entry.
    pub fn names_of(&self, key: &str, entry: &Entry, diags: &mut Diags) -> Vec<(String, Loc)> {
        let items: Vec<&Node> = match &entry.value.kind {
            Kind::Seq(items) => items.iter().collect(),
            Kind::Str(_) | Kind::Num(_) | Kind::Bool(_) => vec![&entry.value],
            Kind::Null => Vec::new(),
            Kind::Map(_) => {
                self.expected(key, entry, "a name or a list of names", diags);
                return Vec::new();
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item.scalar_text() {
                Some(s) if !s.trim().is_empty() => out.push((s.trim().to_owned(), item.loc)),
                _ => diags.error(
                    item.loc,
                    format!(
                        "{}: every item of `{key}` must be a non-empty name, found {}",
                        self.what,
                        item.kind.type_name()
                    ),
                ),
            }
        }
        out
    }

    /// A mapping of options with values turned into text (`header: true` → `"true"`).
    pub fn string_map(&self, key: &str, diags: &mut Diags) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some(entry) = self.get(key) else {
            return out;
        };
        let Kind::Map(map) = &entry.value.kind else {
            self.expected(key, entry, "a mapping", diags);
            return out;
        };
        for (k, e) in map {
            match &e.value.kind {
                Kind::Null => {
                    out.insert(k.clone(), String::new());
                }
                _ => match e.value.scalar_text() {
                    Some(s) => {
                        out.insert(k.clone(), s);
                    }
                    None => diags.error(
                        e.key_loc,
                        format!(
                            "{}: `{key}.{k}` must be a plain value, found {}",
                            self.what,
                            e.value.kind.type_name()
                        ),
                    ),
                },
            }
        }
        out
    }

    /// A free-form mapping, as JSON values.
    pub fn json_map(&self, key: &str, diags: &mut Diags) -> IndexMap<String, serde_json::Value> {
        let Some(entry) = self.get(key) else {
            return IndexMap::new();
        };
        match &entry.value.kind {
            Kind::Map(map) => map
                .iter()
                .map(|(k, e)| (k.clone(), e.value.to_json()))
                .collect(),
            _ => {
                self.expected(key, entry, "a mapping", diags);
                IndexMap::new()
            }
        }
    }

    /// Reports "`key` must be EXPECTED, found …" at the key (never echoing secret values).
    pub fn expected(&self, key: &str, entry: &Entry, expected: &str, diags: &mut Diags) {
        diags.error(
            entry.key_loc,
            format!(
                "{}: `{key}` must be {expected}, found {}",
                self.what,
                describe(key, &entry.value)
            ),
        );
    }
}

/// A short description of a value for messages: the text for scalars (masked when the key
/// looks secret), the shape otherwise.
pub(crate) fn describe(key: &str, node: &Node) -> String {
    match node.scalar_text() {
        Some(_) if redact::looks_secret(key) => "a hidden value".to_owned(),
        Some(text) => {
            let short: String = text.chars().take(60).collect();
            let ellipsis = if short.len() < text.len() { "…" } else { "" };
            format!("'{}{ellipsis}'", redact::redact_url(&short))
        }
        None => node.kind.type_name().to_owned(),
    }
}

/// The top-level mapping of a document of named entries (`pipelines`, `nodes`, `input`,
/// `output`). Detects Tauro's documented-but-unsupported wrapper key (`nodes:` around the
/// nodes) and says to remove it.
pub(crate) fn root_map<'a>(
    root: &'a Node,
    doc: &str,
    wrapper: &[&str],
    allowed: &[&str],
    diags: &mut Diags,
) -> Option<&'a IndexMap<String, Entry>> {
    let map = match &root.kind {
        Kind::Map(map) => map,
        Kind::Null => return Some(&EMPTY),
        other => {
            diags.error(
                root.loc,
                format!(
                    "the {doc} document must be a mapping of names to settings, found {}",
                    other.type_name()
                ),
            );
            return None;
        }
    };
    if let Some((key, entry)) = map.first() {
        let wrapped = map.len() == 1
            && wrapper.contains(&key.as_str())
            && matches!(&entry.value.kind, Kind::Map(inner)
                if !inner.is_empty() && inner.keys().all(|k| !allowed.contains(&k.as_str())));
        if wrapped {
            diags.error_hint(
                entry.key_loc,
                format!("the {doc} document is wrapped in a `{key}:` key"),
                format!(
                    "remove `{key}:` and un-indent its entries; the document maps names directly"
                ),
            );
            return None;
        }
    }
    Some(map)
}
