#!/usr/bin/env python3
"""Tauro vs the same pipelines hand-written on the PySpark Spark Connect client.

usage: compare.py --cli TAURO_CLI --python VENV_PYTHON --remote sc://HOST:PORT
                  [--rounds 5] [--workers 4] [--work DIR] [--workloads daily_etl,wide,deep]

For each workload, each round runs, one after the other: Tauro (`exec --full`), the script
sequentially, the script on a thread pool of `--workers` threads (A B C A B C ...), after one
unmeasured warm-up run of each. The time is the wall time of the whole process (start, imports
or config load, session, pipeline, exit), as a user sees it. Tauro's `--output json` reports are
kept in WORK/reports/ (per-node durations). Prints the medians and the ratios, and writes them
to WORK/summary.json.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--python", required=True)
    ap.add_argument("--remote", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--work", default=None)
    ap.add_argument("--workloads", default="daily_etl,wide,deep")
    a = ap.parse_args()
    work = os.path.abspath(a.work or os.path.join(os.getcwd(), "target", "bench-pyspark"))
    os.makedirs(os.path.join(work, "reports"), exist_ok=True)
    cli = os.path.abspath(a.cli)
    script = os.path.join(HERE, "pyclient_bench.py")

    projects = {}
    for wl in a.workloads.split(","):
        proj = os.path.join(work, "projects", wl)
        shutil.rmtree(proj, ignore_errors=True)
        if wl == "daily_etl":
            shutil.copytree(os.path.join(ROOT, "examples", "daily_etl"), proj,
                            ignore=shutil.ignore_patterns(".tauro", "out"))
        else:
            subprocess.run([sys.executable, os.path.join(HERE, "gen_dag.py"), proj, wl, "64",
                            str(a.workers)], check=True, stdout=subprocess.DEVNULL)
        projects[wl] = proj

    def commands(wl):
        proj = projects[wl]
        out_t = os.path.join(work, "out", f"tauro_{wl}")
        out_s = os.path.join(work, "out", f"script_{wl}")
        env = dict(os.environ, DAILY_ETL_OUTPUT=out_t, BENCH_OUT=out_t)
        tauro = [cli, "--output", "json", "exec", "--project", proj, "--pipeline", wl,
                 "--remote", a.remote, "--max-workers", str(a.workers), "--full"]
        if wl == "daily_etl":
            tauro += ["--start", "2025-01-01", "--end", "2025-01-14"]
        return {
            "tauro": (tauro, env),
            "script_seq": ([a.python, script, wl, proj, out_s, a.remote, "1"], os.environ),
            "script_pool": ([a.python, script, wl, proj, out_s, a.remote, str(a.workers)],
                            os.environ),
        }

    def run(wl, variant, tag):
        cmd, env = commands(wl)[variant]
        t = time.perf_counter()
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        secs = time.perf_counter() - t
        if p.returncode != 0:
            sys.exit(f"{wl} {variant} failed ({p.returncode}):\n{p.stdout[-3000:]}\n"
                     f"{p.stderr[-3000:]}")
        if variant == "tauro":
            with open(os.path.join(work, "reports", f"{wl}_{tag}.json"), "w") as f:
                f.write(p.stdout)
        else:
            inner = json.loads(p.stdout.strip().splitlines()[-1])
            with open(os.path.join(work, "reports", f"{wl}_{variant}_{tag}.json"), "w") as f:
                json.dump(inner, f)
        return secs

    variants = ["tauro", "script_seq", "script_pool"]
    times = {(wl, v): [] for wl in projects for v in variants}
    for wl in projects:
        for v in variants:
            run(wl, v, "warmup")
    for r in range(a.rounds):
        for wl in projects:
            for v in variants:
                secs = run(wl, v, f"r{r}")
                times[(wl, v)].append(secs)
                print(f"round {r + 1}/{a.rounds} {wl:<9} {v:<11} {secs:7.2f} s", flush=True)

    summary = {}
    print(f"\nmedians of {a.rounds} interleaved rounds, --max-workers / pool width {a.workers}:")
    print(f"{'workload':<10} {'tauro':>8} {'script':>8} {'pool':>8}  "
          f"{'tauro/script':>12} {'tauro/pool':>10} {'tauro/best':>10}")
    for wl in projects:
        m = {v: statistics.median(times[(wl, v)]) for v in variants}
        best = min(m["script_seq"], m["script_pool"])
        summary[wl] = {"median_secs": m, "runs": {v: times[(wl, v)] for v in variants},
                       "ratio_vs_best": m["tauro"] / best}
        print(f"{wl:<10} {m['tauro']:8.2f} {m['script_seq']:8.2f} {m['script_pool']:8.2f}  "
              f"{m['tauro'] / m['script_seq']:12.2f} {m['tauro'] / m['script_pool']:10.2f} "
              f"{m['tauro'] / best:10.2f}")
    with open(os.path.join(work, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(f"\nTauro reports (per-node durations): {work}/reports")


if __name__ == "__main__":
    main()
