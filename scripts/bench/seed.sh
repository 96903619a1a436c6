#!/usr/bin/env bash
# seed.sh IAMD: seeds $BENCH_DIR/data for ab.sh and floor.sh: 1,000 users
# (load-000000 ...), load-000001 in a group with IAMReadOnlyAccess, and an
# access key of load-000001 in $BENCH_DIR/key. Needs the aws CLI and
# iamd-load ($IAMD_LOAD, default $BENCH_DIR/iamd-load).
#
#   go build -o /tmp/iamd-bench/iamd ./cmd/iamd
#   go build -o /tmp/iamd-bench/iamd-load ./cmd/iamd-load
#   scripts/bench/seed.sh /tmp/iamd-bench/iamd
. "$(dirname "$0")/env.sh"
iamd=$1
rm -rf "$BENCH_DIR/data"
mkdir -p "$BENCH_DIR/data"
export IAMD_ACCOUNT_ID=111122223333 IAMD_ROOT_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE IAMD_ROOT_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
"$iamd" serve --data "$BENCH_DIR/data" --addr 127.0.0.1:8099 --quotas users=1000000 --log-level warn &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
until curl -sf http://127.0.0.1:8099/healthz >/dev/null; do sleep 0.2; done
export AWS_ACCESS_KEY_ID=$IAMD_ROOT_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$IAMD_ROOT_SECRET_ACCESS_KEY AWS_DEFAULT_REGION=us-east-1
"$IAMD_LOAD" -endpoint http://127.0.0.1:8099 -op seed -n 1000
iam() { aws --endpoint-url http://127.0.0.1:8099 iam "$@"; }
iam create-group --group-name readers >/dev/null
iam attach-group-policy --group-name readers --policy-arn arn:aws:iam::aws:policy/IAMReadOnlyAccess
iam add-user-to-group --group-name readers --user-name load-000001
iam create-access-key --user-name load-000001 --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text >"$BENCH_DIR/key"
