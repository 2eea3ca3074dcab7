# syntax=docker/dockerfile:1
#
# twilio-realtime-bridge container image.
#
#   docker build -t twilio-realtime-bridge .
#   docker run --rm -p 8080:8080 --env-file .env twilio-realtime-bridge
#
# Port: the bridge listens on $PORT (default 8080) on $HOST (default 0.0.0.0).
# Liveness: GET /healthz on that port (used by HEALTHCHECK below).
# Metrics: set METRICS_PORT (e.g. 9464) for a Prometheus endpoint at /metrics
#          and publish that port too.
# Required env (never baked in; pass at run time): PUBLIC_URL,
#   TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, OPENAI_API_KEY.
# Optional env: OPENAI_REALTIME_MODEL, LOG_LEVEL, AUDIO_MODE, the standard
#   OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, …).
# See README.md → Operations for the full list.
#
# Node: the current Active LTS line (26 since 2026-10-28). Bump NODE_VERSION
# when the next line is promoted; test/dockerfile.test.ts checks the floor.
ARG NODE_VERSION=26

# --- build: full dependencies, TypeScript → dist/ ---------------------------
FROM node:${NODE_VERSION}-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- prod-deps: production dependencies only ---------------------------------
FROM node:${NODE_VERSION}-trixie-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund

# --- runtime: slim Node LTS, production deps + built output, non-root --------
FROM node:${NODE_VERSION}-trixie-slim AS runtime
# tini as PID 1 forwards SIGTERM to node, so the bridge's drain logic runs on
# `docker stop` / pod termination without needing `docker run --init`.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0
WORKDIR /app
# Root-owned and read-only to the runtime user: the app cannot rewrite itself.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
EXPOSE 8080
# The slim image has no curl: Node's fetch probes the liveness endpoint.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--import", "./dist/src/telemetry/preload.js", "dist/src/server.js"]
