# Container image for the Deno WebSocket echo server.
#
#   docker build -t deno-ws-echo .
#   docker run --rm -p 8181:8181 deno-ws-echo
#
# The base image and its version are separate arguments, e.g. for a mirror:
#   docker build --build-arg DENO_IMAGE=mirror.example/denoland/deno \
#     --build-arg DENO_VERSION=2.9.6 .
#
# Two stages: "build" installs and caches; the image gets only its /app and
# /deno-dir, which hold the server's own module graph and nothing else. Deno
# 2.9 cannot do that in one step: `deno install --entrypoint` still installs
# every package of deno.lock (denoland/deno#27627), and `deno run` with that
# deno.lock fetches every package it lacks, test-only ones (puppeteer-core)
# included. So the image's deno.lock is cut down to the server's graph.
ARG DENO_IMAGE=docker.io/denoland/deno
ARG DENO_VERSION=2.9.6
FROM ${DENO_IMAGE}:${DENO_VERSION} AS build

ENV DENO_NO_UPDATE_CHECK=1 \
    DENO_NO_PROMPT=1

WORKDIR /app

# Dependency layer: fetched from the npm registry here, and kept until
# deno.json or deno.lock change.
# Trade-off: installing all of deno.lock keeps this layer independent of the sources (cached across source changes) at the price of fetching test-only packages at build time; they stay in this stage.
COPY deno.json deno.lock ./
USER deno
RUN deno install --frozen

# Sources. The entrypoints are main.ts and every module under src/ and apps/
# (apps are loaded by a dynamic import, the worker by new Worker): checked
# against deno.lock, then a lockfile of just their graph, whose every entry
# must equal deno.lock's, replaces it; the cache keeps only that graph, and
# must hold all of it so the container starts without fetching anything.
COPY --chown=deno:deno . .
RUN set -eu; \
    set -- main.ts $(find src apps -name '*.ts' | sort); \
    deno cache --frozen "$@"; \
    deno cache --lock=/tmp/deno.lock "$@"; \
    deno eval --no-config 'const [all, app] = ["deno.lock", "/tmp/deno.lock"].map((f) => JSON.parse(Deno.readTextFileSync(f))); for (const k of ["specifiers", "jsr", "npm", "remote", "redirects"]) for (const [n, v] of Object.entries(app[k] ?? {})) if (JSON.stringify(v) !== JSON.stringify(all[k]?.[n])) throw new Error(`${k} ${n}: not as in deno.lock`);'; \
    cp /tmp/deno.lock deno.lock; \
    deno clean --except "$@"; \
    deno install --frozen --cached-only --entrypoint "$@"

FROM ${DENO_IMAGE}:${DENO_VERSION}

ENV DENO_NO_UPDATE_CHECK=1 \
    DENO_NO_PROMPT=1

WORKDIR /app
COPY --from=build --chown=deno:deno /deno-dir/ /deno-dir/
COPY --from=build --chown=root:root /app/ ./
USER deno

EXPOSE 8181

# The image has no curl: ask the server itself with a one-line Deno script.
HEALTHCHECK --interval=5s --timeout=3s --retries=3 \
  CMD ["deno", "eval", "--no-config", "const r = await fetch(`http://127.0.0.1:${Deno.env.get('WS_PORT') || '8181'}/healthz`); await r.body?.cancel(); if (!r.ok) Deno.exit(1);"]

# Same as `deno task start`; the base image's entrypoint runs it under tini
# as PID 1, which forwards SIGTERM from `docker stop` to deno.
CMD ["run", "-P", "main.ts"]
