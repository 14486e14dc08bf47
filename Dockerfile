# syntax=docker/dockerfile:1
#
# rocket-cache: build the release binary, then run it on a small Debian image as a
# non-root user. Configuration comes from Rocket.toml and ROCKET_* variables (see
# README.md); docker-compose.yml wires MariaDB and Redis.

FROM rust:1-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# The cache engine, a workspace member the app depends on.
COPY crates ./crates
# Compiled into the binary: the migrations (embed_migrations!) and the stylesheet.
COPY migrations ./migrations
COPY static ./static
# Declared as a target in Cargo.toml; not built here.
COPY tests ./tests
# The caches keep the registry and build artefacts between builds (BuildKit);
# the binary is copied out of the cached target directory.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && cp target/release/rocket-cache target/release/hash-password /usr/local/bin/

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=builder /usr/local/bin/rocket-cache /usr/local/bin/hash-password /usr/local/bin/
COPY templates ./templates
COPY Rocket.toml ./
USER app
ENV ROCKET_CONFIG=/app/Rocket.toml \
    ROCKET_PROFILE=release \
    ROCKET_ADDRESS=0.0.0.0 \
    ROCKET_PORT=8000
EXPOSE 8000
CMD ["rocket-cache"]
