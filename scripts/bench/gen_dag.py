#!/usr/bin/env python3
"""Writes the Tauro projects of the `scripts/bench.sh pyspark` comparison.

usage: gen_dag.py DIR wide|deep [NODES] [WORKERS]

- wide: NODES (default 64) independent SQL nodes `make_w<i>`, each reading the small CSV input
  `src` and writing parquet output `w<i>`; then one fan-in node `fan_in` reading all of them
  and writing `wide_total`.
- deep: a chain of NODES (default 64) SQL nodes `step<i>`; `step0` reads `src`, every other
  node reads the previous node's parquet output `d<i-1>` and writes `d<i>`.

The input (`data/src.csv`, 1,000 rows, declared schema) is written too. Outputs go under
`${BENCH_OUT:-out}`. The SQL text comes from the functions below, which the hand-written
script of the comparison (`pyclient_bench.py`) imports, so both sides run the same queries.
"""
import json
import os
import sys

SRC_ROWS = 1000
SRC_SCHEMA = "id BIGINT, grp STRING, value DOUBLE"


def wide_sql(i):
    """The query of wide node i (reads view `src`)."""
    return (f"SELECT id, grp, value * {i + 1} AS value, {i} AS k FROM src "
            f"WHERE id % 4 = {i % 4}")


def fan_in_sql(n):
    """The fan-in query over views w0..w<n-1>."""
    union = "\n  UNION ALL ".join(f"SELECT k, grp, value FROM w{i}" for i in range(n))
    return (f"SELECT k, grp, count(*) AS n, sum(value) AS total FROM (\n  {union}\n) "
            f"GROUP BY k, grp")


def deep_sql(i):
    """The query of chain node i (reads `src` for i = 0, else `d<i-1>`)."""
    source = "src" if i == 0 else f"d{i - 1}"
    return f"SELECT id, grp, value + 1 AS value FROM {source}"


def write_src(path):
    """The shared CSV input."""
    with open(path, "w") as f:
        f.write("id,grp,value\n")
        for r in range(SRC_ROWS):
            f.write(f"{r},{'abcd'[r % 4]},{r * 0.5}\n")


def write_project(out, files):
    """Writes a project's config files (name -> YAML text, e.g. `nodes`, `global_settings`)
    to OUT/config/<name>.yaml and the `settings_yml.json` that points at them."""
    os.makedirs(os.path.join(out, "config"), exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(out, "config", f"{name}.yaml"), "w") as f:
            f.write(text)
    settings = {"base_path": ".", "env_config": {"base": {
        f"{k}_path" if k == "global_settings" else f"{k}_config_path": f"config/{k}.yaml"
        for k in files}}}
    with open(os.path.join(out, "settings_yml.json"), "w") as f:
        json.dump(settings, f, indent=2)


def main():
    out, kind = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 64
    workers = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    os.makedirs(os.path.join(out, "config"), exist_ok=True)
    os.makedirs(os.path.join(out, "data"), exist_ok=True)
    write_src(os.path.join(out, "data", "src.csv"))

    nodes, outputs, names = [], [], []

    def node(name, inputs, output, sql, deps):
        names.append(name)
        body = sql.replace("\n", "\n    ")
        nodes.append(f"{name}:\n  input: [{', '.join(inputs)}]\n  output: [{output}]\n"
                     f"  dependencies: [{', '.join(deps)}]\n  sql: |\n    {body}\n")
        outputs.append(f"{output}:\n  format: parquet\n  filepath: {kind}/{output}\n"
                       f"  write_mode: overwrite\n")

    if kind == "wide":
        for i in range(n):
            node(f"make_w{i}", ["src"], f"w{i}", wide_sql(i), [])
        node("fan_in", [f"w{i}" for i in range(n)], "wide_total", fan_in_sql(n),
             [f"make_w{i}" for i in range(n)])
    elif kind == "deep":
        for i in range(n):
            node(f"step{i}", ["src" if i == 0 else f"d{i - 1}"], f"d{i}", deep_sql(i),
                 [] if i == 0 else [f"step{i - 1}"])
    else:
        sys.exit(f"unknown kind {kind!r}: use wide or deep")

    files = {
        "global_settings": f"project_name: bench_{kind}\ninput_path: data\n"
                           f"output_path: ${{BENCH_OUT:-out}}\nmax_workers: {workers}\n"
                           "spark:\n  config:\n    spark.sql.session.timeZone: UTC\n",
        "pipelines": f"{kind}:\n  type: batch\n  requires_dates: false\n"
                     f"  nodes: [{', '.join(names)}]\n",
        "nodes": "".join(nodes),
        "input": f"src:\n  format: csv\n  filepath: src.csv\n  schema: \"{SRC_SCHEMA}\"\n"
                 "  options: { header: true }\n",
        "output": "".join(outputs),
    }
    write_project(out, files)
    print(f"wrote the {kind} project ({len(names)} nodes) to {out}")


if __name__ == "__main__":
    main()
