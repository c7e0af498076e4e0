#!/bin/sh
# Entrypoint of the local stand-in for the denoland/deno image (see run.sh).
# A first argument that is a deno subcommand or a deno flag runs deno with
# all arguments; anything else is run as a command of its own.
set -e

case "${1:-}" in
  "")
    exec deno
    ;;
  -*)
    exec deno "$@"
    ;;
  add | approve-scripts | bench | bundle | cache | check | clean | compile | completions | \
    coverage | deploy | doc | eval | fmt | help | info | init | install | jupyter | lint | lsp | \
    outdated | publish | remove | repl | run | serve | task | test | types | uninstall | \
    update | upgrade | x)
    exec deno "$@"
    ;;
esac

exec "$@"
