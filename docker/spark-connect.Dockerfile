# Spark Connect server from the pyspark wheel (Spark 4.x bundles the Connect server jar).
# Not built on the project's build machines (no Docker engine there); see docker/README.md.
FROM eclipse-temurin:17-jre
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv curl \
    && rm -rf /var/lib/apt/lists/*
ARG PYSPARK_VERSION=4.3.0
RUN python3 -m venv /opt/spark-venv && /opt/spark-venv/bin/pip install --no-cache-dir "pyspark==${PYSPARK_VERSION}"
ENV SPARK_HOME=/opt/spark-venv/lib/python3.12/site-packages/pyspark
EXPOSE 15002
CMD ["sh", "-c", "exec \"$SPARK_HOME/bin/spark-submit\" --class org.apache.spark.sql.connect.service.SparkConnectServer --master 'local[*]' --conf spark.connect.grpc.binding.address=0.0.0.0 --conf spark.connect.grpc.binding.port=15002 --conf spark.ui.enabled=false"]
