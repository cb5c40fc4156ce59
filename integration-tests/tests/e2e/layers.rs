//! The crate layering of DESIGN.md, enforced: `config ← io ← exec ← streaming ← orchest ← cli`.
//! A crate may depend only on crates to its left; `integration-tests` may use all.

use std::collections::BTreeMap;
use std::process::Command;

const LAYERS: [&str; 6] = [
    "tauro-config",
    "tauro-io",
    "tauro-exec",
    "tauro-streaming",
    "tauro-orchest",
    "tauro-cli",
];

fn workspace_edges() -> BTreeMap<String, Vec<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let members: Vec<String> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_string())
        .collect();
    let mut edges = BTreeMap::new();
    for p in meta["packages"].as_array().expect("packages") {
        let name = p["name"].as_str().expect("name").to_string();
        let deps = p["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .filter(|d| d["kind"].is_null() || d["kind"] == "build")
            .map(|d| d["name"].as_str().expect("dep name").to_string())
            .filter(|d| members.contains(d))
            .collect();
        edges.insert(name, deps);
    }
    edges
}

fn layer_violations(edges: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let rank = |name: &str| LAYERS.iter().position(|l| *l == name);
    let mut bad = Vec::new();
    for (from, deps) in edges {
        if from == "integration-tests" {
            continue;
        }
        let Some(from_rank) = rank(from) else {
            bad.push(format!("{from} is not a layer of DESIGN.md"));
            continue;
        };
        for dep in deps {
            match rank(dep) {
                Some(r) if r < from_rank => {}
                _ => bad.push(format!("{from} -> {dep} is not an allowed edge")),
            }
        }
    }
    bad
}

#[test]
fn only_design_md_edges_exist() {
    let edges = workspace_edges();
    for layer in LAYERS {
        assert!(
            edges.contains_key(layer),
            "workspace is missing crate {layer}"
        );
    }
    let bad = layer_violations(&edges);
    assert!(bad.is_empty(), "layering violations:\n{}", bad.join("\n"));
}

#[test]
fn the_check_catches_an_upward_edge() {
    let mut edges = BTreeMap::new();
    edges.insert("tauro-io".to_string(), vec!["tauro-exec".to_string()]);
    edges.insert("tauro-exec".to_string(), vec!["tauro-config".to_string()]);
    assert_eq!(
        layer_violations(&edges),
        vec!["tauro-io -> tauro-exec is not an allowed edge"]
    );
}
