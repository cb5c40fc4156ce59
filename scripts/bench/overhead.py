#!/usr/bin/env python3
"""Per-node overhead of Tauro on a fast engine (Sail): project generator and report reader.

usage:
  overhead.py gen DIR [NODES] [off]      write a project with pipelines `chain` and `wide`
                                         (`off`: lineage off)
  overhead.py report RUN.json [RUN.json ...]   per-node overhead of `--output json` reports

Every node is a typical small one: it reads one dataset as a temp view (`wide`: the same
3-row CSV input; `chain`: the previous node's output), runs `SELECT *` with one computed
column, and writes a parquet output (overwrite). Lineage is on (the default) unless `off`
is given. The project sets one session conf, like the examples.

With lineage on, a node's schema requests run while its write runs, so the RPC time counts
some time twice and the overhead below is a lower bound; with lineage off every RPC of an
attempt runs alone and the subtraction is exact.

Overhead per node = (run wall time - time inside Spark Connect RPCs) / nodes, where the RPC
time is the sum of every node's `spark.rpc_secs` (the time its session waited for the
server). The rest of a node's own duration is Tauro's work inside the attempt; the time
between nodes (run wall time - sum of node durations) is scheduling, state and events.
"""
import json
import os
import statistics
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_dag  # noqa: E402  (write_project)


def gen(out, n, lineage=True):
    os.makedirs(os.path.join(out, "config"), exist_ok=True)
    os.makedirs(os.path.join(out, "data"), exist_ok=True)
    with open(os.path.join(out, "data", "seed.csv"), "w") as f:
        f.write("id,name\n1,a\n2,b\n3,c\n")
    nodes, outputs = [], []
    chain = [f"c{i:04d}" for i in range(n)]
    wide = [f"w{i:04d}" for i in range(n)]
    for i, name in enumerate(chain):
        src = "seed" if i == 0 else f"out_{chain[i - 1]}"
        view = src
        deps = f"  dependencies: [{chain[i - 1]}]\n" if i else ""
        nodes.append(f"{name}:\n  input: [{src}]\n  output: [out_{name}]\n{deps}"
                     f"  sql: SELECT id, name, {i} AS step FROM {view}\n")
        outputs.append(f"out_{name}:\n  format: parquet\n  filepath: chain/{name}\n"
                       f"  write_mode: overwrite\n")
    for i, name in enumerate(wide):
        nodes.append(f"{name}:\n  input: [seed]\n  output: [out_{name}]\n"
                     f"  sql: SELECT id, name, {i} AS step FROM seed\n")
        outputs.append(f"out_{name}:\n  format: parquet\n  filepath: wide/{name}\n"
                       f"  write_mode: overwrite\n")
    files = {
        "global_settings": (
            "project_name: overhead\ninput_path: data\noutput_path: ${OVERHEAD_OUT:-out}\n"
            "start_date: \"2025-01-01\"\nmax_workers: 1\nmax_retries: 0\n"
            "spark:\n  remote: local\n  engine: sail\n"
            "  config:\n    spark.sql.session.timeZone: UTC\n"
            + ("" if lineage else "lineage:\n  enabled: false\n")),
        "pipelines": (f"chain:\n  type: batch\n  nodes: [{', '.join(chain)}]\n"
                      f"wide:\n  type: batch\n  nodes: [{', '.join(wide)}]\n"),
        "nodes": "".join(nodes),
        "input": ("seed:\n  format: csv\n  filepath: seed.csv\n"
                  "  schema: \"id INT, name STRING\"\n"),
        "output": "".join(outputs),
    }
    gen_dag.write_project(out, files)


def one(path):
    with open(path) as f:
        r = json.load(f)
    nodes = r["nodes"]
    n = len(nodes)
    wall = r["duration_secs"]
    rpc = sum(x.get("spark", {}).get("rpc_secs", 0.0) for x in nodes)
    rpcs = sum(x.get("spark", {}).get("rpcs", 0) for x in nodes)
    node_sum = sum(x["duration_secs"] or 0.0 for x in nodes)
    kinds = {}
    for x in nodes:
        for k, v in x.get("spark", {}).get("by_kind", {}).items():
            kinds[k] = kinds.get(k, 0) + v
    lin = {"load": 0.0, "write": 0.0, "lineage": 0.0}
    for x in nodes:
        t = (x.get("lineage") or {}).get("timings") or {}
        for k in lin:
            lin[k] += t.get(f"{k}_secs", t.get(k, 0.0)) or 0.0
    # The whole process (start, configuration, connection, plan, state and lineage files),
    # when the bench script recorded it next to the report (`<report>.wall`, seconds).
    process = None
    if os.path.exists(path[:-5] + ".wall"):
        with open(path[:-5] + ".wall") as f:
            process = float(f.read().strip())
    return {
        "pipeline": r["pipeline"], "status": r["status"], "nodes": n, "wall": wall,
        "process": process,
        "rpcs": rpcs, "rpc": rpc, "node_sum": node_sum, "kinds": kinds, "lin": lin,
    }


def report(paths):
    runs = [one(p) for p in paths]
    by = {}
    for r in runs:
        by.setdefault(r["pipeline"], []).append(r)
    for pipeline, rs in by.items():
        n = rs[0]["nodes"]
        med = lambda f: statistics.median(f(r) for r in rs)  # noqa: E731
        over = med(lambda r: (r["wall"] - r["rpc"]) / r["nodes"] * 1000)
        inside = med(lambda r: (r["node_sum"] - r["rpc"]) / r["nodes"] * 1000)
        between = med(lambda r: (r["wall"] - r["node_sum"]) / r["nodes"] * 1000)
        print(f"{pipeline}: {n} nodes, {len(rs)} runs, status {sorted({r['status'] for r in rs})}")
        print(f"  wall {med(lambda r: r['wall']):.3f} s  = {med(lambda r: r['wall'] / r['nodes'] * 1000):.2f} ms/node")
        if all(r["process"] is not None for r in rs):
            print(f"  process wall {med(lambda r: r['process']):.3f} s; "
                  f"(process wall - RPC time) / nodes: "
                  f"{med(lambda r: (r['process'] - r['rpc']) / r['nodes'] * 1000):.2f} ms/node")
        print(f"  in RPCs {med(lambda r: r['rpc'] / r['nodes'] * 1000):.2f} ms/node, "
              f"{med(lambda r: r['rpcs'] / r['nodes']):.1f} RPCs/node {rs[0]['kinds']}")
        print(f"  overhead (wall - RPC time) / nodes: {over:.2f} ms/node")
        print(f"    inside attempts (node time - RPC time): {inside:.2f} ms/node")
        print(f"    between attempts (wall - node time; scheduling, state, events): {between:.2f} ms/node")
        for k in ("load", "write", "lineage"):
            print(f"  lineage timings: {k} {med(lambda r: r['lin'][k] / r['nodes'] * 1000):.2f} ms/node")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "gen":
        gen(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 200,
            lineage=sys.argv[4:5] != ["off"])
    elif len(sys.argv) >= 3 and sys.argv[1] == "report":
        report(sys.argv[2:])
    else:
        sys.exit(__doc__)
