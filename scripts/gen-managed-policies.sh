#!/usr/bin/env bash
# Regenerates the AWS-managed policy catalogue that iamd embeds
# (internal/managedpolicies/aws-managed-policies.json.gz) from the shared data
# set (../shared/data/aws-managed-policies.json, see its README for the source
# and licence).
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-../shared/data/aws-managed-policies.json}
gzip -9 -n -c "$src" > internal/managedpolicies/aws-managed-policies.json.gz
echo "wrote internal/managedpolicies/aws-managed-policies.json.gz from $src"
