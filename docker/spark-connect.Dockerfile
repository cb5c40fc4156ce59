# syntax=docker/dockerfile:1
# A Spark Connect server for tauro with the Delta Lake and Kafka connectors in the image.
#
#   docker build -f docker/spark-connect.Dockerfile -t tauro-spark-connect docker/
#
# Versions. Delta Lake publishes one artifact per Spark minor line
# (io.delta:delta-spark_<spark minor>_<scala>) and each Delta release declares the Spark
# releases it supports: Delta 4.4.1 supports Spark 4.0.1 up to 4.2.0. The image therefore runs
# Spark 4.2.0, the newest Spark that has a Delta release (the Spark 4.3 that the project's local
# tests use has none yet); tauro's Spark Connect client speaks the 4.2 protocol. The Kafka
# connector is part of Spark itself and must carry exactly the Spark version. Change the ARGs
# together, e.g. SPARK_VERSION=4.0.1 keeps DELTA_VERSION=4.4.1 (artifact delta-spark_4.0_2.13).
#
# Not built by the project's CI (its machines have no Docker engine); see docker/README.md.
FROM eclipse-temurin:17-jre-noble

ARG SPARK_VERSION=4.2.0
ARG DELTA_VERSION=4.4.1
ARG SCALA_BINARY_VERSION=2.13

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# python3 runs pip (and nothing at run time); curl is the health check's HTTP/2 client.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv curl \
    && rm -rf /var/lib/apt/lists/*

# Spark from the pyspark wheel, as in the project's local setup: the wheel carries the Spark
# jars, the Spark Connect server, Hive support with Derby, and bin/spark-submit.
RUN python3 -m venv /opt/spark-venv \
    && /opt/spark-venv/bin/pip install --no-cache-dir "pyspark==${SPARK_VERSION}" \
    && ln -s "$(/opt/spark-venv/bin/python -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')" /opt/spark
ENV SPARK_HOME=/opt/spark \
    PYSPARK_PYTHON=/opt/spark-venv/bin/python \
    PATH=/opt/spark/bin:/opt/spark-venv/bin:$PATH

# The connectors are resolved here, once, by Spark's own resolver (what `--packages` does at
# start-up), so the server never downloads anything when it starts. spark-submit resolves the
# packages into /opt/spark-ivy/jars and then runs a script that does nothing. Besides the two
# named packages this brings their dependencies: delta-storage for Delta;
# spark-token-provider-kafka-0-10, kafka-clients and commons-pool2 for Kafka.
RUN spark_line="${SPARK_VERSION%.*}" \
    && packages="io.delta:delta-spark_${spark_line}_${SCALA_BINARY_VERSION}:${DELTA_VERSION}" \
    && packages="${packages},org.apache.spark:spark-sql-kafka-0-10_${SCALA_BINARY_VERSION}:${SPARK_VERSION}" \
    && echo 'pass' > /tmp/resolve-only.py \
    && spark-submit --master 'local[1]' --conf spark.jars.ivy=/opt/spark-ivy \
        --packages "${packages}" /tmp/resolve-only.py \
    && rm -rf /tmp/resolve-only.py /opt/spark-ivy/cache \
    && ls -1 /opt/spark-ivy/jars

# Server settings (docker/spark-defaults.conf) plus `spark.jars`: every resolved jar, put on
# the server's class path at start-up exactly as `--packages` would.
ENV SPARK_CONF_DIR=/opt/spark-conf
COPY spark-defaults.conf /opt/spark-conf/spark-defaults.conf
RUN printf '\n# Connector jars resolved at image build time.\nspark.jars %s\n' \
        "$(find /opt/spark-ivy/jars -name '*.jar' | sort | paste -sd, -)" \
        >> /opt/spark-conf/spark-defaults.conf

COPY --chmod=0755 spark-connect-healthcheck.sh /usr/local/bin/spark-connect-healthcheck

# A non-root user (uid 185, as in Apache Spark's own images) owning /data: the warehouse, the
# Derby metastore and the outputs of the example pipelines. A named volume mounted on /data
# starts as a copy of this directory, ownership included.
RUN groupadd --gid 185 spark \
    && useradd --uid 185 --gid 185 --create-home --home-dir /home/spark spark \
    && mkdir -p /data/warehouse /data/metastore /data/out \
    && chown -R 185:185 /data
USER 185:185
WORKDIR /home/spark
VOLUME ["/data"]

# The driver is the whole server in local mode; override at run time (-e SPARK_DRIVER_MEMORY=4g).
ENV SPARK_DRIVER_MEMORY=2g
# 15002: Spark Connect (gRPC). 4040: Spark UI (jobs and streaming queries).
EXPOSE 15002 4040

# Healthy once the gRPC endpoint answers a gRPC call (see the script); the first start takes
# a while (JVM, Hive metastore creation).
HEALTHCHECK --interval=10s --timeout=6s --start-period=90s --retries=6 \
    CMD ["spark-connect-healthcheck"]

# spark-submit execs the JVM, which becomes PID 1 and stops cleanly on SIGTERM.
CMD ["spark-submit", "--class", "org.apache.spark.sql.connect.service.SparkConnectServer", \
     "--name", "tauro-spark-connect"]
