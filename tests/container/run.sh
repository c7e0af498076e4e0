#!/usr/bin/env bash
# Proves the project's container image end to end on a Debian machine where no
# image registry is reachable and no Docker engine runs. As root:
#
#   bash tests/container/run.sh
#
# 1. installs Debian's docker.io, debootstrap and iproute2 when missing;
# 2. lints the Dockerfile with dockerfilelint (npm, works offline once fetched);
# 3. starts a private dockerd (own data and exec roots, socket, bridge; no
#    iptables; its proxy points at a closed loopback port, so any image pull
#    fails at once instead of hanging);
# 4. builds a local stand-in for docker.io/denoland/deno:${DENO_VERSION} from a
#    Debian bookworm minbase root (debootstrap, cached between runs) and the
#    deno binary of the pinned npm package, laid out like the official image;
# 5. builds the project's Dockerfile unchanged from a clean copy of the repo
#    (npm packages come from the registry inside the build: --network host),
#    checks that the image holds no test-only npm package (puppeteer-core)
#    and that a source change keeps the dependency layer cached;
# 6. runs the image with its port published and checks, from outside: the
#    health check turns healthy, GET / serves the page, GET /healthz answers,
#    the WebSocket echo returns text and binary; `docker stop` ends it with
#    exit status 0 in under 10 s.
#
# Whatever happens, it removes the containers, the images, the bridge and the
# daemon it started. Prints the time of every step and ends with the line
# `container: N passed, N failed`; exits non-zero on any failure.
#
# Environment: DENO_VERSION (default: the Dockerfile's ARG), DEBIAN_MIRROR
# (default: apt's bookworm mirror), XDG_CACHE_HOME, KEEP_WORK=1 to keep the
# scratch directory for a post-mortem.

# The functions below run through `step` and the EXIT trap, which shellcheck
# cannot follow:
# shellcheck disable=SC2317

set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
CACHE_DIR="${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/deno-ws-container"
SUITE=bookworm
PROJECT_IMAGE=deno-ws-echo:container-test
BASE_IMAGE=deno-ws-standin/bookworm-minbase:local
DOCKER=/usr/bin/docker

passed=0
failed=0
timings=()
work=""
dockerd_pid=""
made_dirs=()
bridge=""
container=""
export DENO_NO_UPDATE_CHECK=1

log() { printf '[container] %s\n' "$*"; }
pass() {
  passed=$((passed + 1))
  printf 'PASS %s\n' "$1"
}
fail() {
  failed=$((failed + 1))
  printf 'FAIL %s\n' "$1"
}

# Runs a named step: `step "name" command args...`, with its output in a log
# file that is shown when it fails. Records the step's duration.
step() {
  local name=$1
  shift
  local file start=$EPOCHREALTIME status
  file="$work/logs/$(printf '%02d' "${#timings[@]}")-${name//[^a-zA-Z0-9]/_}.log"
  log "$name ..."
  "$@" >"$file" 2>&1
  status=$?
  local seconds
  seconds=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  timings+=("$(printf '%7.1f s  %s' "$seconds" "$name")")
  if [ "$status" -ne 0 ]; then
    log "$name failed (exit $status) after $seconds s; last lines of its log:"
    tail -n 40 "$file" | sed 's/^/    | /'
  else
    log "$name done in $seconds s"
  fi
  return "$status"
}

# Fails the run: counts a failure, and the EXIT trap cleans up and reports.
die() {
  fail "$1"
  exit 1
}

docker_() { "$DOCKER" "$@"; }

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  local start=$EPOCHREALTIME
  [ -n "${hold_pid:-}" ] && kill "$hold_pid" 2>/dev/null
  if [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null; then
    if [ -n "$container" ]; then
      docker_ rm -f "$container" >/dev/null 2>&1
    fi
    local ids=()
    mapfile -t ids < <(docker_ ps -aq 2>/dev/null)
    [ "${#ids[@]}" -gt 0 ] && docker_ rm -f "${ids[@]}" >/dev/null 2>&1
    mapfile -t ids < <(docker_ images -aq 2>/dev/null | sort -u)
    [ "${#ids[@]}" -gt 0 ] && docker_ rmi -f "${ids[@]}" >/dev/null 2>&1
    kill -TERM "$dockerd_pid" 2>/dev/null
    local _
    for _ in $(seq 1 100); do
      kill -0 "$dockerd_pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$dockerd_pid" 2>/dev/null; then
      log "dockerd $dockerd_pid did not stop in 20 s; killing it"
      kill -KILL "$dockerd_pid" 2>/dev/null
    fi
    wait "$dockerd_pid" 2>/dev/null
  fi
  if [ -n "$work" ] && [ -d "$work" ]; then
    # containerd and its shims were started by our daemon with paths under $work.
    local pid
    grep -l -s -F "$work" /proc/[0-9]*/cmdline | cut -d/ -f3 | while read -r pid; do
      [ "$pid" != "$$" ] && kill -KILL "$pid" 2>/dev/null
    done
    awk -v w="$work" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r |
      while read -r mount_point; do umount -l "$mount_point" 2>/dev/null; done
  fi
  if [ -n "$bridge" ] && ip link show "$bridge" >/dev/null 2>&1; then
    ip link delete "$bridge" 2>/dev/null
  fi
  # Host directories the daemon or containerd's shims made (empty by now).
  local dir
  for dir in "${made_dirs[@]}"; do
    rmdir "$dir" 2>/dev/null
  done
  if [ -n "$work" ] && [ -d "$work" ]; then
    if [ "${KEEP_WORK:-0}" = 1 ]; then
      log "kept $work"
    else
      rm -rf "$work"
    fi
  fi
  timings+=("$(printf '%7.1f s  %s' "$(awk -v a="$start" -v b="$EPOCHREALTIME" \
    'BEGIN { printf "%.1f", b - a }')" "cleanup (containers, images, daemon, bridge)")")
  echo
  log "timings:"
  printf '  %s\n' "${timings[@]}"
  if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    failed=1
    printf 'FAIL run aborted (exit %s)\n' "$status"
  fi
  echo "container: $passed passed, $failed failed"
  [ "$failed" -eq 0 ] && exit 0
  exit 1
}

# --- preparation --------------------------------------------------------------

[ "$(id -u)" -eq 0 ] || {
  echo "tests/container/run.sh must run as root (it installs packages and runs dockerd)" >&2
  echo "container: 0 passed, 1 failed"
  exit 1
}

work=$(mktemp -d /tmp/dwsc.XXXXXX)
mkdir -p "$work/logs" "$CACHE_DIR"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

DENO_VERSION=${DENO_VERSION:-$(sed -n 's/^ARG DENO_VERSION=\([^ ]*\).*/\1/p' "$REPO_ROOT/Dockerfile")}
[ -n "$DENO_VERSION" ] || die "no ARG DENO_VERSION=... in $REPO_ROOT/Dockerfile"
log "repo $REPO_ROOT, deno $DENO_VERSION, scratch $work, cache $CACHE_DIR"

install_packages() {
  local missing=()
  command -v dockerd >/dev/null && [ -x /usr/bin/docker ] || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v ip >/dev/null || missing+=(iproute2)
  [ -x /usr/bin/tini-static ] || missing+=(tini)
  command -v npm >/dev/null || missing+=(nodejs npm)
  if [ "${#missing[@]}" -eq 0 ]; then
    echo "all present"
    return 0
  fi
  echo "installing: ${missing[*]}"
  # No package may start a service here (the system's dockerd would not be ours).
  local guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$guard" && chmod 755 "$guard"
  fi
  local status=0
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update &&
    apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${missing[@]}" ||
    status=$?
  [ -n "$guard" ] && rm -f "$guard"
  return "$status"
}
step "install packages" install_packages || die "installing docker.io, debootstrap, iproute2"
pass "packages installed"

lint() {
  cd "$REPO_ROOT" && npx --yes dockerfilelint@1.8.0 Dockerfile
}
if step "dockerfilelint Dockerfile" lint; then
  pass "Dockerfile passes dockerfilelint 1.8.0"
else
  fail "Dockerfile passes dockerfilelint 1.8.0"
fi

# The deno binary of the pinned npm package, as the official image has it.
fetch_deno() {
  local arch package
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) echo "no deno npm package for $(uname -m)" && return 1 ;;
  esac
  package="@deno/linux-$arch-glibc@$DENO_VERSION"
  local tarball="$CACHE_DIR/deno-linux-$arch-glibc-$DENO_VERSION.tgz"
  if [ ! -s "$tarball" ]; then
    (cd "$work" && npm pack --silent "$package") || return 1
    mv "$work/deno-linux-$arch-glibc-$DENO_VERSION.tgz" "$tarball" || return 1
  fi
  mkdir -p "$work/standin" &&
    tar -xzf "$tarball" -C "$work/standin" --strip-components=1 package/deno || return 1
  # A real ELF executable of the expected version, not a wrapper script.
  [ "$(head -c 4 "$work/standin/deno" | od -An -c | tr -d ' ')" = '177ELF' ] ||
    { echo "package $package holds no ELF deno binary" && return 1; }
  chmod 755 "$work/standin/deno"
  "$work/standin/deno" --version | tee /dev/stderr | grep -q "^deno $DENO_VERSION " ||
    { echo "deno binary is not version $DENO_VERSION" && return 1; }
}
step "fetch deno $DENO_VERSION from npm" fetch_deno || die "deno $DENO_VERSION binary from npm"
DENO="$work/standin/deno"

# A Debian minbase root, made once and cached as a tarball.
rootfs_tarball="$CACHE_DIR/$SUITE-minbase-$(dpkg --print-architecture).tar"
make_rootfs() {
  if [ -s "$rootfs_tarball" ]; then
    echo "cached: $rootfs_tarball"
    return 0
  fi
  local mirror=${DEBIAN_MIRROR:-}
  if [ -z "$mirror" ]; then
    # shellcheck disable=SC2016 # apt's own $(FIELD) syntax
    mirror=$(apt-get indextargets --format '$(SITE) $(RELEASE)' 2>/dev/null |
      awk -v s="$SUITE" '$2 == s { print $1; exit }')
  fi
  if [ -z "$mirror" ]; then
    mirror=$(grep -h -o -E 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list \
      /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
      head -n 1 | tr -d ' ')
  fi
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "debootstrap $SUITE from $mirror"
  local root="$work/rootfs"
  debootstrap --variant=minbase "$SUITE" "$root" "$mirror" || return 1
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* || return 1
  tar --numeric-owner -C "$root" -cf "$rootfs_tarball.tmp" . &&
    mv "$rootfs_tarball.tmp" "$rootfs_tarball" || return 1
  rm -rf "$root"
}
step "$SUITE minbase root (debootstrap, or the cached tarball)" make_rootfs || die "debootstrap $SUITE minbase root"

# --- private docker daemon ----------------------------------------------------

start_dockerd() {
  # Our own bridge, on a private /24 that no route of this machine uses yet.
  bridge="dwsbr$$"
  bridge=${bridge:0:15}
  local third subnet=""
  for third in 213 214 215 216 217 218 219 220; do
    if ! ip -4 route show | grep -q "^10\.$third\.77\."; then
      subnet="10.$third.77"
      break
    fi
  done
  [ -n "$subnet" ] || { echo "no free private subnet for the bridge" && return 1; }
  ip link add name "$bridge" type bridge &&
    ip addr add "$subnet.1/24" dev "$bridge" &&
    ip link set "$bridge" up || return 1
  mkdir -p "$work/cli"
  # containerd's shims keep their sockets in /run/containerd/s whatever the
  # state directory; remove what they add once they are gone.
  local dir
  for dir in /run/containerd /run/containerd/s; do
    [ -e "$dir" ] || made_dirs=("$dir" "${made_dirs[@]}")
  done
  # dockerd before 23 writes an identity key to /etc/docker/key.json unless told otherwise.
  local major
  major=$(dockerd --version | sed -n 's/^Docker version \([0-9]*\)\..*/\1/p')
  if [ -n "$major" ] && [ "$major" -lt 23 ]; then
    printf '{ "deprecated-key-path": "%s" }\n' "$work/key.json" >"$work/daemon.json"
  else
    echo '{}' >"$work/daemon.json"
  fi
  env -u http_proxy -u https_proxy -u no_proxy -u all_proxy -u ALL_PROXY \
    HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= \
    dockerd \
    --data-root "$work/data" \
    --exec-root "$work/exec" \
    -H "unix://$work/docker.sock" \
    --pidfile "$work/dockerd.pid" \
    --config-file "$work/daemon.json" \
    --containerd-namespace dws \
    --containerd-plugins-namespace dws-plugins \
    --bridge "$bridge" \
    --iptables=false --ip-forward=false --ip-masq=false --ip=127.0.0.1 \
    >"$work/logs/dockerd.log" 2>&1 &
  dockerd_pid=$!
  local _
  for _ in $(seq 1 120); do
    if docker_ info >/dev/null 2>&1; then
      docker_ info --format 'dockerd {{.ServerVersion}}, storage {{.Driver}}, cgroup {{.CgroupDriver}}'
      return 0
    fi
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 0.5
  done
  echo "dockerd did not answer (within 60 s, or it exited); its log:"
  tail -n 40 "$work/logs/dockerd.log"
  return 1
}
export DOCKER_HOST="unix://$work/docker.sock" DOCKER_CONFIG="$work/cli" DOCKER_BUILDKIT=0
step "start private dockerd" start_dockerd || die "private dockerd"
pass "private dockerd answers"

# --- stand-in for docker.io/denoland/deno -------------------------------------

build_standin() {
  docker_ import "$rootfs_tarball" "$BASE_IMAGE" || return 1
  cp /usr/bin/tini-static "$work/standin/tini" &&
    cp "$SCRIPT_DIR/docker-entrypoint.sh" "$work/standin/docker-entrypoint.sh" &&
    cp "$SCRIPT_DIR/standin.Dockerfile" "$work/standin/Dockerfile" &&
    chmod 755 "$work/standin/tini" "$work/standin/docker-entrypoint.sh" || return 1
  # Where this machine reaches the npm registry through a TLS-intercepting
  # proxy, its extra CA certificates go into the stand-in (as a company's own
  # base image would carry them), so the project's Dockerfile stays as it is.
  local extra_cas=(/usr/local/share/ca-certificates/*.crt)
  [ -e "${extra_cas[0]}" ] || extra_cas=()
  if [ "${#extra_cas[@]}" -eq 0 ]; then
    for file in "${DENO_CERT:-}" "${NODE_EXTRA_CA_CERTS:-}"; do
      [ -n "$file" ] && [ -s "$file" ] && extra_cas=("$file") && break
    done
  fi
  if [ "${#extra_cas[@]}" -gt 0 ]; then
    echo "adding this machine's extra CA certificates: ${extra_cas[*]}"
    cat "${extra_cas[@]}" >"$work/standin/extra-ca.crt" || return 1
    printf '\n%s\n%s\n' 'COPY extra-ca.crt /etc/ssl/certs/extra-ca.crt' \
      'ENV DENO_CERT=/etc/ssl/certs/extra-ca.crt' >>"$work/standin/Dockerfile"
  fi
  docker_ build --network none --build-arg "DENO_VERSION=$DENO_VERSION" \
    -t "docker.io/denoland/deno:$DENO_VERSION" -t "denoland/deno:$DENO_VERSION" \
    "$work/standin" || return 1
  # Through tini and the entrypoint, as the project image will run it.
  docker_ run --rm "denoland/deno:$DENO_VERSION" --version | grep "^deno $DENO_VERSION " &&
    docker_ run --rm --entrypoint id "denoland/deno:$DENO_VERSION" deno |
    grep '^uid=1993(deno) gid=1993(deno)'
}
step "build stand-in denoland/deno:$DENO_VERSION" build_standin ||
  die "stand-in image denoland/deno:$DENO_VERSION"
pass "stand-in denoland/deno:$DENO_VERSION runs deno as user deno"

# --- the project image ----------------------------------------------------------

copy_repo() {
  mkdir -p "$work/context"
  if git -C "$REPO_ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Tracked and untracked-but-not-ignored files: what a fresh clone plus
    # the work in progress would hold, without .git or anything ignored.
    (cd "$REPO_ROOT" && git ls-files -z --cached --others --exclude-standard |
      tar --null --ignore-failed-read -T - -cf -) | tar -xf - -C "$work/context"
  else
    tar -C "$REPO_ROOT" --exclude=.git --exclude=node_modules -cf - . |
      tar -xf - -C "$work/context"
  fi
  if [ ! -f "$work/context/Dockerfile" ] || [ ! -f "$work/context/main.ts" ]; then
    echo "the copy has no Dockerfile or main.ts"
    return 1
  fi
  du -sh "$work/context"
}
step "copy the repo tree" copy_repo || die "clean copy of the repo"

build_project() {
  docker_ build --network host -t "$PROJECT_IMAGE" "$work/context" || return 1
  docker_ image inspect --format 'image {{.Id}}, {{.Size}} bytes, user {{.Config.User}}' \
    "$PROJECT_IMAGE"
}

image_contents() {
  docker_ run --rm --entrypoint sh "$PROJECT_IMAGE" -c 'ls -A /app && du -sh /app /deno-dir' |
    tee "$work/app.ls" || return 1
  if grep -q -x -E '\.git|tests|bench|node_modules|Dockerfile' "$work/app.ls"; then
    echo "the image holds files the server does not need (see .dockerignore)"
    return 1
  fi
}
if step "docker build the project" build_project; then
  pass "project image builds from the Dockerfile unchanged"
else
  die "project image builds from the Dockerfile unchanged"
fi

if step "list the image's /app" image_contents; then
  pass "image holds the server's files only"
else
  fail "image holds the server's files only"
fi
log "image: $(docker_ image inspect --format '{{.Size}}' "$PROJECT_IMAGE" |
  awk '{ printf "%.0f MB", $1 / 1e6 }'), /app: $(tr '\n' ' ' <"$work/app.ls")"

# The image caches the server's module graph only: test-only npm packages (the
# browser test's puppeteer-core and its dependencies) stay out of /deno-dir.
test_only_packages() {
  docker_ run --rm --entrypoint sh "$PROJECT_IMAGE" -c '
    echo "npm packages:" $(ls -A /deno-dir/npm/registry.npmjs.org 2>/dev/null)
    du -sh /deno-dir
    find /deno-dir /app -type d \( -name puppeteer-core -o -name @puppeteer \) |
      sed "s/^/test-only: /"' | tee "$work/packages.ls" || return 1
  # An empty cache would pass the search below without proving anything.
  grep -q '^npm packages: .' "$work/packages.ls" ||
    { echo "no npm package in /deno-dir: not the cache the server uses?" && return 1; }
  if grep -q '^test-only: ' "$work/packages.ls"; then
    echo "the image holds test-only npm packages (the Dockerfile's cache is not the server's graph only)"
    return 1
  fi
}
if step "look for test-only npm packages in the image" test_only_packages; then
  pass "image holds no test-only npm package (puppeteer-core)"
else
  fail "image holds no test-only npm package (puppeteer-core)"
fi
log "/deno-dir: $(grep -v '^test-only: ' "$work/packages.ls" | tr '\n\t' '  ')"

if [ "$(docker_ image inspect --format '{{.Config.User}}' "$PROJECT_IMAGE")" = deno ]; then
  pass "project image runs as user deno"
else
  fail "project image runs as user deno"
fi

rebuild_after_source_change() {
  printf '\n// source change made by tests/container/run.sh\n' >>"$work/context/main.ts"
  docker_ build --network host -t "$PROJECT_IMAGE-rebuilt" "$work/context" |
    tee "$work/rebuild.log" || return 1
  # The step after "RUN deno install" must come from the cache.
  awk '/RUN deno install/ { found = 1; next } found { print; exit }' "$work/rebuild.log" |
    grep -q 'Using cache' ||
    { echo "the dependency layer was rebuilt after a source change" && return 1; }
}
if step "rebuild after a source change" rebuild_after_source_change; then
  pass "dependency layer stays cached when sources change"
else
  fail "dependency layer stays cached when sources change"
fi

# --- run it -------------------------------------------------------------------

port_is_free() {
  "$DENO" eval --no-config "try { Deno.listen({ hostname: '127.0.0.1', port: $1 }).close() }
    catch { Deno.exit(1) }" >/dev/null 2>&1
}
host_port=8181
if ! port_is_free "$host_port"; then
  host_port=$("$DENO" eval --no-config "const l = Deno.listen({ hostname: '127.0.0.1', port: 0 });
    console.log(l.addr.port); l.close();")
  log "port 8181 is busy here; publishing on $host_port"
fi

run_container() {
  container=$(docker_ run -d --name "dws-$$" -p "$host_port:8181" "$PROJECT_IMAGE") || return 1
  echo "container $container on 127.0.0.1:$host_port"
}
step "docker run -d -p $host_port:8181" run_container || die "container starts"

wait_healthy() {
  local _ status running
  for _ in $(seq 1 120); do
    status=$(docker_ inspect --format '{{.State.Health.Status}}' "$container") || return 1
    running=$(docker_ inspect --format '{{.State.Running}}' "$container")
    echo "$(date +%T) health=$status running=$running"
    [ "$status" = healthy ] && return 0
    if [ "$running" != true ]; then
      docker_ logs "$container" 2>&1 | tail -n 40
      return 1
    fi
    sleep 0.5
  done
  echo "not healthy within 60 s"
  docker_ inspect --format '{{json .State.Health}}' "$container"
  return 1
}
if step "health check turns healthy" wait_healthy; then
  pass "HEALTHCHECK reports healthy"
else
  fail "HEALTHCHECK reports healthy"
fi

probe() {
  "$DENO" run --no-config --allow-net=127.0.0.1 "$SCRIPT_DIR/probe.ts" \
    "http://127.0.0.1:$host_port" | tee "$work/probe.out"
}
step "probe /, /healthz and the WebSocket echo" probe
while read -r verdict name; do
  case "$verdict" in
    PASS) pass "$name" ;;
    FAIL) fail "$name" ;;
  esac
done <"$work/probe.out"
grep -q '^PASS' "$work/probe.out" || fail "probe ran no check"

# An open session while the container stops: the server must close it with 1001.
hold_pid=""
hold_session() {
  "$DENO" run --no-config --allow-net=127.0.0.1 "$SCRIPT_DIR/probe.ts" --hold \
    "http://127.0.0.1:$host_port" >"$work/hold.out" 2>&1 &
  hold_pid=$!
  local _
  for _ in $(seq 1 100); do
    grep -q '^OPEN' "$work/hold.out" && return 0
    kill -0 "$hold_pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$work/hold.out"
  return 1
}
step "open a WebSocket session to hold" hold_session

stop_seconds=""
stop_container() {
  local start=$EPOCHREALTIME
  docker_ stop "$container" || return 1
  stop_seconds=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
  echo "docker stop took $stop_seconds s"
}
step "docker stop" stop_container
log "the container's last log lines:"
docker_ logs "$container" 2>&1 | tail -n 5 | sed 's/^/    | /'
exit_code=$(docker_ inspect --format '{{.State.ExitCode}}' "$container" 2>/dev/null)
log "docker stop: ${stop_seconds:-?} s, exit code ${exit_code:-?}"
if [ -n "$stop_seconds" ] && awk -v s="$stop_seconds" 'BEGIN { exit !(s < 10) }'; then
  pass "docker stop returns in under 10 s ($stop_seconds s)"
else
  fail "docker stop returns in under 10 s (${stop_seconds:-did not return})"
fi
if [ "$exit_code" = 0 ]; then
  pass "container exits with status 0 on SIGTERM"
else
  fail "container exits with status 0 on SIGTERM (got ${exit_code:-nothing})"
fi
if [ -n "$hold_pid" ] && wait "$hold_pid"; then
  pass "docker stop closes an open WebSocket session with 1001 ($(grep -o 'code=.*' "$work/hold.out"))"
else
  fail "docker stop closes an open WebSocket session with 1001 ($(tail -n 1 "$work/hold.out"))"
fi
hold_pid=""

exit 0
