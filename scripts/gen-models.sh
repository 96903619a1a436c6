#!/usr/bin/env bash
# Copies the AWS service models (botocore's service-2.json for IAM and STS) that
# the awsQuery codec is driven by into internal/awsquery/models, and pins them:
# models/PINNED records the botocore version and each file's SHA-256, which
# awsquery checks when it loads a model and shapegen writes into the generated
# code (so TestGeneratedUpToDate fails until the code is regenerated). Re-run
# after a botocore upgrade to pick up new operations or constraints, then run
# go generate ./internal/awsquery.
set -euo pipefail
cd "$(dirname "$0")/.."
boto=$(python3 -c 'import botocore, os; print(os.path.join(os.path.dirname(botocore.__file__), "data"))')
version=$(python3 -c 'import botocore; print(botocore.__version__)')
dir=internal/awsquery/models
cp "$boto/iam/2010-05-08/service-2.json.gz" "$dir/iam-2010-05-08.json.gz"
cp "$boto/sts/2011-06-15/service-2.json.gz" "$dir/sts-2011-06-15.json.gz"
{
  echo "botocore $version"
  (cd "$dir" && sha256sum iam-2010-05-08.json.gz sts-2011-06-15.json.gz)
} > "$dir/PINNED"
echo "models of botocore $version copied from $boto"
