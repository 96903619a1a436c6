#!/usr/bin/env python3
"""Differential test: run the same IAM/STS call sequence against iamd and a
peer implementation (moto's server) and report where they differ.

Development tool, not part of CI. Usage:

    python3 -m moto.server -p 5555 &
    IAMD_AUDIT=off IAMD_ACCOUNT_ID=123456789012 \
      IAMD_ROOT_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE \
      IAMD_ROOT_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY \
      iamd serve --data $(mktemp -d) --addr 127.0.0.1:18090 &
    python3 scripts/difftest/difftest.py [--iamd URL] [--peer URL] [-v] [-k FILTER]

Compared per step: success vs error, error code, HTTP status, error message
(reported separately, as a softer difference), and the normalised response
(volatile values such as IDs, dates and secrets replaced by placeholders;
account IDs replaced by <acct>). Both endpoints must start empty.
"""

import argparse
import base64
import datetime
import json
import re
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

VOLATILE = {
    "UserId", "GroupId", "RoleId", "PolicyId", "InstanceProfileId",
    "AccessKeyId", "SecretAccessKey", "SessionToken", "CreateDate",
    "UpdateDate", "Expiration", "PasswordLastUsed", "GeneratedTime",
    "EnableDate", "Base32StringSeed", "QRCodePNG", "ServerCertificateId",
    "Marker", "LastUsedDate", "UploadDate", "ValidUntil", "Content",
    "AssumedRoleId", "FederatedUserId", "JobId", "JobCreationDate",
    "JobCompletionDate", "SSHPublicKeyId", "Fingerprint", "ServiceSpecificCredentialId",
    "ServicePassword", "CertificateId", "LastAuthenticated", "LastUsed",
}

ID_RE = re.compile(r"\b(AID|AGP|ARO|ANP|AIP|AKI|ASI|APK)A[A-Z0-9]{12,}\b")
ACCT_RE = re.compile(r"\b\d{12}\b")


def norm(v, key=None):
    """Normalise a response value for comparison."""
    if key in VOLATILE and v is not None:
        return "<%s>" % key
    if isinstance(v, dict):
        return {k: norm(x, k) for k, x in v.items() if k != "ResponseMetadata"}
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, (datetime.datetime, datetime.date)):
        return "<date>"
    if isinstance(v, bytes):
        return "<bytes>"
    if isinstance(v, str):
        v = ACCT_RE.sub("<acct>", v)
        v = ID_RE.sub("<id>", v)
        return v
    return v


def diff(a, b, path=""):
    """Yield human-readable differences between normalised values a and b."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            p = path + "." + k if path else k
            if k not in b:
                yield "%s: only iamd has it (%s)" % (p, short(a[k]))
            elif k not in a:
                yield "%s: only peer has it (%s)" % (p, short(b[k]))
            else:
                yield from diff(a[k], b[k], p)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield "%s: length iamd=%d peer=%d" % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            yield from diff(x, y, "%s[%d]" % (path, i))
    elif a != b:
        yield "%s: iamd=%s peer=%s" % (path, short(a), short(b))


def short(v):
    s = json.dumps(v, default=str, sort_keys=True)
    return s if len(s) < 200 else s[:200] + "..."


class Side:
    """One endpoint with clients and the results of its steps."""

    def __init__(self, name, url):
        self.name = name
        self.url = url
        self.results = {}
        cfg = Config(retries={"max_attempts": 1}, region_name="us-east-1",
                     parameter_validation=False)
        sess = boto3.Session(aws_access_key_id=AK, aws_secret_access_key=SK,
                             region_name="us-east-1")
        self.clients = {s: sess.client(s, endpoint_url=url, config=cfg)
                        for s in ("iam", "sts")}

    def client_for(self, svc, creds=None):
        if creds is None:
            return self.clients[svc]
        cfg = Config(retries={"max_attempts": 1}, region_name="us-east-1",
                     parameter_validation=False)
        return boto3.client(svc, endpoint_url=self.url, config=cfg,
                            region_name="us-east-1",
                            aws_access_key_id=creds["AccessKeyId"],
                            aws_secret_access_key=creds["SecretAccessKey"],
                            aws_session_token=creds.get("SessionToken"))

    def run(self, step):
        params = step.params(self.results) if callable(step.params) else step.params
        creds = step.creds(self.results) if step.creds else None
        try:
            c = self.client_for(step.svc, creds)
            if step.paginate:
                pag = c.get_paginator(step.op)
                out = pag.paginate(**params).build_full_result()
            elif step.waiter:
                w = c.get_waiter(step.op)
                w.wait(WaiterConfig={"Delay": 1, "MaxAttempts": 2}, **params)
                out = {"waited": True}
            else:
                out = getattr(c, step.op)(**params)
            self.results[step.label] = out
            return ("ok", out)
        except ClientError as e:
            err = e.response.get("Error", {})
            st = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            self.results[step.label] = None
            return ("err", err.get("Code"), st, err.get("Message"))
        except ParamValidationError as e:
            return ("param", str(e))
        except Exception as e:  # waiter errors and the like
            self.results[step.label] = None
            return ("exc", type(e).__name__, str(e)[:300])


class Step:
    def __init__(self, label, op, params=None, svc="iam", paginate=False,
                 waiter=False, creds=None, ignore=(), note=None):
        self.label = label
        self.op = op
        self.params = params or {}
        self.svc = svc
        self.paginate = paginate
        self.waiter = waiter
        self.creds = creds
        self.ignore = set(ignore)
        self.note = note


def pol(*stmts):
    return json.dumps({"Version": "2012-10-17", "Statement": list(stmts)})


ALLOW_ALL = pol({"Effect": "Allow", "Action": "*", "Resource": "*"})
ALLOW_S3 = pol({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
    "Action": "sts:AssumeRole"}]})
TRUST_EC2 = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})
ACCT = "123456789012"
PARN = "arn:aws:iam::%s:policy/" % ACCT
def saml_metadata():
    """A SAML IdP metadata document with a fresh self-signed signing certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.example.com")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .sign(key, hashes.SHA256()))
    b64 = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    return """<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com/saml">
<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data>
<ds:X509Certificate>%s</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/>
</md:IDPSSODescriptor></md:EntityDescriptor>""" % b64


SAML_META = saml_metadata()


def r(label, *path):
    """Reference a value from an earlier step's result on the same side."""
    def get(res):
        v = res.get(label)
        for p in path:
            if not isinstance(v, dict):
                return None
            v = v.get(p)
        return v
    return get


def P(**kw):
    """Params with lazily resolved references."""
    def build(res):
        out = {k: (v(res) if callable(v) else v) for k, v in kw.items()}
        return {k: v for k, v in out.items() if v is not None}
    return build


def steps():
    S = []
    a = S.append
    # ---------------- users
    a(Step("list-users-empty", "list_users"))
    a(Step("create-user", "create_user", {"UserName": "alice", "Path": "/eng/"}))
    a(Step("create-user-tags", "create_user", {"UserName": "bob", "Tags": [{"Key": "team", "Value": "x"}]}))
    a(Step("create-user-dup", "create_user", {"UserName": "alice"}))
    a(Step("create-user-dup-case", "create_user", {"UserName": "ALICE"}))
    a(Step("create-user-badpath", "create_user", {"UserName": "carol", "Path": "noslash"}))
    a(Step("create-user-badname", "create_user", {"UserName": "bad name!"}))
    a(Step("create-user-longname", "create_user", {"UserName": "u" * 65}))
    a(Step("create-user-boundary-missing", "create_user", {"UserName": "dave", "PermissionsBoundary": PARN + "nope"}))
    a(Step("create-user-boundary-bad", "create_user", {"UserName": "dave", "PermissionsBoundary": "arn:aws:iam::aws:policy/notreal"}))
    a(Step("get-user", "get_user", {"UserName": "alice"}))
    a(Step("get-user-case", "get_user", {"UserName": "Alice"}))
    a(Step("get-user-tags", "get_user", {"UserName": "bob"}))
    a(Step("get-user-missing", "get_user", {"UserName": "nobody"}))
    a(Step("get-user-self", "get_user"))
    a(Step("list-users", "list_users"))
    a(Step("list-users-prefix", "list_users", {"PathPrefix": "/eng/"}))
    a(Step("list-users-page1", "list_users", {"MaxItems": 1}))
    a(Step("list-users-page2", "list_users", P(MaxItems=1, Marker=r("list-users-page1", "Marker"))))
    a(Step("list-users-badmarker", "list_users", {"Marker": "garbage"}))
    a(Step("list-users-maxitems0", "list_users", {"MaxItems": 0}))
    a(Step("list-users-maxitems1001", "list_users", {"MaxItems": 1001}))
    a(Step("paginate-users", "list_users", {"PaginationConfig": {"PageSize": 1}}, paginate=True))
    a(Step("update-user-rename", "update_user", {"UserName": "bob", "NewUserName": "bobby", "NewPath": "/ops/"}))
    a(Step("get-user-renamed", "get_user", {"UserName": "bobby"}))
    a(Step("update-user-missing", "update_user", {"UserName": "nobody", "NewPath": "/x/"}))
    a(Step("update-user-conflict", "update_user", {"UserName": "bobby", "NewUserName": "alice"}))
    a(Step("tag-user", "tag_user", {"UserName": "alice", "Tags": [{"Key": "k1", "Value": "v1"}, {"Key": "k2", "Value": "v2"}]}))
    a(Step("tag-user-dupkeys", "tag_user", {"UserName": "alice", "Tags": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]}))
    a(Step("tag-user-aws-prefix", "tag_user", {"UserName": "alice", "Tags": [{"Key": "aws:x", "Value": "1"}]}))
    a(Step("tag-user-toomany", "tag_user", {"UserName": "alice", "Tags": [{"Key": "t%d" % i, "Value": "v"} for i in range(51)]}))
    a(Step("tag-user-missing", "tag_user", {"UserName": "nobody", "Tags": [{"Key": "a", "Value": "1"}]}))
    a(Step("list-user-tags", "list_user_tags", {"UserName": "alice"}))
    a(Step("list-user-tags-page", "list_user_tags", {"UserName": "alice", "MaxItems": 1}))
    a(Step("untag-user", "untag_user", {"UserName": "alice", "TagKeys": ["k1", "nope"]}))
    a(Step("list-user-tags-2", "list_user_tags", {"UserName": "alice"}))
    a(Step("list-user-tags-missing", "list_user_tags", {"UserName": "nobody"}))
    a(Step("wait-user-exists", "user_exists", {"UserName": "alice"}, waiter=True))
    a(Step("wait-user-exists-missing", "user_exists", {"UserName": "nobody"}, waiter=True))

    # ---------------- groups
    a(Step("create-group", "create_group", {"GroupName": "devs", "Path": "/eng/"}))
    a(Step("create-group2", "create_group", {"GroupName": "admins"}))
    a(Step("create-group-dup", "create_group", {"GroupName": "DEVS"}))
    a(Step("get-group-empty", "get_group", {"GroupName": "devs"}))
    a(Step("get-group-missing", "get_group", {"GroupName": "nope"}))
    a(Step("add-user-to-group", "add_user_to_group", {"GroupName": "devs", "UserName": "alice"}))
    a(Step("add-user-to-group-again", "add_user_to_group", {"GroupName": "devs", "UserName": "alice"}))
    a(Step("add-user-to-group2", "add_user_to_group", {"GroupName": "admins", "UserName": "alice"}))
    a(Step("add-user-missing-to-group", "add_user_to_group", {"GroupName": "devs", "UserName": "nobody"}))
    a(Step("add-user-to-missing-group", "add_user_to_group", {"GroupName": "nope", "UserName": "alice"}))
    a(Step("get-group", "get_group", {"GroupName": "devs"}))
    a(Step("list-groups", "list_groups"))
    a(Step("list-groups-prefix", "list_groups", {"PathPrefix": "/eng"}))
    a(Step("list-groups-for-user", "list_groups_for_user", {"UserName": "alice"}))
    a(Step("list-groups-for-user-missing", "list_groups_for_user", {"UserName": "nobody"}))
    a(Step("update-group", "update_group", {"GroupName": "admins", "NewGroupName": "root-admins", "NewPath": "/a/"}))
    a(Step("update-group-missing", "update_group", {"GroupName": "nope", "NewPath": "/a/"}))
    a(Step("update-group-conflict", "update_group", {"GroupName": "root-admins", "NewGroupName": "devs"}))
    a(Step("list-groups-for-user-2", "list_groups_for_user", {"UserName": "alice"}))
    a(Step("delete-group-nonempty", "delete_group", {"GroupName": "devs"}))
    a(Step("remove-user-from-group", "remove_user_from_group", {"GroupName": "root-admins", "UserName": "alice"}))
    a(Step("remove-user-from-group-notmember", "remove_user_from_group", {"GroupName": "root-admins", "UserName": "alice"}))
    a(Step("remove-user-from-group-missing", "remove_user_from_group", {"GroupName": "nope", "UserName": "alice"}))

    # ---------------- managed policies
    a(Step("create-policy", "create_policy", {"PolicyName": "s3read", "PolicyDocument": ALLOW_S3, "Path": "/app/", "Description": "read s3"}))
    a(Step("create-policy-tags", "create_policy", {"PolicyName": "all", "PolicyDocument": ALLOW_ALL, "Tags": [{"Key": "a", "Value": "b"}]}))
    a(Step("create-policy-dup", "create_policy", {"PolicyName": "s3read", "PolicyDocument": ALLOW_S3}))
    a(Step("create-policy-malformed-json", "create_policy", {"PolicyName": "bad", "PolicyDocument": "{not json"}))
    a(Step("create-policy-no-statement", "create_policy", {"PolicyName": "bad", "PolicyDocument": json.dumps({"Version": "2012-10-17"})}))
    a(Step("create-policy-bad-effect", "create_policy", {"PolicyName": "bad", "PolicyDocument": pol({"Effect": "Maybe", "Action": "*", "Resource": "*"})}))
    a(Step("create-policy-no-resource", "create_policy", {"PolicyName": "bad", "PolicyDocument": pol({"Effect": "Allow", "Action": "*"})}))
    a(Step("create-policy-principal", "create_policy", {"PolicyName": "bad", "PolicyDocument": pol({"Effect": "Allow", "Action": "*", "Resource": "*", "Principal": "*"})}))
    a(Step("create-policy-bad-version", "create_policy", {"PolicyName": "bad", "PolicyDocument": json.dumps({"Version": "2099-01-01", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})}))
    a(Step("create-policy-old-version", "create_policy", {"PolicyName": "old", "PolicyDocument": json.dumps({"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})}))
    a(Step("create-policy-bad-action", "create_policy", {"PolicyName": "bad", "PolicyDocument": pol({"Effect": "Allow", "Action": "s3", "Resource": "*"})}))
    a(Step("create-policy-bad-path", "create_policy", {"PolicyName": "bad", "PolicyDocument": ALLOW_ALL, "Path": "x"}))
    a(Step("create-policy-big", "create_policy", {"PolicyName": "big", "PolicyDocument": pol(*[{"Sid": "S%d" % i, "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket-%d/*" % i} for i in range(120)])}))
    a(Step("get-policy", "get_policy", {"PolicyArn": PARN + "app/s3read"}))
    a(Step("get-policy-missing", "get_policy", {"PolicyArn": PARN + "nope"}))
    a(Step("get-policy-badarn", "get_policy", {"PolicyArn": "not-an-arn"}))
    a(Step("get-policy-aws", "get_policy", {"PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}))
    a(Step("get-policy-version", "get_policy_version", {"PolicyArn": PARN + "app/s3read", "VersionId": "v1"}))
    a(Step("get-policy-version-missing", "get_policy_version", {"PolicyArn": PARN + "app/s3read", "VersionId": "v9"}))
    a(Step("get-policy-version-badid", "get_policy_version", {"PolicyArn": PARN + "app/s3read", "VersionId": "x1"}))
    a(Step("create-policy-version", "create_policy_version", {"PolicyArn": PARN + "app/s3read", "PolicyDocument": ALLOW_ALL}))
    a(Step("create-policy-version-default", "create_policy_version", {"PolicyArn": PARN + "app/s3read", "PolicyDocument": ALLOW_S3, "SetAsDefault": True}))
    a(Step("create-policy-version-4", "create_policy_version", {"PolicyArn": PARN + "app/s3read", "PolicyDocument": ALLOW_S3}))
    a(Step("create-policy-version-5", "create_policy_version", {"PolicyArn": PARN + "app/s3read", "PolicyDocument": ALLOW_S3}))
    a(Step("create-policy-version-6", "create_policy_version", {"PolicyArn": PARN + "app/s3read", "PolicyDocument": ALLOW_S3}))
    a(Step("create-policy-version-missing", "create_policy_version", {"PolicyArn": PARN + "nope", "PolicyDocument": ALLOW_S3}))
    a(Step("list-policy-versions", "list_policy_versions", {"PolicyArn": PARN + "app/s3read"}))
    a(Step("list-policy-versions-page", "list_policy_versions", {"PolicyArn": PARN + "app/s3read", "MaxItems": 2}))
    a(Step("list-policy-versions-missing", "list_policy_versions", {"PolicyArn": PARN + "nope"}))
    a(Step("set-default-version", "set_default_policy_version", {"PolicyArn": PARN + "app/s3read", "VersionId": "v1"}))
    a(Step("set-default-version-missing", "set_default_policy_version", {"PolicyArn": PARN + "app/s3read", "VersionId": "v7"}))
    a(Step("delete-default-version", "delete_policy_version", {"PolicyArn": PARN + "app/s3read", "VersionId": "v1"}))
    a(Step("delete-policy-version", "delete_policy_version", {"PolicyArn": PARN + "app/s3read", "VersionId": "v2"}))
    a(Step("delete-policy-version-missing", "delete_policy_version", {"PolicyArn": PARN + "app/s3read", "VersionId": "v2"}))
    a(Step("get-policy-after-versions", "get_policy", {"PolicyArn": PARN + "app/s3read"}))
    a(Step("list-policies-local", "list_policies", {"Scope": "Local"}))
    a(Step("list-policies-local-attached", "list_policies", {"Scope": "Local", "OnlyAttached": True}))
    a(Step("list-policies-local-prefix", "list_policies", {"Scope": "Local", "PathPrefix": "/app/"}))
    a(Step("list-policies-aws-count", "list_policies", {"Scope": "AWS", "MaxItems": 3}))
    a(Step("list-policies-usage", "list_policies", {"Scope": "Local", "PolicyUsageFilter": "PermissionsBoundary"}))
    a(Step("tag-policy", "tag_policy", {"PolicyArn": PARN + "app/s3read", "Tags": [{"Key": "x", "Value": "y"}]}))
    a(Step("list-policy-tags", "list_policy_tags", {"PolicyArn": PARN + "app/s3read"}))
    a(Step("untag-policy", "untag_policy", {"PolicyArn": PARN + "app/s3read", "TagKeys": ["x"]}))
    a(Step("tag-policy-missing", "tag_policy", {"PolicyArn": PARN + "nope", "Tags": [{"Key": "x", "Value": "y"}]}))
    a(Step("wait-policy-exists", "policy_exists", {"PolicyArn": PARN + "app/s3read"}, waiter=True))

    # ---------------- attachments
    a(Step("attach-user-policy", "attach_user_policy", {"UserName": "alice", "PolicyArn": PARN + "app/s3read"}))
    a(Step("attach-user-policy-again", "attach_user_policy", {"UserName": "alice", "PolicyArn": PARN + "app/s3read"}))
    a(Step("attach-user-policy-aws", "attach_user_policy", {"UserName": "alice", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}))
    a(Step("attach-user-policy-missing", "attach_user_policy", {"UserName": "alice", "PolicyArn": PARN + "nope"}))
    a(Step("attach-user-policy-nouser", "attach_user_policy", {"UserName": "nobody", "PolicyArn": PARN + "app/s3read"}))
    a(Step("attach-user-policy-badarn", "attach_user_policy", {"UserName": "alice", "PolicyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaRole-not"}))
    a(Step("list-attached-user-policies", "list_attached_user_policies", {"UserName": "alice"}))
    a(Step("list-attached-user-policies-prefix", "list_attached_user_policies", {"UserName": "alice", "PathPrefix": "/app/"}))
    a(Step("list-attached-user-policies-missing", "list_attached_user_policies", {"UserName": "nobody"}))
    a(Step("attach-group-policy", "attach_group_policy", {"GroupName": "devs", "PolicyArn": PARN + "all"}))
    a(Step("attach-group-policy-missing", "attach_group_policy", {"GroupName": "nope", "PolicyArn": PARN + "all"}))
    a(Step("list-attached-group-policies", "list_attached_group_policies", {"GroupName": "devs"}))
    a(Step("get-policy-attached", "get_policy", {"PolicyArn": PARN + "app/s3read"}))
    a(Step("list-entities-for-policy", "list_entities_for_policy", {"PolicyArn": PARN + "app/s3read"}))
    a(Step("list-entities-for-policy-filter", "list_entities_for_policy", {"PolicyArn": PARN + "all", "EntityFilter": "Group"}))
    a(Step("list-entities-for-policy-missing", "list_entities_for_policy", {"PolicyArn": PARN + "nope"}))
    a(Step("delete-policy-attached", "delete_policy", {"PolicyArn": PARN + "app/s3read"}))
    a(Step("list-policies-local-attached2", "list_policies", {"Scope": "Local", "OnlyAttached": True}))
    a(Step("detach-user-policy-notattached", "detach_user_policy", {"UserName": "alice", "PolicyArn": PARN + "all"}))
    a(Step("detach-user-policy-missing", "detach_user_policy", {"UserName": "alice", "PolicyArn": PARN + "nope"}))

    # ---------------- inline policies
    a(Step("put-user-policy", "put_user_policy", {"UserName": "alice", "PolicyName": "inline1", "PolicyDocument": ALLOW_S3}))
    a(Step("put-user-policy-malformed", "put_user_policy", {"UserName": "alice", "PolicyName": "inline2", "PolicyDocument": "nope"}))
    a(Step("put-user-policy-nouser", "put_user_policy", {"UserName": "nobody", "PolicyName": "inline1", "PolicyDocument": ALLOW_S3}))
    a(Step("get-user-policy", "get_user_policy", {"UserName": "alice", "PolicyName": "inline1"}))
    a(Step("get-user-policy-missing", "get_user_policy", {"UserName": "alice", "PolicyName": "nope"}))
    a(Step("get-user-policy-nouser", "get_user_policy", {"UserName": "nobody", "PolicyName": "inline1"}))
    a(Step("list-user-policies", "list_user_policies", {"UserName": "alice"}))
    a(Step("list-user-policies-missing", "list_user_policies", {"UserName": "nobody"}))
    a(Step("put-group-policy", "put_group_policy", {"GroupName": "devs", "PolicyName": "g1", "PolicyDocument": ALLOW_S3}))
    a(Step("get-group-policy", "get_group_policy", {"GroupName": "devs", "PolicyName": "g1"}))
    a(Step("get-group-policy-missing", "get_group_policy", {"GroupName": "devs", "PolicyName": "nope"}))
    a(Step("list-group-policies", "list_group_policies", {"GroupName": "devs"}))
    a(Step("delete-group-policy-missing", "delete_group_policy", {"GroupName": "devs", "PolicyName": "nope"}))
    a(Step("delete-user-policy-missing", "delete_user_policy", {"UserName": "alice", "PolicyName": "nope"}))

    # ---------------- roles
    a(Step("create-role", "create_role", {"RoleName": "app", "AssumeRolePolicyDocument": TRUST, "Description": "d", "MaxSessionDuration": 7200, "Path": "/svc/"}))
    a(Step("create-role-ec2", "create_role", {"RoleName": "ec2role", "AssumeRolePolicyDocument": TRUST_EC2, "Tags": [{"Key": "env", "Value": "prod"}]}))
    a(Step("create-role-dup", "create_role", {"RoleName": "APP", "AssumeRolePolicyDocument": TRUST}))
    a(Step("create-role-badtrust", "create_role", {"RoleName": "bad", "AssumeRolePolicyDocument": "{}"}))
    a(Step("create-role-trust-noprincipal", "create_role", {"RoleName": "bad", "AssumeRolePolicyDocument": pol({"Effect": "Allow", "Action": "sts:AssumeRole"})}))
    a(Step("create-role-trust-resource", "create_role", {"RoleName": "bad", "AssumeRolePolicyDocument": pol({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "*"}, "Resource": "*"})}))
    a(Step("create-role-maxsession-bad", "create_role", {"RoleName": "bad", "AssumeRolePolicyDocument": TRUST, "MaxSessionDuration": 100}))
    a(Step("create-role-maxsession-high", "create_role", {"RoleName": "bad", "AssumeRolePolicyDocument": TRUST, "MaxSessionDuration": 50000}))
    a(Step("get-role", "get_role", {"RoleName": "app"}))
    a(Step("get-role-tags", "get_role", {"RoleName": "ec2role"}))
    a(Step("get-role-missing", "get_role", {"RoleName": "nope"}))
    a(Step("list-roles", "list_roles"))
    a(Step("list-roles-prefix", "list_roles", {"PathPrefix": "/svc/"}))
    a(Step("list-roles-page", "list_roles", {"MaxItems": 1}))
    a(Step("update-role", "update_role", {"RoleName": "app", "Description": "new", "MaxSessionDuration": 3600}))
    a(Step("update-role-missing", "update_role", {"RoleName": "nope", "Description": "x"}))
    a(Step("update-role-description", "update_role_description", {"RoleName": "app", "Description": "newer"}))
    a(Step("update-assume-role-policy", "update_assume_role_policy", {"RoleName": "app", "PolicyDocument": TRUST_EC2}))
    a(Step("update-assume-role-policy-bad", "update_assume_role_policy", {"RoleName": "app", "PolicyDocument": "nope"}))
    a(Step("update-assume-role-policy-missing", "update_assume_role_policy", {"RoleName": "nope", "PolicyDocument": TRUST}))
    a(Step("update-assume-role-policy-back", "update_assume_role_policy", {"RoleName": "app", "PolicyDocument": TRUST}))
    a(Step("get-role-updated", "get_role", {"RoleName": "app"}))
    a(Step("tag-role", "tag_role", {"RoleName": "app", "Tags": [{"Key": "a", "Value": "1"}]}))
    a(Step("list-role-tags", "list_role_tags", {"RoleName": "app"}))
    a(Step("untag-role", "untag_role", {"RoleName": "app", "TagKeys": ["a"]}))
    a(Step("tag-role-missing", "tag_role", {"RoleName": "nope", "Tags": [{"Key": "a", "Value": "1"}]}))
    a(Step("put-role-policy", "put_role_policy", {"RoleName": "app", "PolicyName": "r1", "PolicyDocument": ALLOW_S3}))
    a(Step("get-role-policy", "get_role_policy", {"RoleName": "app", "PolicyName": "r1"}))
    a(Step("get-role-policy-missing", "get_role_policy", {"RoleName": "app", "PolicyName": "nope"}))
    a(Step("list-role-policies", "list_role_policies", {"RoleName": "app"}))
    a(Step("attach-role-policy", "attach_role_policy", {"RoleName": "app", "PolicyArn": PARN + "all"}))
    a(Step("list-attached-role-policies", "list_attached_role_policies", {"RoleName": "app"}))
    a(Step("put-role-boundary", "put_role_permissions_boundary", {"RoleName": "app", "PermissionsBoundary": PARN + "app/s3read"}))
    a(Step("put-role-boundary-missing", "put_role_permissions_boundary", {"RoleName": "app", "PermissionsBoundary": PARN + "nope"}))
    a(Step("get-role-boundary", "get_role", {"RoleName": "app"}))
    a(Step("list-policies-boundary", "list_policies", {"Scope": "Local", "PolicyUsageFilter": "PermissionsBoundary"}))
    a(Step("delete-role-boundary", "delete_role_permissions_boundary", {"RoleName": "app"}))
    a(Step("put-user-boundary", "put_user_permissions_boundary", {"UserName": "alice", "PermissionsBoundary": PARN + "app/s3read"}))
    a(Step("get-user-boundary", "get_user", {"UserName": "alice"}))
    a(Step("delete-user-boundary", "delete_user_permissions_boundary", {"UserName": "alice"}))
    a(Step("delete-user-boundary-none", "delete_user_permissions_boundary", {"UserName": "alice"}))
    a(Step("wait-role-exists", "role_exists", {"RoleName": "app"}, waiter=True))
    a(Step("delete-role-haspolicies", "delete_role", {"RoleName": "app"}))

    # ---------------- instance profiles
    a(Step("create-instance-profile", "create_instance_profile", {"InstanceProfileName": "ip1", "Path": "/ip/"}))
    a(Step("create-instance-profile-tags", "create_instance_profile", {"InstanceProfileName": "ip2", "Tags": [{"Key": "a", "Value": "b"}]}))
    a(Step("create-instance-profile-dup", "create_instance_profile", {"InstanceProfileName": "ip1"}))
    a(Step("get-instance-profile", "get_instance_profile", {"InstanceProfileName": "ip1"}))
    a(Step("get-instance-profile-missing", "get_instance_profile", {"InstanceProfileName": "nope"}))
    a(Step("add-role-to-ip", "add_role_to_instance_profile", {"InstanceProfileName": "ip1", "RoleName": "ec2role"}))
    a(Step("add-role-to-ip-again", "add_role_to_instance_profile", {"InstanceProfileName": "ip1", "RoleName": "ec2role"}))
    a(Step("add-role2-to-ip", "add_role_to_instance_profile", {"InstanceProfileName": "ip1", "RoleName": "app"}))
    a(Step("add-missing-role-to-ip", "add_role_to_instance_profile", {"InstanceProfileName": "ip2", "RoleName": "nope"}))
    a(Step("get-instance-profile-role", "get_instance_profile", {"InstanceProfileName": "ip1"}))
    a(Step("list-instance-profiles", "list_instance_profiles"))
    a(Step("list-instance-profiles-prefix", "list_instance_profiles", {"PathPrefix": "/ip/"}))
    a(Step("list-instance-profiles-for-role", "list_instance_profiles_for_role", {"RoleName": "ec2role"}))
    a(Step("list-instance-profiles-for-role-missing", "list_instance_profiles_for_role", {"RoleName": "nope"}))
    a(Step("tag-ip", "tag_instance_profile", {"InstanceProfileName": "ip1", "Tags": [{"Key": "a", "Value": "1"}]}))
    a(Step("list-ip-tags", "list_instance_profile_tags", {"InstanceProfileName": "ip1"}))
    a(Step("untag-ip", "untag_instance_profile", {"InstanceProfileName": "ip1", "TagKeys": ["a"]}))
    a(Step("wait-ip-exists", "instance_profile_exists", {"InstanceProfileName": "ip1"}, waiter=True))
    a(Step("delete-role-in-ip", "delete_role", {"RoleName": "ec2role"}))
    a(Step("delete-ip-hasrole", "delete_instance_profile", {"InstanceProfileName": "ip1"}))
    a(Step("remove-role-from-ip", "remove_role_from_instance_profile", {"InstanceProfileName": "ip1", "RoleName": "ec2role"}))
    a(Step("remove-role-from-ip-again", "remove_role_from_instance_profile", {"InstanceProfileName": "ip1", "RoleName": "ec2role"}))
    a(Step("delete-ip", "delete_instance_profile", {"InstanceProfileName": "ip1"}))
    a(Step("delete-ip-missing", "delete_instance_profile", {"InstanceProfileName": "ip1"}))

    # ---------------- access keys
    a(Step("create-access-key", "create_access_key", {"UserName": "alice"}))
    a(Step("create-access-key-2", "create_access_key", {"UserName": "alice"}))
    a(Step("create-access-key-3", "create_access_key", {"UserName": "alice"}))
    a(Step("create-access-key-nouser", "create_access_key", {"UserName": "nobody"}))
    a(Step("list-access-keys", "list_access_keys", {"UserName": "alice"}))
    a(Step("list-access-keys-nouser", "list_access_keys", {"UserName": "nobody"}))
    a(Step("update-access-key", "update_access_key", P(UserName="alice", AccessKeyId=r("create-access-key", "AccessKey", "AccessKeyId"), Status="Inactive")))
    a(Step("update-access-key-missing", "update_access_key", {"UserName": "alice", "AccessKeyId": "AKIAAAAAAAAAAAAAAAAA", "Status": "Inactive"}))
    a(Step("get-access-key-last-used", "get_access_key_last_used", P(AccessKeyId=r("create-access-key", "AccessKey", "AccessKeyId"))))
    a(Step("get-access-key-last-used-missing", "get_access_key_last_used", {"AccessKeyId": "AKIAAAAAAAAAAAAAAAAA"}))
    a(Step("delete-access-key-missing", "delete_access_key", {"UserName": "alice", "AccessKeyId": "AKIAAAAAAAAAAAAAAAAA"}))
    a(Step("list-access-keys-root", "list_access_keys"))

    # ---------------- login profiles
    a(Step("create-login-profile", "create_login_profile", {"UserName": "alice", "Password": "Sup3r-Secret!pw", "PasswordResetRequired": True}))
    a(Step("create-login-profile-dup", "create_login_profile", {"UserName": "alice", "Password": "Sup3r-Secret!pw"}))
    a(Step("create-login-profile-nouser", "create_login_profile", {"UserName": "nobody", "Password": "Sup3r-Secret!pw"}))
    a(Step("get-login-profile", "get_login_profile", {"UserName": "alice"}))
    a(Step("get-login-profile-missing", "get_login_profile", {"UserName": "bobby"}))
    a(Step("update-login-profile", "update_login_profile", {"UserName": "alice", "Password": "An0ther-Secret!", "PasswordResetRequired": False}))
    a(Step("update-login-profile-missing", "update_login_profile", {"UserName": "bobby", "Password": "An0ther-Secret!"}))
    a(Step("get-login-profile-2", "get_login_profile", {"UserName": "alice"}))
    a(Step("delete-login-profile-missing", "delete_login_profile", {"UserName": "bobby"}))

    # ---------------- MFA
    a(Step("create-virtual-mfa", "create_virtual_mfa_device", {"VirtualMFADeviceName": "alice-mfa"}))
    a(Step("create-virtual-mfa-path", "create_virtual_mfa_device", {"VirtualMFADeviceName": "other", "Path": "/p/"}))
    a(Step("create-virtual-mfa-dup", "create_virtual_mfa_device", {"VirtualMFADeviceName": "alice-mfa"}))
    a(Step("list-virtual-mfa", "list_virtual_mfa_devices"))
    a(Step("list-virtual-mfa-unassigned", "list_virtual_mfa_devices", {"AssignmentStatus": "Unassigned"}))
    a(Step("enable-mfa-badcode", "enable_mfa_device", {"UserName": "alice", "SerialNumber": "arn:aws:iam::%s:mfa/alice-mfa" % ACCT, "AuthenticationCode1": "123456", "AuthenticationCode2": "654321"}))
    a(Step("list-mfa-devices", "list_mfa_devices", {"UserName": "alice"}))
    a(Step("list-mfa-devices-nouser", "list_mfa_devices", {"UserName": "nobody"}))
    a(Step("deactivate-mfa-missing", "deactivate_mfa_device", {"UserName": "alice", "SerialNumber": "arn:aws:iam::%s:mfa/nope" % ACCT}))
    a(Step("delete-virtual-mfa", "delete_virtual_mfa_device", {"SerialNumber": "arn:aws:iam::%s:mfa/p/other" % ACCT}))
    a(Step("delete-virtual-mfa-missing", "delete_virtual_mfa_device", {"SerialNumber": "arn:aws:iam::%s:mfa/nope" % ACCT}))
    a(Step("tag-mfa", "tag_mfa_device", {"SerialNumber": "arn:aws:iam::%s:mfa/alice-mfa" % ACCT, "Tags": [{"Key": "a", "Value": "b"}]}))
    a(Step("list-mfa-tags", "list_mfa_device_tags", {"SerialNumber": "arn:aws:iam::%s:mfa/alice-mfa" % ACCT}))

    # ---------------- account
    a(Step("create-alias", "create_account_alias", {"AccountAlias": "my-alias"}))
    a(Step("create-alias-bad", "create_account_alias", {"AccountAlias": "Bad_Alias"}))
    a(Step("list-aliases", "list_account_aliases"))
    a(Step("delete-alias-missing", "delete_account_alias", {"AccountAlias": "other-alias"}))
    a(Step("delete-alias", "delete_account_alias", {"AccountAlias": "my-alias"}))
    a(Step("list-aliases-empty", "list_account_aliases"))
    a(Step("get-password-policy-none", "get_account_password_policy"))
    a(Step("delete-password-policy-none", "delete_account_password_policy"))
    a(Step("update-password-policy", "update_account_password_policy", {"MinimumPasswordLength": 12, "RequireSymbols": True, "MaxPasswordAge": 90, "PasswordReusePrevention": 3}))
    a(Step("update-password-policy-bad", "update_account_password_policy", {"MinimumPasswordLength": 200}))
    a(Step("get-password-policy", "get_account_password_policy"))
    a(Step("update-password-policy-defaults", "update_account_password_policy", {}))
    a(Step("get-password-policy-defaults", "get_account_password_policy"))
    a(Step("delete-password-policy", "delete_account_password_policy"))
    a(Step("get-account-summary", "get_account_summary"))
    a(Step("get-authz-details", "get_account_authorization_details", {"Filter": ["User", "Group", "Role", "LocalManagedPolicy"]}))
    a(Step("get-authz-details-user", "get_account_authorization_details", {"Filter": ["User"]}))
    a(Step("get-authz-details-page", "get_account_authorization_details", {"Filter": ["User", "Role"], "MaxItems": 1}))
    a(Step("generate-credential-report", "generate_credential_report"))
    a(Step("get-credential-report", "get_credential_report"))

    # ---------------- OIDC / SAML
    a(Step("create-oidc", "create_open_id_connect_provider", {"Url": "https://oidc.example.com", "ClientIDList": ["c1"], "ThumbprintList": ["a" * 40]}))
    a(Step("create-oidc-dup", "create_open_id_connect_provider", {"Url": "https://oidc.example.com", "ThumbprintList": ["a" * 40]}))
    a(Step("create-oidc-badurl", "create_open_id_connect_provider", {"Url": "http://oidc.example.com", "ThumbprintList": ["a" * 40]}))
    a(Step("create-oidc-nothumb", "create_open_id_connect_provider", {"Url": "https://oidc2.example.com"}))
    a(Step("get-oidc", "get_open_id_connect_provider", {"OpenIDConnectProviderArn": "arn:aws:iam::%s:oidc-provider/oidc.example.com" % ACCT}))
    a(Step("get-oidc-missing", "get_open_id_connect_provider", {"OpenIDConnectProviderArn": "arn:aws:iam::%s:oidc-provider/nope.example.com" % ACCT}))
    a(Step("list-oidc", "list_open_id_connect_providers"))
    a(Step("add-client-id", "add_client_id_to_open_id_connect_provider", {"OpenIDConnectProviderArn": "arn:aws:iam::%s:oidc-provider/oidc.example.com" % ACCT, "ClientID": "c2"}))
    a(Step("remove-client-id", "remove_client_id_from_open_id_connect_provider", {"OpenIDConnectProviderArn": "arn:aws:iam::%s:oidc-provider/oidc.example.com" % ACCT, "ClientID": "c1"}))
    a(Step("update-thumbprint", "update_open_id_connect_provider_thumbprint", {"OpenIDConnectProviderArn": "arn:aws:iam::%s:oidc-provider/oidc.example.com" % ACCT, "ThumbprintList": ["b" * 40]}))
    a(Step("get-oidc-2", "get_open_id_connect_provider", {"OpenIDConnectProviderArn": "arn:aws:iam::%s:oidc-provider/oidc.example.com" % ACCT}))
    a(Step("tag-oidc", "tag_open_id_connect_provider", {"OpenIDConnectProviderArn": "arn:aws:iam::%s:oidc-provider/oidc.example.com" % ACCT, "Tags": [{"Key": "a", "Value": "b"}]}))
    a(Step("list-oidc-tags", "list_open_id_connect_provider_tags", {"OpenIDConnectProviderArn": "arn:aws:iam::%s:oidc-provider/oidc.example.com" % ACCT}))
    a(Step("delete-oidc", "delete_open_id_connect_provider", {"OpenIDConnectProviderArn": "arn:aws:iam::%s:oidc-provider/oidc.example.com" % ACCT}))
    a(Step("delete-oidc-missing", "delete_open_id_connect_provider", {"OpenIDConnectProviderArn": "arn:aws:iam::%s:oidc-provider/oidc.example.com" % ACCT}))
    a(Step("create-saml", "create_saml_provider", {"Name": "idp", "SAMLMetadataDocument": SAML_META}))
    a(Step("create-saml-dup", "create_saml_provider", {"Name": "idp", "SAMLMetadataDocument": SAML_META}))
    a(Step("get-saml", "get_saml_provider", {"SAMLProviderArn": "arn:aws:iam::%s:saml-provider/idp" % ACCT}))
    a(Step("get-saml-missing", "get_saml_provider", {"SAMLProviderArn": "arn:aws:iam::%s:saml-provider/nope" % ACCT}))
    a(Step("list-saml", "list_saml_providers"))
    a(Step("update-saml", "update_saml_provider", {"SAMLProviderArn": "arn:aws:iam::%s:saml-provider/idp" % ACCT, "SAMLMetadataDocument": SAML_META}))
    a(Step("delete-saml", "delete_saml_provider", {"SAMLProviderArn": "arn:aws:iam::%s:saml-provider/idp" % ACCT}))
    a(Step("delete-saml-missing", "delete_saml_provider", {"SAMLProviderArn": "arn:aws:iam::%s:saml-provider/idp" % ACCT}))

    # ---------------- simulate
    a(Step("simulate-custom", "simulate_custom_policy", {"PolicyInputList": [ALLOW_S3], "ActionNames": ["s3:GetObject", "s3:PutObject"], "ResourceArns": ["arn:aws:s3:::b/k"]}))
    a(Step("simulate-custom-malformed", "simulate_custom_policy", {"PolicyInputList": ["nope"], "ActionNames": ["s3:GetObject"]}))
    a(Step("simulate-principal", "simulate_principal_policy", {"PolicySourceArn": "arn:aws:iam::%s:user/eng/alice" % ACCT, "ActionNames": ["s3:GetObject"], "ResourceArns": ["arn:aws:s3:::b/k"]}))
    a(Step("simulate-principal-missing", "simulate_principal_policy", {"PolicySourceArn": "arn:aws:iam::%s:user/nobody" % ACCT, "ActionNames": ["s3:GetObject"]}))
    a(Step("get-context-keys-custom", "get_context_keys_for_custom_policy", {"PolicyInputList": [pol({"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"StringEquals": {"aws:username": "x", "s3:prefix": "y"}}})]}))

    # ---------------- STS
    a(Step("sts-caller", "get_caller_identity", svc="sts"))
    a(Step("sts-caller-user", "get_caller_identity", svc="sts", creds=r("create-access-key-2", "AccessKey")))
    a(Step("sts-assume-role", "assume_role", {"RoleArn": "arn:aws:iam::%s:role/svc/app" % ACCT, "RoleSessionName": "sess1"}, svc="sts"))
    a(Step("sts-caller-assumed", "get_caller_identity", svc="sts", creds=r("sts-assume-role", "Credentials")))
    a(Step("sts-assume-role-missing", "assume_role", {"RoleArn": "arn:aws:iam::%s:role/nope" % ACCT, "RoleSessionName": "s1"}, svc="sts"))
    a(Step("sts-assume-role-toolong", "assume_role", {"RoleArn": "arn:aws:iam::%s:role/svc/app" % ACCT, "RoleSessionName": "s1", "DurationSeconds": 43200}, svc="sts"))
    a(Step("sts-assume-role-badname", "assume_role", {"RoleArn": "arn:aws:iam::%s:role/svc/app" % ACCT, "RoleSessionName": "bad name"}, svc="sts"))
    a(Step("sts-assume-role-policy", "assume_role", {"RoleArn": "arn:aws:iam::%s:role/svc/app" % ACCT, "RoleSessionName": "s2", "Policy": ALLOW_S3, "Tags": [{"Key": "a", "Value": "b"}], "ExternalId": "ext"}, svc="sts"))
    a(Step("sts-session-token", "get_session_token", svc="sts", creds=r("create-access-key-2", "AccessKey")))
    a(Step("sts-session-token-dur", "get_session_token", {"DurationSeconds": 900}, svc="sts", creds=r("create-access-key-2", "AccessKey")))
    a(Step("sts-session-token-short", "get_session_token", {"DurationSeconds": 100}, svc="sts", creds=r("create-access-key-2", "AccessKey")))
    a(Step("sts-federation-token", "get_federation_token", {"Name": "fed", "Policy": ALLOW_S3}, svc="sts", creds=r("create-access-key-2", "AccessKey")))
    a(Step("sts-caller-fed", "get_caller_identity", svc="sts", creds=r("sts-federation-token", "Credentials")))
    a(Step("sts-access-key-info", "get_access_key_info", P(AccessKeyId=r("create-access-key", "AccessKey", "AccessKeyId")), svc="sts"))
    a(Step("sts-access-key-info-root", "get_access_key_info", {"AccessKeyId": AK}, svc="sts"))
    a(Step("sts-decode-bad", "decode_authorization_message", {"EncodedMessage": "garbage"}, svc="sts"))

    # ---------------- paginators
    a(Step("paginate-roles", "list_roles", {"PaginationConfig": {"PageSize": 1}}, paginate=True))
    a(Step("paginate-policies", "list_policies", {"Scope": "Local", "PaginationConfig": {"PageSize": 1}}, paginate=True))
    a(Step("paginate-groups", "list_groups", {"PaginationConfig": {"PageSize": 1}}, paginate=True))
    a(Step("paginate-authz", "get_account_authorization_details", {"Filter": ["User", "Role", "Group", "LocalManagedPolicy"], "PaginationConfig": {"PageSize": 1}}, paginate=True))

    # ---------------- deletes / conflicts
    a(Step("delete-user-conflict", "delete_user", {"UserName": "alice"}))
    a(Step("delete-user-missing", "delete_user", {"UserName": "nobody"}))
    a(Step("delete-access-key", "delete_access_key", P(UserName="alice", AccessKeyId=r("create-access-key", "AccessKey", "AccessKeyId"))))
    a(Step("delete-access-key-2", "delete_access_key", P(UserName="alice", AccessKeyId=r("create-access-key-2", "AccessKey", "AccessKeyId"))))
    a(Step("delete-login-profile", "delete_login_profile", {"UserName": "alice"}))
    a(Step("delete-user-policy", "delete_user_policy", {"UserName": "alice", "PolicyName": "inline1"}))
    a(Step("detach-user-policy", "detach_user_policy", {"UserName": "alice", "PolicyArn": PARN + "app/s3read"}))
    a(Step("detach-user-policy-aws", "detach_user_policy", {"UserName": "alice", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}))
    a(Step("delete-user-in-group", "delete_user", {"UserName": "alice"}))
    a(Step("remove-user-from-devs", "remove_user_from_group", {"GroupName": "devs", "UserName": "alice"}))
    a(Step("delete-user", "delete_user", {"UserName": "alice"}))
    a(Step("delete-group-policies", "delete_group", {"GroupName": "devs"}))
    a(Step("delete-group-policy", "delete_group_policy", {"GroupName": "devs", "PolicyName": "g1"}))
    a(Step("detach-group-policy", "detach_group_policy", {"GroupName": "devs", "PolicyArn": PARN + "all"}))
    a(Step("delete-group", "delete_group", {"GroupName": "devs"}))
    a(Step("delete-group-missing", "delete_group", {"GroupName": "devs"}))
    a(Step("delete-policy-versions", "delete_policy", {"PolicyArn": PARN + "app/s3read"}))
    a(Step("delete-policy-missing", "delete_policy", {"PolicyArn": PARN + "nope"}))
    a(Step("delete-policy-aws", "delete_policy", {"PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}))
    a(Step("delete-role-policy", "delete_role_policy", {"RoleName": "app", "PolicyName": "r1"}))
    a(Step("detach-role-policy", "detach_role_policy", {"RoleName": "app", "PolicyArn": PARN + "all"}))
    a(Step("delete-role-in-ip", "delete_role", {"RoleName": "app"}))
    a(Step("remove-role2-from-ip", "remove_role_from_instance_profile", {"InstanceProfileName": "ip1", "RoleName": "app"}))
    a(Step("delete-role", "delete_role", {"RoleName": "app"}))
    a(Step("delete-role-missing", "delete_role", {"RoleName": "app"}))
    a(Step("wait-role-exists-missing", "role_exists", {"RoleName": "app"}, waiter=True))
    a(Step("final-summary", "get_account_summary"))
    return S


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iamd", default="http://127.0.0.1:18090")
    ap.add_argument("--peer", default="http://127.0.0.1:5555")
    ap.add_argument("-v", action="store_true", help="print every step")
    ap.add_argument("-k", default="", help="only report steps whose label contains this")
    args = ap.parse_args()
    me, peer = Side("iamd", args.iamd), Side("peer", args.peer)
    n_diff = 0
    for st in steps():
        x, y = me.run(st), peer.run(st)
        out = []
        if x[0] != y[0]:
            out.append("outcome: iamd=%s peer=%s" % (short(x), short(y)))
        elif x[0] == "err":
            if x[1] != y[1]:
                out.append("code: iamd=%s peer=%s" % (x[1], y[1]))
            if x[2] != y[2]:
                out.append("status: iamd=%s peer=%s" % (x[2], y[2]))
            if norm(x[3]) != norm(y[3]):
                out.append("message: iamd=%r\n             peer=%r" % (x[3], y[3]))
        elif x[0] == "ok":
            out.extend(d for d in diff(norm(x[1]), norm(y[1]))
                       if d.split(":")[0] not in st.ignore)
        elif x != y:
            out.append("iamd=%s peer=%s" % (short(x), short(y)))
        if args.k and args.k not in st.label:
            continue
        if out:
            n_diff += 1
            print("== %s (%s.%s)" % (st.label, st.svc, st.op))
            for o in out:
                print("   " + o)
        elif args.v:
            print("   same: %s %s" % (st.label, short(x)[:150]))
    print("\n%d steps differ" % n_diff)


if __name__ == "__main__":
    main()
