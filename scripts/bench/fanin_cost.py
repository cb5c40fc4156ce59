#!/usr/bin/env python3
"""How long registering the 64 inputs of the wide fan-in takes, one after the other vs
concurrently, with and without a schema call per input, on the official client.

usage: fanin_cost.py REMOTE WIDE_OUT [ROUNDS]

WIDE_OUT is a folder holding the wide workload's outputs w0..w63 (parquet), e.g. the script's
output folder of `scripts/bench.sh pyspark` (`target/bench-pyspark/out/script_wide/wide`).
Prints the median time of each way over ROUNDS (default 5) rounds, in seconds.
"""
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from pyspark.sql import SparkSession


def main():
    remote, out = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    spark = SparkSession.builder.remote(remote).getOrCreate()

    def load(i, schema):
        df = spark.read.parquet(f"{out}/w{i}")
        if schema:
            df.schema  # noqa: B018 (AnalyzePlan, as Tauro does per input)
        df.createOrReplaceTempView(f"w{i}")

    ways = {
        "sequential, view only (the script)": (1, False),
        "sequential, schema + view (Tauro today)": (1, True),
        "8 threads, schema + view": (8, True),
        "8 threads, view only": (8, False),
    }
    times = {w: [] for w in ways}
    for _ in range(rounds):
        for way, (threads, schema) in ways.items():
            t = time.perf_counter()
            if threads == 1:
                for i in range(64):
                    load(i, schema)
            else:
                with ThreadPoolExecutor(threads) as pool:
                    list(pool.map(lambda i, s=schema: load(i, s), range(64)))
            times[way].append(time.perf_counter() - t)
    print(json.dumps({w: round(statistics.median(v), 2) for w, v in times.items()}, indent=1))


if __name__ == "__main__":
    main()
