#!/usr/bin/env bash
# Copies the AWS service models (botocore's service-2.json for IAM and STS) that
# the awsQuery codec is driven by into internal/awsquery/models. Re-run after a
# botocore upgrade to pick up new operations or constraints.
set -euo pipefail
cd "$(dirname "$0")/.."
boto=$(python3 -c 'import botocore, os; print(os.path.join(os.path.dirname(botocore.__file__), "data"))')
cp "$boto/iam/2010-05-08/service-2.json.gz" internal/awsquery/models/iam-2010-05-08.json.gz
cp "$boto/sts/2011-06-15/service-2.json.gz" internal/awsquery/models/sts-2011-06-15.json.gz
echo "models copied from $boto"
