//! A located document tree: YAML/JSON values that remember the file and line they came from.
//!
//! Documents are parsed into [`Node`]s (not straight into the typed model) so that merging,
//! interpolation and validation can all point at the exact `file:line` of a key.

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// Index of a file in a [`Files`] table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct FileId(pub u32);

/// Where a node is: a file of the load and a 1-based line (0 when unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Loc {
    pub file: FileId,
    pub line: u32,
}

/// A value with its location.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub kind: Kind,
    pub loc: Loc,
}

/// A mapping entry: the key's location and the value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key_loc: Loc,
    pub value: Node,
}

/// The shape of a value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(String),
    Seq(Vec<Node>),
    Map(IndexMap<String, Entry>),
}

impl Kind {
    /// A short name of the shape, for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Num(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }
}

impl Node {
    /// A node at `loc`.
    pub fn new(kind: Kind, loc: Loc) -> Self {
        Self { kind, loc }
    }

    /// An empty mapping at `loc`.
    pub fn empty_map(loc: Loc) -> Self {
        Self::new(Kind::Map(IndexMap::new()), loc)
    }

    /// Sets the file of this node and every node below it.
    pub fn set_file(&mut self, file: FileId) {
        self.loc.file = file;
        match &mut self.kind {
            Kind::Seq(items) => items.iter_mut().for_each(|n| n.set_file(file)),
            Kind::Map(entries) => entries.values_mut().for_each(|e| {
                e.key_loc.file = file;
                e.value.set_file(file);
            }),
            Kind::Null | Kind::Bool(_) | Kind::Num(_) | Kind::Str(_) => {}
        }
    }

    /// The scalar as text (strings as is, numbers and booleans printed); `None` for
    /// null, lists and mappings.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Num(n) => Some(n.to_string()),
            Kind::Bool(b) => Some(b.to_string()),
            Kind::Null | Kind::Seq(_) | Kind::Map(_) => None,
        }
    }

    /// Converts to a JSON value (locations dropped).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Num(n) => Value::Number(n.clone()),
            Kind::Str(s) => Value::String(s.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, e)| (k.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }

    /// Converts a JSON value; every node gets `loc`.
    pub fn from_json(value: &serde_json::Value, loc: Loc) -> Self {
        use serde_json::Value;
        let kind = match value {
            Value::Null => Kind::Null,
            Value::Bool(b) => Kind::Bool(*b),
            Value::Number(n) => Kind::Num(n.clone()),
            Value::String(s) => Kind::Str(s.clone()),
            Value::Array(items) => {
                Kind::Seq(items.iter().map(|v| Node::from_json(v, loc)).collect())
            }
            Value::Object(map) => Kind::Map(
                map.iter()
                    .map(|(k, v)| {
                        let entry = Entry {
                            key_loc: loc,
                            value: Node::from_json(v, loc),
                        };
                        (k.clone(), entry)
                    })
                    .collect(),
            ),
        };
        Node::new(kind, loc)
    }
}

fn line_of(location: &serde_saphyr::Location) -> u32 {
    u32::try_from(location.line()).unwrap_or(u32::MAX)
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Kind>::deserialize(deserializer)?;
        let loc = Loc {
            file: FileId::default(),
            line: line_of(&spanned.referenced),
        };
        Ok(Node::new(spanned.value, loc))
    }
}

/// A value without its own location.
struct Unspanned(Kind);

impl<'de> Deserialize<'de> for Unspanned {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KindVisitor).map(Unspanned)
    }
}

/// A mapping key: any scalar, printed as text.
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match deserializer.deserialize_any(KindVisitor)? {
            Kind::Null => Ok(Key(String::new())),
            Kind::Bool(b) => Ok(Key(b.to_string())),
            Kind::Num(n) => Ok(Key(n.to_string())),
            Kind::Str(s) => Ok(Key(s)),
            Kind::Seq(_) | Kind::Map(_) => Err(de::Error::custom(
                "a mapping key must be a plain value, not a list or mapping",
            )),
        }
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Num(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Kind, E> {
        Ok(Kind::Num(v.into()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_string()))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Kind, E> {
        Ok(serde_json::Number::from_f64(v).map_or_else(|| Kind::Str(v.to_string()), Kind::Num))
    }

    fn visit_char<E: de::Error>(self, v: char) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_string()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Str(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Kind, E> {
        Ok(Kind::Str(String::from_utf8_lossy(v).into_owned()))
    }

    fn visit_none<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Kind, D::Error> {
        deserializer.deserialize_any(KindVisitor)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<Kind, D::Error> {
        deserializer.deserialize_any(KindVisitor)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(node) = seq.next_element::<Node>()? {
            items.push(node);
        }
        Ok(Kind::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries = IndexMap::with_capacity(map.size_hint().unwrap_or(0).min(1024));
        while let Some(key) = map.next_key::<Spanned<Key>>()? {
            // Values are not spanned (that doubles the parse time): a value sits at its key.
            let Unspanned(value) = map.next_value::<Unspanned>()?;
            let key_loc = Loc {
                file: FileId::default(),
                line: line_of(&key.referenced),
            };
            let value = Node::new(value, key_loc);
            // Duplicate keys are rejected by the parser; keep the last one otherwise.
            entries.insert(key.value.0, Entry { key_loc, value });
        }
        Ok(Kind::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KindVisitor)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::parse::parse_yaml;

    #[test]
    fn json_round_trip_and_key_text() {
        let value = serde_json::json!({"a": [1, 2.5, "x", null, true], "b": {"c": {}}});
        let node = Node::from_json(&value, Loc::default());
        assert_eq!(node.to_json(), value);
        let node = parse_yaml("1: one\ntrue: yes\nn: no\non: off\n", FileId(0)).unwrap();
        assert_eq!(
            node.to_json(),
            serde_json::json!({"1": "one", "true": "yes", "n": "no", "on": "off"})
        );
    }

    #[test]
    fn list_items_have_their_own_lines() {
        let node = parse_yaml("a:\n  - x\n  - y: 1\n", FileId(0)).unwrap();
        let Kind::Map(map) = &node.kind else {
            unreachable!()
        };
        let Kind::Seq(items) = &map["a"].value.kind else {
            unreachable!()
        };
        let lines: Vec<u32> = items.iter().map(|n| n.loc.line).collect();
        assert_eq!(lines, vec![2, 3]);
    }

    #[test]
    fn anchors_and_merge_keys_work() {
        let node = parse_yaml(
            "base: &b {format: parquet, options: {x: '1'}}\nout:\n  <<: *b\n  filepath: o\n",
            FileId(0),
        )
        .unwrap();
        assert_eq!(
            node.to_json()["out"],
            serde_json::json!({"format": "parquet", "options": {"x": "1"}, "filepath": "o"})
        );
    }
}
