# syntax=docker/dockerfile:1
# The tauro-cli binary in a small Debian image. The build context is the repository root:
#
#   docker build -f docker/tauro.Dockerfile -t tauro .
#
# The image has no Java and no Spark: it runs pipelines on a Spark Connect server given by
# `--remote sc://host:15002`, TAURO_SPARK_REMOTE or `spark.remote` (not `local`).
# Not built by the project's CI (its machines have no Docker engine); see docker/README.md.

# At least the workspace's rust-version (1.90); builder and runtime share a Debian release so
# the binary finds the glibc it was linked against.
ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=trixie

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
# protoc: the Spark Connect client crates compile Spark's protobuf definitions.
RUN apt-get update \
    && apt-get install -y --no-install-recommends protobuf-compiler \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Cache mounts keep the downloaded crates and the target directory from one build to the next:
# after a change to tauro's sources only tauro's own crates compile again. The binary is copied
# out of the cached target directory, which is not part of the image layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p tauro-cli \
    && install -D -m 0755 target/release/tauro-cli /out/tauro-cli

FROM debian:${DEBIAN_RELEASE}-slim
# CA certificates: TLS to remote Spark Connect servers (use_ssl=true) and to PostgreSQL.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 10001 tauro \
    && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/tauro tauro
COPY --from=build /out/tauro-cli /usr/local/bin/tauro-cli
USER 10001:10001
WORKDIR /srv/tauro
ENTRYPOINT ["/usr/local/bin/tauro-cli"]
CMD ["--help"]
