#!/usr/bin/env bash
# ab.sh ROUNDS NAME:IAMD[:ENV]...: GetUser throughput of iamd builds side by
# side, in alternating rounds. Each run serves a fresh copy of the seeded
# data (seed.sh) on 127.0.0.1:8098 and is loaded by wrk (one thread, 64
# connections, 2 s of warm-up, then 8 s measured), on the same cores.
# Prints req/s and the server's CPU per request (utime+stime). ENV is
# passed to the server, e.g. IAMD_AUDIT=off:
#
#   scripts/bench/ab.sh 12 start:/tmp/iamd-start now:/tmp/iamd-now off:/tmp/iamd-now:IAMD_AUDIT=off
. "$(dirname "$0")/env.sh"
rounds=$1
shift
read -r key secret <"$BENCH_DIR/key"
# The script's signature stays valid for 15 minutes: one is made per round.
for r in $(seq 1 "$rounds"); do
  "$IAMD_LOAD" -endpoint http://127.0.0.1:8098 -wrk-script "$BENCH_DIR/get.lua" -op GetUser -users 1000 -access-key "$key" -secret-key "$secret"
  for spec in "$@"; do
    IFS=: read -r name bin env <<<"$spec"
    rm -rf "$BENCH_DIR/ab"
    cp -a "$BENCH_DIR/data" "$BENCH_DIR/ab"
    env $env "$bin" serve --data "$BENCH_DIR/ab" --addr 127.0.0.1:8098 --quotas users=1000000 --log-level warn >"$BENCH_DIR/ab.log" 2>&1 &
    pid=$!
    until curl -sf http://127.0.0.1:8098/healthz >/dev/null; do sleep 0.1; done
    wrk -t1 -c64 -d2s -s "$BENCH_DIR/get.lua" http://127.0.0.1:8098/ >/dev/null
    c0=$(awk '{print $14+$15}' /proc/$pid/stat)
    out=$(wrk -t1 -c64 -d8s --latency -s "$BENCH_DIR/get.lua" http://127.0.0.1:8098/)
    c1=$(awk '{print $14+$15}' /proc/$pid/stat)
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    failed=$(grep -o 'Non-2xx.*' <<<"$out" || true)
    echo "$r $name rps=$rps cpu_us=$(awk -v c=$((c1 - c0)) -v n="$n" 'BEGIN {printf "%.1f", c * 1e6 / 100 / n}') $failed"
    kill $pid
    wait $pid 2>/dev/null || true
  done
done
