# env.sh, sourced by the load scripts: strict mode, and where the seeded
# data ($BENCH_DIR, default /tmp/iamd-bench) and the load generator
# ($IAMD_LOAD, default $BENCH_DIR/iamd-load) are.
set -euo pipefail
BENCH_DIR=${BENCH_DIR:-/tmp/iamd-bench}
IAMD_LOAD=${IAMD_LOAD:-$BENCH_DIR/iamd-load}
