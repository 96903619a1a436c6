#!/bin/sh
# Starts a fresh iamd (built from this checkout) and a fresh moto server, runs
# difftest.py against both, and stops them. Usage: scripts/difftest/run.sh [args]
set -e
cd "$(dirname "$0")/../.."
go build -o /tmp/iamd-difftest ./cmd/iamd
data=$(mktemp -d)
IAMD_AUDIT=off IAMD_ACCOUNT_ID=123456789012 \
  IAMD_ROOT_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE \
  IAMD_ROOT_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY \
  /tmp/iamd-difftest serve --data "$data" --addr 127.0.0.1:18091 >/tmp/iamd-difftest.log 2>&1 &
ipid=$!
python3 -m moto.server -p 5556 >/tmp/moto-difftest.log 2>&1 &
mpid=$!
trap 'kill $ipid $mpid 2>/dev/null; rm -rf "$data"' EXIT
for i in $(seq 50); do
  curl -s -o /dev/null http://127.0.0.1:18091/ && curl -s -o /dev/null http://127.0.0.1:5556/ && break
  sleep 0.2
done
python3 scripts/difftest/difftest.py --iamd http://127.0.0.1:18091 --peer http://127.0.0.1:5556 "$@"
