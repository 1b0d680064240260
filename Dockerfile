# One image for every Smez process: `smez serve <targets>`.
# Build:  docker build -t smez .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p smez \
    && cp target/release/smez /usr/local/bin/smez

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg fontconfig fonts-dejavu-core ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/smez --create-home smez
COPY --from=build /usr/local/bin/smez /usr/local/bin/smez
USER smez
WORKDIR /var/lib/smez
ENV SMEZ_DATA_DIR=/var/lib/smez \
    SMEZ_HTTP__LISTEN=0.0.0.0:8080 \
    SMEZ_GRPC__LISTEN=0.0.0.0:50051 \
    SMEZ_TELEMETRY__LOG_FORMAT=json
EXPOSE 8080 50051
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["smez"]
CMD ["serve", "all"]
