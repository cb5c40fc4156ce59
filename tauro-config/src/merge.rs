//! Deep merge of an environment's document over `base`, key by key.
//!
//! Mappings merge recursively; scalars and lists replace. This fixes Tauro's whole-file
//! replacement: `dev/global_settings.yaml` only needs the keys that differ.

use crate::tree::{Kind, Node};

/// Merges `overlay` into `base`. Keys keep `base`'s order; new keys are appended. Every
/// value keeps the location of the file that defined it.
pub(crate) fn merge(base: &mut Node, overlay: Node) {
    match (&mut base.kind, overlay.kind) {
        (Kind::Map(base_map), Kind::Map(overlay_map)) => {
            for (key, entry) in overlay_map {
                match base_map.get_mut(&key) {
                    Some(existing)
                        if matches!(existing.value.kind, Kind::Map(_))
                            && matches!(entry.value.kind, Kind::Map(_)) =>
                    {
                        merge(&mut existing.value, entry.value);
                    }
                    Some(existing) => *existing = entry,
                    None => {
                        base_map.insert(key, entry);
                    }
                }
            }
        }
        (_, kind) => {
            base.kind = kind;
            base.loc = overlay.loc;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::parse::parse_yaml;
    use crate::tree::FileId;

    #[test]
    fn maps_merge_and_scalars_and_lists_replace() {
        let mut base = parse_yaml(
            "a: 1\nspark:\n  remote: local\n  config:\n    x: '1'\n    y: '2'\nlist: [1, 2]\nkeep: k\n",
            FileId(0),
        )
        .unwrap();
        let overlay = parse_yaml(
            "spark:\n  config:\n    y: '3'\nlist: [9]\na: 2\nnew: n\n",
            FileId(1),
        )
        .unwrap();
        merge(&mut base, overlay);
        assert_eq!(
            base.to_json(),
            serde_json::json!({
                "a": 2,
                "spark": {"remote": "local", "config": {"x": "1", "y": "3"}},
                "list": [9],
                "keep": "k",
                "new": "n"
            })
        );
        let Kind::Map(top) = &base.kind else {
            unreachable!()
        };
        assert_eq!(top["a"].key_loc.file, FileId(1));
        assert_eq!(top["keep"].key_loc.file, FileId(0));
        let Kind::Map(spark) = &top["spark"].value.kind else {
            unreachable!()
        };
        assert_eq!(spark["remote"].key_loc.file, FileId(0));
    }

    #[test]
    fn a_mapping_replaces_a_scalar() {
        let mut base = parse_yaml("a: 1\n", FileId(0)).unwrap();
        merge(&mut base, parse_yaml("a: {b: 2}\n", FileId(1)).unwrap());
        assert_eq!(base.to_json(), serde_json::json!({"a": {"b": 2}}));
    }
}
