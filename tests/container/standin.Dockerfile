# Local stand-in for docker.io/denoland/deno:<version>, built by run.sh where
# no image registry is reachable. Laid out like the official Debian image:
# deno at /usr/bin/deno, user and group deno (1993), DENO_DIR=/deno-dir/ owned
# by deno, tini at /tini as PID 1, and an entrypoint that hands deno
# subcommands to deno. The build context holds deno, tini and the entrypoint.
FROM deno-ws-standin/bookworm-minbase:local

ARG DENO_VERSION
RUN groupadd --gid 1993 deno \
  && useradd --uid 1993 --gid deno --no-create-home --shell /bin/sh deno \
  && mkdir /deno-dir/ \
  && chown deno:deno /deno-dir/

ENV DENO_DIR=/deno-dir/ \
    DENO_INSTALL_ROOT=/usr/local \
    DENO_VERSION=${DENO_VERSION}

COPY tini /tini
COPY deno /usr/bin/deno
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh

ENTRYPOINT ["/tini", "--", "docker-entrypoint.sh"]
CMD ["eval", "console.log('Welcome to Deno!')"]
