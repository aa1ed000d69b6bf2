# syntax=docker/dockerfile:1
# slm-server with the bundled model and web UI. Multi-stage: dependencies are cached by
# cargo-chef, the runtime image is Debian slim with only the binary, the model and web/.
#   docker build -t slm .
#   docker run -p 8080:8080 slm

FROM rust:1.95-slim-bookworm AS chef
RUN cargo install --locked cargo-chef
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --recipe-path recipe.json -p slm-server -p slm-train
COPY . .
RUN cargo build --release -p slm-server -p slm-train

FROM debian:bookworm-slim AS runtime
RUN useradd --system --uid 10001 --home-dir /app slm
WORKDIR /app
COPY --from=builder /src/target/release/slm-server /usr/local/bin/slm-server
COPY --from=builder /src/target/release/slm-train /usr/local/bin/slm-train
COPY models/tinystories-15m /app/models/tinystories-15m
COPY models/tinystories-15m-chat /app/models/tinystories-15m-chat
COPY web /app/web
USER slm
ENV SLM_HOST=0.0.0.0 SLM_PORT=8080 SLM_MODEL=/app/models/tinystories-15m SLM_WEB_DIR=/app/web
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["slm-server", "healthcheck"]
CMD ["slm-server"]
