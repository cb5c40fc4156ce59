#!/usr/bin/env python3
"""What each Spark Connect call of a node costs: one chain step (read parquet, temp view, SQL,
write parquet) done the way the hand-written script does it and with the extra calls Tauro
makes per node, timed call by call on the official client.

usage: rpc_cost.py REMOTE WORKDIR [STEPS]

Per step, in this order (the ones marked * are what Tauro adds to the script's two):
  session*   a new server-side session and its first call (Tauro: one session per node
             attempt, with the project's Spark settings set on it: one Config call)
  schema*    AnalyzePlan of the input (Tauro: the schema of every input it loads)
  view       createOrReplaceTempView (ExecutePlan)
  write      the parquet write (ExecutePlan)
  out_schema*  AnalyzePlan of the output frame (Tauro: lineage schema of every output)
Steps alternate between the script's way (shared session, no schema calls) and Tauro's; prints
the median of each call over STEPS (default 30) steps of each kind, in milliseconds.
"""
import json
import os
import statistics
import sys
import time

from pyspark.sql import SparkSession


def main():
    remote, work = sys.argv[1], os.path.abspath(sys.argv[2])
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    shared = SparkSession.builder.remote(remote).getOrCreate()
    shared.range(1000).selectExpr("id", "id * 0.5 AS value").write.mode("overwrite") \
        .parquet(f"{work}/c0")
    # Steps alternate: the script's way (one shared session, no schema calls), Tauro's way.
    costs = {m: {k: [] for k in ("session", "schema", "view", "sql", "write", "out_schema",
                                 "total")} for m in ("script", "tauro")}
    for i in range(1, 2 * steps + 1):
        mode = "tauro" if i % 2 else "script"
        cost = costs[mode]
        t0 = t = time.perf_counter()
        if mode == "tauro":
            spark = SparkSession.builder.remote(remote).create()  # a new session id
            spark.conf.set("spark.sql.session.timeZone", "UTC")
        else:
            spark = shared
        cost["session"].append(time.perf_counter() - t)
        df = spark.read.parquet(f"{work}/c{i - 1}")
        t = time.perf_counter()
        if mode == "tauro":
            df.schema  # noqa: B018 (AnalyzePlan)
        cost["schema"].append(time.perf_counter() - t)
        t = time.perf_counter()
        df.createOrReplaceTempView("prev")
        cost["view"].append(time.perf_counter() - t)
        t = time.perf_counter()
        out = spark.sql("SELECT id, value + 1 AS value FROM prev")
        cost["sql"].append(time.perf_counter() - t)
        t = time.perf_counter()
        out.write.mode("overwrite").parquet(f"{work}/c{i}")
        cost["write"].append(time.perf_counter() - t)
        t = time.perf_counter()
        if mode == "tauro":
            out.schema  # noqa: B018
        cost["out_schema"].append(time.perf_counter() - t)
        cost["total"].append(time.perf_counter() - t0)
    med = {m: {k: round(statistics.median(v) * 1000, 1) for k, v in c.items()}
           for m, c in costs.items()}
    print(json.dumps({"steps": steps, "median_ms": med}))


if __name__ == "__main__":
    main()
