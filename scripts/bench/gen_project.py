#!/usr/bin/env python3
"""Writes a synthetic Tauro project with N nodes (default 1000) for `tauro-cli validate` timing.

usage: gen_project.py DIR [NODES] [PIPELINES]

Each pipeline is a layered DAG: every node depends on up to three nodes of the previous layer
and reads one input, writes one output; SQL nodes and function nodes are mixed.
"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_dag  # noqa: E402  (write_project)

out = sys.argv[1]
nodes_total = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
pipelines_total = int(sys.argv[3]) if len(sys.argv) > 3 else 10
os.makedirs(os.path.join(out, "config"), exist_ok=True)

per_pipeline = nodes_total // pipelines_total
width = 10
pipelines, nodes, inputs, outputs = [], [], [], []
for p in range(pipelines_total):
    names = [f"p{p}_n{i}" for i in range(per_pipeline)]
    pipelines.append(f"pipeline_{p}:\n  type: batch\n  nodes: [{', '.join(names)}]\n")
    inputs.append(f"src_{p}:\n  format: csv\n  filepath: src_{p}.csv\n  options: {{ header: true }}\n")
    for i, name in enumerate(names):
        layer = i // width
        deps = []
        if layer > 0:
            first = (layer - 1) * width
            deps = [names[first + (i + k) % width] for k in range(3)]
        compute = (f"  sql: SELECT id, value FROM src_{p} WHERE id > {i} AND value < :end_date\n"
                   if i % 3 else "  function: passthrough\n")
        nodes.append(f"{name}:\n  input: [src_{p}]\n  output: [out_{name}]\n{compute}"
                     f"  dependencies: [{', '.join(deps)}]\n  tags: [bench, layer{layer}]\n")
        outputs.append(f"out_{name}:\n  format: parquet\n  filepath: out/{name}\n"
                       f"  write_mode: overwrite\n  partition_by: [value]\n")

files = {
    "global_settings": "project_name: bench\ninput_path: data\noutput_path: ${BENCH_OUT:-out}\n"
                       "start_date: \"2025-01-01\"\nmax_workers: 8\n",
    "pipelines": "".join(pipelines),
    "nodes": "".join(nodes),
    "input": "".join(inputs),
    "output": "".join(outputs),
}
gen_dag.write_project(out, files)
print(f"wrote {nodes_total} nodes in {pipelines_total} pipelines to {out}")
