#!/bin/sh
# Drives the aws CLI (v1) through a realistic IAM/STS session against a running
# iamd (default http://127.0.0.1:18090, root credentials as in difftest.py) and
# stops at the first failing command. Read the output by eye against AWS's.
set -ex
EP=${IAMD_URL:-http://127.0.0.1:18090}
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY AWS_DEFAULT_REGION=us-east-1
a() { aws --endpoint-url "$EP" "$@"; }
tmp=$(mktemp -d)
TRUST='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":["sts:AssumeRole","sts:TagSession"]}]}'
DOC='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'
a sts get-caller-identity
a iam create-user --user-name walk-alice --tags Key=team,Value=x
a iam wait user-exists --user-name walk-alice
a iam create-group --group-name walk-devs
a iam add-user-to-group --group-name walk-devs --user-name walk-alice
a iam get-group --group-name walk-devs
a iam create-policy --policy-name walk-read --policy-document "$DOC" --description "read"
a iam wait policy-exists --policy-arn arn:aws:iam::123456789012:policy/walk-read
a iam list-policies --scope Local
a iam attach-user-policy --user-name walk-alice --policy-arn arn:aws:iam::123456789012:policy/walk-read
a iam list-attached-user-policies --user-name walk-alice
a iam put-user-policy --user-name walk-alice --policy-name inline --policy-document "$DOC"
a iam get-user-policy --user-name walk-alice --policy-name inline
a iam create-role --role-name walk-app --assume-role-policy-document "$TRUST" --max-session-duration 7200
a iam wait role-exists --role-name walk-app
a iam get-role --role-name walk-app
a iam create-instance-profile --instance-profile-name walk-ip
a iam wait instance-profile-exists --instance-profile-name walk-ip
a iam add-role-to-instance-profile --instance-profile-name walk-ip --role-name walk-app
a iam list-instance-profiles-for-role --role-name walk-app
a iam create-access-key --user-name walk-alice
a iam list-access-keys --user-name walk-alice
a iam create-login-profile --user-name walk-alice --password 'Sup3r-Secret!pw' --password-reset-required
a iam create-virtual-mfa-device --virtual-mfa-device-name walk-mfa --outfile "$tmp/qr.png" --bootstrap-method QRCodePNG
file "$tmp/qr.png"
a iam list-virtual-mfa-devices
a iam create-account-alias --account-alias walk-alias
a iam list-account-aliases
a iam update-account-password-policy --minimum-password-length 12 --require-symbols
a iam get-account-password-policy
a iam get-account-summary
a iam get-account-authorization-details --filter User Role --max-items 1
a iam list-users --page-size 1
a iam generate-credential-report
a iam get-credential-report --query Content --output text | base64 -d
a iam simulate-principal-policy --policy-source-arn arn:aws:iam::123456789012:user/walk-alice --action-names s3:GetObject s3:PutObject
a sts assume-role --role-arn arn:aws:iam::123456789012:role/walk-app --role-session-name walk --tags Key=a,Value=b
a sts get-session-token
a sts get-federation-token --name walk-fed --policy "$DOC"
a sts get-access-key-info --access-key-id AKIAIOSFODNN7EXAMPLE
rm -rf "$tmp"
