#!/usr/bin/env bash
# Scale benchmark of one replica: start-up time and memory, then GetUser,
# ListUsers pages and authorization decisions with cmd/iamd-load.
#
#   cmd/iamd-seed/scale.sh DATA_DIR [STORE_URL]
#
# DATA_DIR was filled by "iamd-seed seed" (its root and bench keys are read
# from DATA_DIR/seed.out). Binaries come from $BIN (default /tmp/bench).
set -euo pipefail
data=$1
store=${2:-}
bin=${BIN:-/tmp/bench}
port=${PORT:-18080}
dur=${DUR:-10s}
conc=${CONC:-8}
users=$(awk '/^account/ {print $3 - 1}' "$data/seed.out")
root=$(awk '/^root:/ {print $2, $3, $4, $5}' "$data/seed.out")
bench=$(awk '/^bench:/ {print $2, $3, $4, $5}' "$data/seed.out")

args=(serve --data "$data" --addr "127.0.0.1:$port" --log-level warn)
[ -n "$store" ] && args+=(--store "$store")
t0=$(date +%s.%N)
IAMD_AUDIT=off "$bin/iamd" "${args[@]}" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.05; done
t1=$(date +%s.%N)
echo "startup_seconds=$(echo "$t1 - $t0" | bc) rss_after_start_kib=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)"

ep=(-endpoint "http://127.0.0.1:$port" -d "$dur" -c "$conc")
# shellcheck disable=SC2086
"$bin/iamd-load" "${ep[@]}" -op GetUser -users "$users" $root
# shellcheck disable=SC2086
"$bin/iamd-load" "${ep[@]}" -op ListUsers $root
# Decisions: the bench user's ten groups hold twenty policies.
# shellcheck disable=SC2086
"$bin/iamd-load" "${ep[@]}" -op GetUser -users "$users" $bench
echo "rss_after_load_kib=$(awk '/VmRSS/ {print $2}' /proc/$pid/status) hwm_kib=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)"
