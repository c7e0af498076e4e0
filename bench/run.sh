#!/usr/bin/env bash
# Benchmark suite (issue #5): `bash bench/run.sh [--rounds=16] [--seconds=4] [--only=echo,static]`
#
# Installs what it needs from Debian if missing (golang-go,
# golang-github-gorilla-websocket-dev, wrk), builds the Go load generator
# bench/loadgen into .cache/bench/ in GOPATH mode (no module proxy, nothing
# downloaded), raises the open-file limit for the 10,000-session scenario and
# runs bench/run.ts, which starts and stops every server itself and writes
# bench/results/<date>.md. All traffic goes to 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
export DENO_NO_UPDATE_CHECK=1

missing=()
command -v go >/dev/null || missing+=(golang-go)
[ -d /usr/share/gocode/src/github.com/gorilla/websocket ] ||
  missing+=(golang-github-gorilla-websocket-dev)
command -v wrk >/dev/null || missing+=(wrk)
command -v taskset >/dev/null || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench: installing ${missing[*]}" >&2
  apt_install() {
    apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${missing[@]}"
  }
  apt_install >/dev/null || { apt-get -o DPkg::Lock::Timeout=300 update -qq && apt_install >/dev/null; }
fi

cache="${BENCH_CACHE:-$PWD/.cache/bench}"
mkdir -p "$cache"
echo "bench: building bench/loadgen into $cache" >&2
GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$cache/gocache" GOFLAGS= \
  go build -o "$cache/loadgen" ./bench/loadgen

# 10,000 idle sessions need about that many descriptors in the server and in
# the generator (separate processes), plus headroom.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt 10500 ]; then
  echo "bench: open-file limit $(ulimit -n) is too low for 10,000 sessions" >&2
fi

# The runner stays off the server's core (0); it starts each server and
# generator with its own taskset and stops them on exit or signal.
runner=(deno run -A bench/run.ts --loadgen="$cache/loadgen" "$@")
if [ "$(nproc)" -gt 1 ]; then runner=(taskset -c 1 "${runner[@]}"); fi
exec "${runner[@]}"
