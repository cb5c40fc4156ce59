//! Reading and parsing documents safely: size cap, serde-saphyr budgets (aliases, depth,
//! node count), no snippets in messages (they could echo secrets).

use std::io::Read;
use std::path::Path;

use crate::tree::{FileId, Kind, Loc, Node};

/// Largest document (or SQL file) accepted, in bytes.
pub(crate) const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

/// Maximum nesting of mappings and lists in a document.
const MAX_DEPTH: usize = 32;

/// Stack for the parser thread: the deserializer recurses per nesting level and needs far
/// more than a 2 MiB worker thread has in debug builds.
const PARSER_STACK_BYTES: usize = 64 * 1024 * 1024;

/// A parse or read failure: where and what.
pub(crate) type Failure = (Loc, String);

/// Reads a whole UTF-8 text file of at most [`MAX_DOCUMENT_BYTES`].
///
/// The reader is capped, so special files (`/dev/zero`) and files growing while read fail
/// fast too.
pub(crate) fn read_text(path: &Path) -> Result<String, String> {
    // Opening a FIFO blocks until something writes to it: refuse it before opening.
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if let Ok(meta) = std::fs::metadata(path)
            && (meta.file_type().is_fifo() || meta.file_type().is_socket())
        {
            return Err(format!(
                "{} is a pipe or socket, not a file",
                path.display()
            ));
        }
    }
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if let Ok(meta) = file.metadata()
        && meta.is_dir()
    {
        return Err(format!("{} is a directory, not a file", path.display()));
    }
    let mut bytes = Vec::new();
    let cap = u64::try_from(MAX_DOCUMENT_BYTES)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    file.take(cap)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(too_large(&path.display().to_string()));
    }
    String::from_utf8(bytes).map_err(|_| format!("{} is not valid UTF-8 text", path.display()))
}

fn too_large(what: &str) -> String {
    format!(
        "{what} is larger than the {} MiB limit for a configuration document",
        MAX_DOCUMENT_BYTES / (1024 * 1024)
    )
}

fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            flow_nesting_limit: MAX_DEPTH,
            max_aliases: 10_000,
            max_nodes: 2_000_000,
            max_events: 8_000_000,
            max_total_scalar_bytes: MAX_DOCUMENT_BYTES,
            // Merge keys replayed through aliases cost more than linear time (10,000 took
            // 20x longer than 1,000); no configuration needs a thousand `<<`.
            max_merge_keys: 1_000,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 200_000,
            max_replay_stack_depth: 32,
        },
        emit_comments: false,
        // YAML 1.2 core: only true/false are booleans (`n`, `no`, `on` stay strings).
        strict_booleans: true,
        // `zip: 01234` stays the text written.
        leading_zero_numbers_as_strings: true,
        with_snippet: false,
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
    }
}

/// Parses YAML (JSON is YAML too) into a located tree. An empty document is an empty mapping.
pub(crate) fn parse_yaml(text: &str, file: FileId) -> Result<Node, Failure> {
    parse_yaml_noting_duplicates(text, file).map_err(|(failure, _)| failure)
}

/// As [`parse_yaml`]; a failure says whether it is a duplicate key.
fn parse_yaml_noting_duplicates(text: &str, file: FileId) -> Result<Node, (Failure, bool)> {
    let at = |line: u32| Loc { file, line };
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(((at(0), too_large("the document")), false));
    }
    if is_blank(text) {
        return Ok(Node::empty_map(at(1)));
    }
    match parse_on_big_stack(text) {
        Ok(Some(mut node)) => {
            node.set_file(file);
            if node.kind == Kind::Null {
                return Ok(Node::empty_map(node.loc));
            }
            Ok(node)
        }
        Ok(None) => Ok(Node::empty_map(at(1))),
        Err(err) => {
            let line = err
                .location()
                .map_or(0, |l| u32::try_from(l.line()).unwrap_or(u32::MAX));
            let message = format!("invalid YAML: {}", plain_message(&err));
            Err(((at(line), message), is_duplicate_key(&err)))
        }
    }
}

/// Runs the deserializer on a thread with a large stack (nothing outlives the call).
fn parse_on_big_stack(text: &str) -> Result<Option<Node>, serde_saphyr::Error> {
    let parse = || serde_saphyr::from_str_with_options::<Option<Node>>(text, yaml_options());
    std::thread::scope(|scope| {
        match std::thread::Builder::new()
            .name("tauro-config-parse".to_owned())
            .stack_size(PARSER_STACK_BYTES)
            .spawn_scoped(scope, parse)
        {
            Ok(handle) => handle.join().unwrap_or_else(|_| {
                Err(<serde_saphyr::Error as serde::de::Error>::custom(
                    "the YAML parser failed unexpectedly",
                ))
            }),
            // No thread available: parse here (the depth budget still bounds recursion).
            Err(_) => parse(),
        }
    })
}

/// Parses a `.json` document: strict JSON first (YAML accepts more, e.g. `{"a": }`), then
/// the YAML parser for line numbers.
pub(crate) fn parse_json(text: &str, file: FileId) -> Result<Node, Failure> {
    let at = |line: usize| Loc {
        file,
        line: u32::try_from(line).unwrap_or(u32::MAX),
    };
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err((at(0), too_large("the document")));
    }
    if text.trim().is_empty() {
        return Err((at(1), "invalid JSON: the file is empty".to_owned()));
    }
    let value = serde_json::from_str::<serde_json::Value>(text).map_err(|err| {
        (
            at(err.line()),
            format!("invalid JSON: {}", json_message(&err)),
        )
    })?;
    match parse_yaml_noting_duplicates(text, file) {
        Ok(node) => Ok(node),
        // serde_json keeps the last of duplicate keys; a JSON document rejects them as YAML does.
        Err((failure, true)) => Err(failure),
        // Valid JSON the YAML parser reads differently: keep the values, lose the lines.
        Err(_) if value.is_null() => Ok(Node::empty_map(at(1))),
        Err(_) => Ok(Node::from_json(&value, at(0))),
    }
}

/// Parses by file suffix: `.json` as JSON, everything else as YAML.
pub(crate) fn parse_by_suffix(text: &str, path: &Path, file: FileId) -> Result<Node, Failure> {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        parse_json(text, file)
    } else {
        parse_yaml(text, file)
    }
}

fn is_blank(text: &str) -> bool {
    text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#') || l == "---" || l == "..."
    })
}

/// The parser's error itself, without the snippet or alias wrapping.
fn cause(err: &serde_saphyr::Error) -> &serde_saphyr::Error {
    match err {
        serde_saphyr::Error::WithSnippet { error, .. }
        | serde_saphyr::Error::AliasError { error, .. } => cause(error),
        // Every other error is the cause itself.
        _ => err,
    }
}

/// Whether the parser failed on a duplicate mapping key.
fn is_duplicate_key(err: &serde_saphyr::Error) -> bool {
    matches!(cause(err), serde_saphyr::Error::DuplicateMappingKey { .. })
}

/// The parser's message without its location (reported separately) and without advice
/// meant for programmers (parser options, other entry points). Control characters of the
/// input (a key may hold any) are escaped.
fn plain_message(err: &serde_saphyr::Error) -> String {
    use serde_saphyr::MessageFormatter;
    let err = cause(err);
    let text = match err {
        serde_saphyr::Error::DuplicateMappingKey { key: Some(key), .. } => {
            format!("duplicate key '{key}' (a key may appear once in a mapping)")
        }
        serde_saphyr::Error::DuplicateMappingKey { key: None, .. } => {
            "duplicate key (a key may appear once in a mapping)".to_owned()
        }
        serde_saphyr::Error::MultipleDocuments { .. } => {
            "a second YAML document (`---`) in the file; a configuration file holds one".to_owned()
        }
        serde_saphyr::Error::RecursiveReferencesRequireWeakTypes { .. } => {
            "an alias refers to the anchor it is inside (recursive data)".to_owned()
        }
        serde_saphyr::Error::Budget { .. }
        | serde_saphyr::Error::AliasReplayCounterOverflow { .. }
        | serde_saphyr::Error::AliasReplayLimitExceeded { .. }
        | serde_saphyr::Error::AliasExpansionLimitExceeded { .. }
        | serde_saphyr::Error::AliasReplayStackDepthExceeded { .. } => format!(
            "the document is too large, too deeply nested or expands too many aliases ({})",
            serde_saphyr::DefaultMessageFormatter.format_message(err)
        ),
        // Every other error: the parser's own wording.
        _ => serde_saphyr::DefaultMessageFormatter
            .format_message(err)
            .into_owned(),
    };
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn json_message(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::tree::Kind;

    fn map_keys(node: &Node) -> Vec<(String, u32)> {
        match &node.kind {
            Kind::Map(m) => m.iter().map(|(k, e)| (k.clone(), e.key_loc.line)).collect(),
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn keys_carry_their_lines() {
        let node = parse_yaml("# c\na: 1\nb:\n  c: x\n  d: [1, 2]\n", FileId(3)).unwrap();
        assert_eq!(map_keys(&node), vec![("a".into(), 2), ("b".into(), 3)]);
        let Kind::Map(m) = &node.kind else { panic!() };
        let b = &m["b"].value;
        assert_eq!(map_keys(b), vec![("c".into(), 4), ("d".into(), 5)]);
        assert_eq!(b.loc.file, FileId(3));
    }

    #[test]
    fn scalars_keep_their_types() {
        let node = parse_yaml(
            "s: '8'\nn: 8\nf: 1.5\nb: true\nd: 2025-01-01\nz: ~\nbig: 99999999999999999999999\n",
            FileId(0),
        )
        .unwrap();
        let j = node.to_json();
        assert_eq!(j["s"], "8");
        assert_eq!(j["n"], 8);
        assert_eq!(j["f"], 1.5);
        assert_eq!(j["b"], true);
        assert_eq!(j["d"], "2025-01-01");
        assert!(j["z"].is_null());
        assert!(j["big"].is_string() || j["big"].is_number());
    }

    #[test]
    fn empty_and_comment_only_documents_are_empty_maps() {
        for text in ["", "   \n", "# nothing\n", "---\n", "~\n", "null\n"] {
            let node = parse_yaml(text, FileId(0)).unwrap();
            assert!(
                matches!(&node.kind, Kind::Map(m) if m.is_empty()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let (loc, msg) = parse_yaml("a: 1\nb: [1, 2\nc: 3\n", FileId(0)).unwrap_err();
        assert!(loc.line >= 2, "{loc:?} {msg}");
        assert!(msg.starts_with("invalid YAML"), "{msg}");
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let (loc, msg) = parse_yaml("a: 1\nb: 2\na: 3\n", FileId(0)).unwrap_err();
        assert_eq!(loc.line, 3, "{msg}");
        assert!(msg.contains("duplicate"), "{msg}");
    }

    #[test]
    fn billion_laughs_fails_fast() {
        let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..12 {
            let prev = format!("*a{}", i - 1);
            let items = [prev.as_str(); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{items}]\n"));
        }
        let started = std::time::Instant::now();
        let (_, msg) = parse_yaml(&text, FileId(0)).unwrap_err();
        assert!(
            started.elapsed().as_secs() < 5,
            "took {:?}",
            started.elapsed()
        );
        assert!(msg.starts_with("invalid YAML"), "{msg}");
    }

    #[test]
    fn deep_nesting_is_rejected() {
        let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse_yaml(&deep, FileId(0)).is_err());
        let mut block = String::new();
        for i in 0..200 {
            block.push_str(&" ".repeat(i));
            block.push_str("k:\n");
        }
        assert!(parse_yaml(&block, FileId(0)).is_err());
    }

    #[test]
    fn huge_documents_are_rejected() {
        let huge = "a".repeat(MAX_DOCUMENT_BYTES + 1);
        let (_, msg) = parse_yaml(&huge, FileId(0)).unwrap_err();
        assert!(msg.contains("16 MiB"), "{msg}");
    }

    #[test]
    fn json_documents_parse_with_lines() {
        let node = parse_json("{\n  \"a\": {\"b\": 1},\n  \"c\": \"x\"\n}\n", FileId(0)).unwrap();
        assert_eq!(map_keys(&node), vec![("a".into(), 2), ("c".into(), 3)]);
        let (loc, msg) = parse_json("{\n\t\"a\": 1,\n\t\"b\": }\n", FileId(0)).unwrap_err();
        assert_eq!(loc.line, 3, "{msg}");
        assert!(msg.starts_with("invalid JSON"), "{msg}");
    }
}
