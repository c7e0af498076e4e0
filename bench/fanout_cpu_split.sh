#!/usr/bin/env bash
# Where a batched fan-out server's CPU goes, user space against kernel (issue #17):
#
#   bash bench/fanout_cpu_split.sh project|raw|bun [strace]
#
# One server on core 0 (project: main.ts with bench/fanout_app.ts; raw: bench/baseline_fanout.ts;
# bun: bench/peers/bun_fanout.mjs), the generator on core 1: 1 publisher -> 1,000 subscribers,
# 32-byte JSON text, window 32, `fanout.batch` where the server batches, every delivery checked.
# Prints deliveries per second and the server's user and system CPU per delivery, read from
# /proc/PID/stat between 1.2 s and 5.8 s of a 1 s warm-up + 5 s run (100 Hz ticks: a guide to
# where time goes, not a figure to compare runs by). With `strace` it also counts the server's
# system calls for 3 s into /tmp/fanout_strace.KIND.txt (strace slows the server).
# Needs the generator built by bench/run.sh, and bench/peers installed for bun.
set -euo pipefail
cd "$(dirname "$0")/.."
export DENO_NO_UPDATE_CHECK=1 NO_COLOR=1
kind=${1:?project, raw or bun}
loadgen="${BENCH_CACHE:-$PWD/.cache/bench}/loadgen"
port=9310
case $kind in
raw) server=(deno run --allow-net bench/baseline_fanout.ts --port=$port) protocol=fanout.batch ;;
bun) server=(bench/peers/node_modules/.bin/bun bench/peers/bun_fanout.mjs --port=$port) protocol=fanout ;;
project)
  server=(deno run -P main.ts --app=bench/fanout_app.ts --port=$port --hostname=127.0.0.1
    --log-level=warn)
  protocol=fanout.batch
  ;;
*) echo "unknown server $kind" >&2 && exit 2 ;;
esac
taskset -c 0 "${server[@]}" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
until (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do sleep 0.1; done
ticks() { awk '{print $14, $15}' /proc/$pid/stat; }
[ "${2:-}" = strace ] && (sleep 1.5 && timeout 3 strace -c -f -p $pid -o "/tmp/fanout_strace.$kind.txt") &
(sleep 1.2 && ticks >/tmp/fanout_ticks0 && sleep 4.6 && ticks >/tmp/fanout_ticks1) &
sampler=$!
result=$(taskset -c 1 "$loadgen" -mode fanout -protocol $protocol -wire json \
  -url ws://127.0.0.1:$port/fanout -conns 1000 -size 32 -window 32 -warmup 1s -duration 5s -pids $pid)
wait $sampler
python3 - "$result" "$kind" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
(u0, s0), (u1, s1) = (map(int, open(f"/tmp/fanout_ticks{i}").read().split()) for i in (0, 1))
deliveries = r["rate"] * 4.6
us = lambda ticks: ticks * 1e4 / deliveries  # 100 ticks a second
print(f"{sys.argv[2]}: {r['rate'] / 1e6:.2f} M deliveries/s, {r['errors']} errors | per delivery: "
      f"user {us(u1 - u0):.3f} µs, system {us(s1 - s0):.3f} µs")
PY
