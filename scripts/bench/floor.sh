#!/usr/bin/env bash
# floor.sh ROUNDS NAME:IAMD[:ENV]...: GetUser against the floor (issue 12,
# part 3). The floor (iamd-load -floor: SigV4 and one decision, nothing
# else) and every server run on core 0, each on its copy of the seeded data
# (seed.sh); each round loads them in turn from core 1 with iamd-load -raw
# (8 connections, 4 s). Prints req/s and the server's CPU per request.
#
#   scripts/bench/floor.sh 6 start:/tmp/iamd-start now:/tmp/iamd-now off:/tmp/iamd-now:IAMD_AUDIT=off
. "$(dirname "$0")/env.sh"
rounds=$1
shift
read -r key secret <"$BENCH_DIR/key"
GOMAXPROCS=2 taskset -c 0 "$IAMD_LOAD" -floor 127.0.0.1:18200 -access-key "$key" -secret-key "$secret" >/dev/null 2>&1 &
pids=($!)
names=(floor)
ports=(18200)
i=0
for spec in "$@"; do
  IFS=: read -r name bin env <<<"$spec"
  rm -rf "$BENCH_DIR/floor-$name"
  cp -a "$BENCH_DIR/data" "$BENCH_DIR/floor-$name"
  port=$((18300 + i))
  env $env taskset -c 0 "$bin" serve --data "$BENCH_DIR/floor-$name" --addr 127.0.0.1:$port --quotas users=1000000 --log-level warn >"$BENCH_DIR/floor-$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
  ports+=($port)
  i=$((i + 1))
done
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null || true' EXIT
sleep 1
for p in "${ports[@]:1}"; do
  until curl -sf http://127.0.0.1:$p/healthz >/dev/null; do sleep 0.2; done
done
for r in $(seq 1 "$rounds"); do
  for j in "${!ports[@]}"; do
    c0=$(awk '{print $14+$15}' /proc/${pids[$j]}/stat)
    out=$(taskset -c 1 "$IAMD_LOAD" -raw -endpoint http://127.0.0.1:${ports[$j]} -op GetUser -users 1000 -c 8 -d 4s -access-key "$key" -secret-key "$secret" 2>&1)
    c1=$(awk '{print $14+$15}' /proc/${pids[$j]}/stat)
    n=$(grep -o 'requests=[0-9]*' <<<"$out" | head -1 | cut -d= -f2)
    rate=$(grep -o 'rate=[0-9.]*' <<<"$out" | head -1 | cut -d= -f2)
    echo "$r ${names[$j]} rate=$rate cpu_us=$(awk -v c=$((c1 - c0)) -v n="$n" 'BEGIN {printf "%.1f", c * 1e6 / 100 / n}')"
  done
done
