//! `${…}` interpolation in every string of the five documents.
//!
//! - `${NAME}`: an environment variable, else a top-level global setting of that name
//!   (settings may themselves use `${…}`; cycles are errors).
//! - `${NAME:-default}`: as above, else `default` (itself interpolated). As in the shell, an
//!   empty environment variable counts as unset when a default is given.
//! - `$${` writes a literal `${`.
//!
//! `${input_path}` and `${output_path}` expand to the resolved paths (relative settings are
//! taken against the project directory), so `${input_path}/x.csv` is never resolved twice.
//!
//! Expansion is bounded: settings that double each other (`b: '${a}${a}'`, `c: '${b}${b}'`,
//! …) or a huge variable used many times fail with an error instead of exhausting memory.

use std::collections::HashMap;
use std::path::Path;

use indexmap::IndexMap;

use crate::diag::Diags;
use crate::parse::MAX_DOCUMENT_BYTES;
use crate::paths;
use crate::tree::{Entry, Kind, Loc, Node};

/// Largest text one string may become after interpolation (the document limit).
const MAX_EXPANDED_BYTES: usize = MAX_DOCUMENT_BYTES;

/// Largest total text all interpolations of a load may produce.
const MAX_TOTAL_EXPANDED_BYTES: usize = 4 * MAX_DOCUMENT_BYTES;

const SYNTAX_HINT: &str = "write `${NAME}` or `${NAME:-default}`; `$${` writes a literal `${`";

/// Where environment variables come from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum VarSource<'a> {
    /// The process environment.
    Process,
    /// A fixed map (replaces the process environment).
    Map(&'a HashMap<String, String>),
}

impl VarSource<'_> {
    fn get(&self, name: &str) -> Option<String> {
        match self {
            VarSource::Process => std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()),
            VarSource::Map(map) => map.get(name).cloned(),
        }
    }
}

/// A setting's resolution.
#[derive(Debug, Clone)]
enum Setting {
    /// No usable setting of that name.
    Absent,
    /// Resolution failed (already reported).
    Failed,
    /// The resolved text.
    Value(String),
}

/// Expands references against environment variables and the global settings.
#[derive(Debug)]
pub(crate) struct Interpolator<'a> {
    vars: VarSource<'a>,
    settings: IndexMap<String, Entry>,
    project_dir: &'a Path,
    memo: HashMap<String, Setting>,
    stack: Vec<String>,
    /// Bytes produced by expansions so far (bounded by [`MAX_TOTAL_EXPANDED_BYTES`]).
    produced: usize,
    /// The total limit was reached (reported once; later expansions fail silently).
    exhausted: bool,
}

impl<'a> Interpolator<'a> {
    /// `global` is the merged (not yet interpolated) global settings document.
    pub fn new(vars: VarSource<'a>, global: &Node, project_dir: &'a Path) -> Self {
        let settings = match &global.kind {
            Kind::Map(map) => map.clone(),
            Kind::Null | Kind::Bool(_) | Kind::Num(_) | Kind::Str(_) | Kind::Seq(_) => {
                IndexMap::new()
            }
        };
        Self {
            vars,
            settings,
            project_dir,
            memo: HashMap::new(),
            stack: Vec::new(),
            produced: 0,
            exhausted: false,
        }
    }

    /// Interpolates the global settings document (top-level values through the memo, so
    /// each problem is reported once).
    pub fn walk_global(&mut self, root: &mut Node, diags: &mut Diags) {
        let Kind::Map(map) = &mut root.kind else {
            return;
        };
        for (key, entry) in map.iter_mut() {
            if matches!(entry.value.kind, Kind::Str(_)) {
                if let Setting::Value(v) = self.setting(key, entry.value.loc, diags) {
                    entry.value.kind = Kind::Str(v);
                }
            } else {
                self.walk(&mut entry.value, diags);
            }
        }
    }

    /// Interpolates every string below `node` in place.
    pub fn walk(&mut self, node: &mut Node, diags: &mut Diags) {
        match &mut node.kind {
            Kind::Str(s) => {
                if s.contains('$')
                    && let Some(v) = self.expand(s, node.loc, diags)
                {
                    *s = v;
                }
            }
            Kind::Seq(items) => items.iter_mut().for_each(|n| self.walk(n, diags)),
            Kind::Map(map) => map
                .values_mut()
                .for_each(|e| self.walk(&mut e.value, diags)),
            Kind::Null | Kind::Bool(_) | Kind::Num(_) => {}
        }
    }

    /// Expands one string; `None` when a reference failed (reported in `diags`).
    fn expand(&mut self, text: &str, loc: Loc, diags: &mut Diags) -> Option<String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        let mut ok = true;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            if let Some(after) = tail.strip_prefix("$${") {
                out.push_str("${");
                rest = after;
            } else if let Some(after) = tail.strip_prefix("${") {
                let Some(end) = closing_brace(after) else {
                    diags.error_hint(loc, "unclosed '${' (missing '}')", SYNTAX_HINT);
                    return None;
                };
                match self.reference(&after[..end], loc, diags) {
                    Some(v) if self.fits(out.len() + v.len(), loc, diags) => out.push_str(&v),
                    Some(_) => return None,
                    None => ok = false,
                }
                rest = &after[end + 1..];
            } else {
                out.push('$');
                rest = &tail[1..];
            }
        }
        if !self.fits(out.len() + rest.len(), loc, diags) {
            return None;
        }
        out.push_str(rest);
        self.produced = self.produced.saturating_add(out.len());
        ok.then_some(out)
    }

    /// Whether a string of `len` bytes stays within the expansion limits; reports the
    /// breach at `loc` otherwise (the total limit only once).
    fn fits(&mut self, len: usize, loc: Loc, diags: &mut Diags) -> bool {
        const MIB: usize = 1024 * 1024;
        if self.exhausted {
            return false;
        }
        if len > MAX_EXPANDED_BYTES {
            diags.error(
                loc,
                format!(
                    "this text grows beyond the {} MiB limit when its `${{…}}` references are expanded",
                    MAX_EXPANDED_BYTES / MIB
                ),
            );
            return false;
        }
        if self.produced.saturating_add(len) > MAX_TOTAL_EXPANDED_BYTES {
            self.exhausted = true;
            diags.error(
                loc,
                format!(
                    "`${{…}}` references expand to more than {} MiB of text in total",
                    MAX_TOTAL_EXPANDED_BYTES / MIB
                ),
            );
            return false;
        }
        true
    }

    /// Resolves the body of `${…}`.
    fn reference(&mut self, body: &str, loc: Loc, diags: &mut Diags) -> Option<String> {
        // `${tauro.ml.learning_rate}`: a run-time value Spark substitutes from the session
        // conf (set by the ML layer), left as written.
        if body.starts_with("tauro.") {
            return Some(format!("${{{body}}}"));
        }
        let (name, default) = match body.find(":-") {
            Some(i) => (&body[..i], Some(&body[i + 2..])),
            None => (body, None),
        };
        if !is_valid_name(name) {
            diags.error_hint(
                loc,
                format!("invalid variable reference '${{{body}}}'"),
                SYNTAX_HINT,
            );
            return None;
        }
        let usable = |v: &str| default.is_none() || !v.is_empty();
        if let Some(v) = self.vars.get(name)
            && usable(&v)
        {
            return Some(v);
        }
        match self.setting(name, loc, diags) {
            Setting::Value(v) if usable(&v) => return Some(v),
            Setting::Failed => return None,
            Setting::Value(_) | Setting::Absent => {}
        }
        if let Some(default) = default {
            return self.expand(default, loc, diags);
        }
        diags.error_hint(
            loc,
            format!(
                "unset variable '${{{name}}}': no environment variable or global setting has that name"
            ),
            format!(
                "export {name}=…, add `{name}:` to the global settings, or write `${{{name}:-default}}`"
            ),
        );
        None
    }

    /// The resolved value of the top-level setting `name`.
    fn setting(&mut self, name: &str, used_at: Loc, diags: &mut Diags) -> Setting {
        if let Some(done) = self.memo.get(name) {
            return done.clone();
        }
        let Some(entry) = self.settings.get(name) else {
            return Setting::Absent;
        };
        if let Some(start) = self.stack.iter().position(|s| s == name) {
            let mut cycle = self.stack[start..].to_vec();
            cycle.push(name.to_owned());
            diags.error(
                used_at,
                format!(
                    "settings reference each other in a cycle: {}",
                    cycle.join(" -> ")
                ),
            );
            return Setting::Failed;
        }
        let loc = entry.value.loc;
        let result = match &entry.value.kind {
            Kind::Null => Setting::Absent,
            Kind::Bool(b) => Setting::Value(b.to_string()),
            Kind::Num(n) => Setting::Value(n.to_string()),
            Kind::Str(s) => {
                let s = s.clone();
                self.stack.push(name.to_owned());
                let expanded = self.expand(&s, loc, diags);
                self.stack.pop();
                match expanded {
                    Some(v) if matches!(name, "input_path" | "output_path") => {
                        Setting::Value(paths::resolve(self.project_dir, &v))
                    }
                    Some(v) => Setting::Value(v),
                    None => Setting::Failed,
                }
            }
            Kind::Seq(_) | Kind::Map(_) => {
                diags.error(
                    used_at,
                    format!(
                        "setting '{name}' is {} and cannot be used inside text",
                        entry.value.kind.type_name()
                    ),
                );
                Setting::Failed
            }
        };
        self.memo.insert(name.to_owned(), result.clone());
        result
    }
}

/// Index of the `}` closing a `${` whose body starts `text` (nested `${…}` allowed).
fn closing_brace(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::diag::Files;
    use crate::parse::parse_yaml;
    use crate::tree::FileId;

    fn run(
        global: &str,
        doc: &str,
        vars: &[(&str, &str)],
    ) -> Result<serde_json::Value, Vec<String>> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut global = parse_yaml(global, FileId(0)).unwrap();
        let mut doc = parse_yaml(doc, FileId(1)).unwrap();
        let mut diags = Diags::default();
        let mut interp = Interpolator::new(VarSource::Map(&vars), &global, Path::new("/proj"));
        interp.walk_global(&mut global, &mut diags);
        interp.walk(&mut doc, &mut diags);
        let mut files = Files::default();
        files.add(Path::new("g.yaml"));
        files.add(Path::new("d.yaml"));
        match diags.finish(&files) {
            Ok(()) => Ok(doc.to_json()),
            Err(e) => Err(e.diagnostics().iter().map(|d| d.to_string()).collect()),
        }
    }

    #[test]
    fn env_then_setting_then_default() {
        let out = run(
            "input_path: data\nregion: eu\nbase: '${input_path}/${region}'\n",
            "a: '${base}/${REGION:-x}/${region}/${region}'\nb: '${HOME}'\nc: '${NOPE:-${region}-d}'\n",
            &[("HOME", "/home/u"), ("region", "from-env")],
        )
        .unwrap();
        assert_eq!(out["a"], "/proj/data/from-env/x/from-env/from-env");
        assert_eq!(out["b"], "/home/u");
        assert_eq!(out["c"], "from-env-d");
    }

    #[test]
    fn escapes_and_plain_dollars() {
        let out = run("{}", "a: 'cost $5 $${literal} $$x'\n", &[]).unwrap();
        assert_eq!(out["a"], "cost $5 ${literal} $$x");
    }

    #[test]
    fn empty_env_var_uses_default_only_when_given() {
        let out = run("{}", "a: '${E:-d}'\nb: '[${E}]'\n", &[("E", "")]).unwrap();
        assert_eq!(out["a"], "d");
        assert_eq!(out["b"], "[]");
    }

    #[test]
    fn unset_variables_name_file_and_line() {
        let errs = run("{}", "a: ok\nb: '${MISSING}/x'\n", &[]).unwrap_err();
        assert_eq!(
            errs,
            vec![
                "d.yaml:2: unset variable '${MISSING}': no environment variable or global setting has that name"
            ]
        );
    }

    #[test]
    fn cycles_are_reported_once() {
        let errs = run("a: '${b}'\nb: 'x${a}'\n", "c: '${a}'\n", &[]).unwrap_err();
        assert_eq!(
            errs,
            vec!["g.yaml:2: settings reference each other in a cycle: a -> b -> a"]
        );
    }

    #[test]
    fn bad_syntax_is_an_error() {
        let errs = run("{}", "a: '${oops'\nb: '${a:b}'\n", &[]).unwrap_err();
        assert_eq!(
            errs,
            vec![
                "d.yaml:1: unclosed '${' (missing '}')",
                "d.yaml:2: invalid variable reference '${a:b}'"
            ]
        );
    }

    #[test]
    fn settings_of_any_scalar_type() {
        let out = run("n: 4\nt: true\nm: {x: 1}\n", "a: '${n}-${t}'\n", &[]).unwrap();
        assert_eq!(out["a"], "4-true");
        let errs = run("m: {x: 1}\n", "a: '${m}'\n", &[]).unwrap_err();
        assert_eq!(
            errs,
            vec!["d.yaml:1: setting 'm' is a mapping and cannot be used inside text"]
        );
    }
}
