#!/usr/bin/env python3
"""The benchmark pipelines written by hand on the PySpark Spark Connect client.

usage: pyclient_bench.py daily_etl|wide|deep PROJECT OUT REMOTE WORKERS

What a user would write instead of a Tauro project, doing the same work as Tauro does for them:
read each input, register it as a temp view under the input's name, run the node's SQL (the
run window bound as named DATE parameters), check daily_etl's expectations, write each output
with the same format, save mode and partitioning, register daily_etl's catalog table.
Downstream nodes read what upstream nodes wrote, as Tauro's nodes do.

WORKERS 1 runs the nodes one after the other in dependency order; WORKERS > 1 runs them on a
ThreadPoolExecutor of that width, each node submitted as soon as its dependencies are done.
All nodes share one Spark session. Prints one JSON line: the wall time of the pipeline, of the
process start (imports and session) and of each node.

PROJECT is the Tauro project (its data/ and sql/ folders are read); OUT is where the outputs go.
Run with the Python of a virtualenv holding `pyspark-client`.
"""
import datetime
import json
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

T0 = time.perf_counter()
from pyspark.sql import SparkSession  # noqa: E402

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_dag  # noqa: E402  (the SQL of the wide and deep projects)

START, END = datetime.date(2025, 1, 1), datetime.date(2025, 1, 14)
DATES = {"start_date": START, "end_date": END}


def read(spark, fmt, path, schema=None, **options):
    reader = spark.read.format(fmt).options(**options)
    if schema:
        reader = reader.schema(schema)
    return reader.load(path)


def view(spark, name, df):
    df.createOrReplaceTempView(name)


def write(df, fmt, path, partition_by=None):
    writer = df.write.format(fmt).mode("overwrite")
    if partition_by:
        writer = writer.option("partitionOverwriteMode", "dynamic").partitionBy(*partition_by)
    writer.save(path)


def check(df, node, checks):
    """One aggregate over the result: fails on a violated `fail` check, returns the frame with
    the rows of `drop` checks filtered out. checks: (name, kind, sql, action); kind `row`
    counts rows where sql is not true, `unique` counts duplicate keys of the column list sql."""
    aggs = ["count(*) AS total"]
    for i, (_, kind, sql, _) in enumerate(checks):
        aggs.append(f"count_if(NOT coalesce({sql}, false)) AS f{i}" if kind == "row"
                    else f"count_if({sql} IS NOT NULL) - count(DISTINCT {sql}) AS f{i}")
    row = df.selectExpr(*aggs).collect()[0]
    for i, (name, _, sql, action) in enumerate(checks):
        if row[f"f{i}"] and action == "fail":
            raise RuntimeError(f"{node}: expectation {name} failed on {row[f'f{i}']} rows")
        if action == "drop":
            df = df.filter(f"coalesce({sql}, false)")
    return df


def daily_etl(spark, project, out):
    data = os.path.join(project, "data")

    def sql_file(name):
        with open(os.path.join(project, "sql", name)) as f:
            return f.read()

    def extract_orders():
        view(spark, "raw_orders", read(
            spark, "csv", os.path.join(data, "orders/*.csv"), header="true",
            schema="order_id BIGINT, customer_id INT, product_id STRING, quantity INT, "
                   "status STRING, order_ts TIMESTAMP"))
        df = spark.sql("""
            SELECT order_id, customer_id, product_id, quantity, status,
                   order_ts, CAST(order_ts AS DATE) AS order_date
            FROM raw_orders
            WHERE CAST(order_ts AS DATE) BETWEEN :start_date AND :end_date""", args=DATES)
        write(df, "parquet", f"{out}/bronze/orders", ["order_date"])

    def extract_customers():
        df = read(spark, "json", os.path.join(data, "customers"),
                  schema="customer_id INT, name STRING, email STRING, country STRING, "
                         "signup_date DATE")
        view(spark, "raw_customers", df)
        write(df, "parquet", f"{out}/bronze/customers")

    def clean_orders():
        view(spark, "bronze_orders", read(spark, "parquet", f"{out}/bronze/orders"))
        df = spark.sql(sql_file("clean_orders.sql"), args=DATES)
        df = check(df, "clean_orders", [
            ("order_keys", "row",
             "(order_id IS NOT NULL AND customer_id IS NOT NULL AND order_date IS NOT NULL)",
             "fail"),
            ("one_row_per_order", "unique", "order_id", "fail"),
            ("sane_quantity", "row", "(quantity >= 1 AND quantity <= 1000)", "drop"),
        ])
        write(df, "parquet", f"{out}/silver/orders", ["order_date"])

    def clean_customers():
        view(spark, "bronze_customers", read(spark, "parquet", f"{out}/bronze/customers"))
        write(spark.sql(sql_file("clean_customers.sql")), "parquet", f"{out}/silver/customers")

    def enrich_orders():
        view(spark, "silver_orders", read(spark, "parquet", f"{out}/silver/orders"))
        view(spark, "silver_customers", read(spark, "parquet", f"{out}/silver/customers"))
        view(spark, "products", read(spark, "csv", os.path.join(data, "products.csv"),
                                     header="true", inferSchema="true"))
        df = spark.sql(sql_file("enrich_orders.sql"), args=DATES)
        write(df, "parquet", f"{out}/silver/order_lines", ["order_date"])

    def lines():
        view(spark, "silver_order_lines", read(spark, "parquet", f"{out}/silver/order_lines"))

    def daily_revenue():
        lines()
        df = spark.sql("""
            SELECT order_date, country,
                   COUNT(DISTINCT order_id) AS orders,
                   SUM(quantity)            AS items,
                   ROUND(SUM(line_total), 2) AS revenue
            FROM silver_order_lines
            WHERE order_date BETWEEN :start_date AND :end_date
            GROUP BY order_date, country""", args=DATES)
        df = check(df, "daily_revenue", [
            ("non_negative_revenue", "row", "(sign(revenue) >= 0)", "fail"),
            ("has_country", "row", "(country IS NOT NULL)", "warn"),
        ])
        write(df, "parquet", f"{out}/gold/daily_revenue", ["order_date"])

    def category_sales():
        lines()
        df = spark.sql("""
            SELECT order_date, category,
                   SUM(quantity)             AS items,
                   ROUND(SUM(line_total), 2) AS revenue
            FROM silver_order_lines
            WHERE order_date BETWEEN :start_date AND :end_date
            GROUP BY order_date, category""", args=DATES)
        write(df, "json", f"{out}/gold/category_sales", ["order_date"])

    def customer_summary():
        lines()
        df = spark.sql("""
            SELECT customer_id, customer_name, country,
                   COUNT(DISTINCT order_id)  AS orders,
                   ROUND(SUM(line_total), 2) AS lifetime_value,
                   MAX(order_date)           AS last_order_date
            FROM silver_order_lines
            GROUP BY customer_id, customer_name, country""")
        path = f"{out}/gold/customer_summary"
        write(df, "parquet", path)
        # The script's own table name, so that it does not touch Tauro's table.
        spark.sql(f"CREATE TABLE IF NOT EXISTS customer_summary_py USING parquet "
                  f"LOCATION '{path}'").collect()
        spark.sql("REFRESH TABLE customer_summary_py").collect()

    return {
        "extract_orders": ([], extract_orders),
        "extract_customers": ([], extract_customers),
        "clean_orders": (["extract_orders"], clean_orders),
        "clean_customers": (["extract_customers"], clean_customers),
        "enrich_orders": (["clean_orders", "clean_customers"], enrich_orders),
        "daily_revenue": (["enrich_orders"], daily_revenue),
        "category_sales": (["enrich_orders"], category_sales),
        "customer_summary": (["enrich_orders"], customer_summary),
    }


def src(spark, project):
    view(spark, "src", read(spark, "csv", os.path.join(project, "data", "src.csv"),
                            schema=gen_dag.SRC_SCHEMA, header="true"))


def wide(spark, project, out, n=64):
    def make(i):
        def run():
            src(spark, project)
            write(spark.sql(gen_dag.wide_sql(i)), "parquet", f"{out}/wide/w{i}")
        return run

    def fan_in():
        for i in range(n):
            view(spark, f"w{i}", read(spark, "parquet", f"{out}/wide/w{i}"))
        write(spark.sql(gen_dag.fan_in_sql(n)), "parquet", f"{out}/wide/wide_total")

    nodes = {f"make_w{i}": ([], make(i)) for i in range(n)}
    nodes["fan_in"] = (list(nodes), fan_in)
    return nodes


def deep(spark, project, out, n=64):
    def step(i):
        def run():
            if i == 0:
                src(spark, project)
            else:
                view(spark, f"d{i - 1}", read(spark, "parquet", f"{out}/deep/d{i - 1}"))
            write(spark.sql(gen_dag.deep_sql(i)), "parquet", f"{out}/deep/d{i}")
        return run

    return {f"step{i}": ([] if i == 0 else [f"step{i - 1}"], step(i)) for i in range(n)}


NODE_SECS = {}


def timed(name, fn):
    def run():
        t = time.perf_counter()
        fn()
        NODE_SECS[name] = round(time.perf_counter() - t, 4)
    return run


def run_sequential(nodes):
    for _, fn in nodes.values():  # declared in dependency order
        fn()


def run_pool(nodes, workers):
    done, running = set(), {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while len(done) < len(nodes):
            for name, (deps, fn) in nodes.items():
                if name not in done and name not in running.values() and \
                        all(d in done for d in deps):
                    running[pool.submit(fn)] = name
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                future.result()  # re-raises a node's error
                done.add(running.pop(future))


def main():
    workload, project, out, remote, workers = sys.argv[1:6]
    workers = int(workers)
    spark = SparkSession.builder.remote(remote).getOrCreate()
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    t1 = time.perf_counter()
    nodes = {"daily_etl": daily_etl, "wide": wide, "deep": deep}[workload](
        spark, os.path.abspath(project), os.path.abspath(out))
    nodes = {name: (deps, timed(name, fn)) for name, (deps, fn) in nodes.items()}
    if workers <= 1:
        run_sequential(nodes)
    else:
        run_pool(nodes, workers)
    t2 = time.perf_counter()
    print(json.dumps({"workload": workload, "workers": workers, "nodes": len(nodes),
                      "startup_secs": round(t1 - T0, 3), "pipeline_secs": round(t2 - t1, 3), "node_secs": NODE_SECS}))
    spark.stop()


if __name__ == "__main__":
    main()
