# Container image for the Deno WebSocket echo server.
#
#   docker build -t deno-ws-echo .
#   docker run --rm -p 8181:8181 deno-ws-echo
#
# The base image and its version are separate arguments, e.g. for a mirror:
#   docker build --build-arg DENO_IMAGE=mirror.example/denoland/deno \
#     --build-arg DENO_VERSION=2.9.6 .
ARG DENO_IMAGE=docker.io/denoland/deno
ARG DENO_VERSION=2.9.6
FROM ${DENO_IMAGE}:${DENO_VERSION}

ENV DENO_NO_UPDATE_CHECK=1 \
    DENO_NO_PROMPT=1

WORKDIR /app

# Dependency layer: fetched from the npm registry here, and kept until
# deno.json or deno.lock change.
COPY deno.json deno.lock ./
USER deno
RUN deno install --frozen

# Sources. Cache the whole module graph at build time so the container
# starts without fetching anything.
COPY . .
RUN deno cache --frozen main.ts

EXPOSE 8181

# The image has no curl: ask the server itself with a one-line Deno script.
HEALTHCHECK --interval=5s --timeout=3s --retries=3 \
  CMD ["deno", "eval", "--no-config", "const r = await fetch(`http://127.0.0.1:${Deno.env.get('WS_PORT') || '8181'}/healthz`); await r.body?.cancel(); if (!r.ok) Deno.exit(1);"]

# Same as `deno task start`; the base image's entrypoint runs it under tini
# as PID 1, which forwards SIGTERM from `docker stop` to deno.
CMD ["run", "-P", "main.ts"]
