package policy

import (
	"errors"
	"testing"
)

func TestParseRejects(t *testing.T) {
	t.Parallel()
	const ok = `"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::example_bucket"`
	tests := []struct {
		name string
		kind Kind
		doc  string
		want string
	}{
		{"not json", Identity, `This is not a json document`, "Syntax errors in policy."},
		{"bad version", Identity, `{"Version":"2013-10-17","Statement":{` + ok + `}}`, "Syntax errors in policy."},
		{"no statement", Identity, `{"Version":"2012-10-17"}`, "Syntax errors in policy."},
		{"statement not object", Identity, `{"Version":"2012-10-17","Statement":["afd"]}`, "Syntax errors in policy."},
		{"extra top field", Identity, `{"Version":"2012-10-17","Statement":{` + ok + `},"Extra field":"value"}`, "Syntax errors in policy."},
		{"extra statement field", Identity, `{"Version":"2012-10-17","Statement":{` + ok + `,"Extra field":"value"}}`, "Syntax errors in policy."},
		{"id list", Identity, `{"Version":"2012-10-17","Id":["x"],"Statement":{` + ok + `}}`, "Syntax errors in policy."},
		{"invalid effect", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"invalid","Action":"s3:ListBucket","Resource":"*"}}`, "Syntax errors in policy."},
		{"no vendor", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"invalid","Resource":"arn:aws:s3:::example_bucket"}}`, msgVendor},
		{"empty notaction", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"","Resource":"arn:aws:s3:::example_bucket"}}`, msgVendor},
		{"vendor with space", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"a a:ListBucket","Resource":"arn:aws:s3:::example_bucket"}}`, "Vendor a a is not valid"},
		{"two colons", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:List:Bucket","Resource":"arn:aws:s3:::example_bucket"}}`, msgOneColon},
		{"resource not arn", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"invalid resource"}}`, `Resource invalid resource must be in ARN format or "*".`},
		{"resource error before action error", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s:3:ListBucket","Resource":"sdfsadf"}}`, `Resource sdfsadf must be in ARN format or "*".`},
		{"empty resource", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":""}}`, `Resource  must be in ARN format or "*".`},
		{"bad partition short", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"s3s:ListBucket","Resource":"a:bsdfdsafsad"}}`, `Partition "bsdfdsafsad" is not valid for resource "arn:bsdfdsafsad:*:*:*:*".`},
		{"bad partition b", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"s3s:ListBucket","Resource":"a:b:cadfsdf"}}`, `Partition "b" is not valid for resource "arn:b:cadfsdf:*:*:*".`},
		{"bad partition long", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"s3s:ListBucket","Resource":"a:b:c:d:e:f:g:h"}}`, `Partition "b" is not valid for resource "arn:b:c:d:e:f:g:h".`},
		{"missing arn prefix", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"aws:s3:::example_bucket"}}`, `Partition "s3" is not valid for resource "arn:s3:::example_bucket:*".`},
		{"bad partition list", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":["arn:error:s3:::example_bucket","arn:error:s3::example_bucket"]}}`, `Partition "error" is not valid for resource "arn:error:s3:::example_bucket".`},
		{"empty statement list", Identity, `{"Version":"2012-10-17","Statement":[]}`, "Syntax errors in policy."},
		{"no resource", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket"}}`, msgNoResources},
		{"empty resource list", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":[]}}`, msgNoResources},
		{"vendor before missing resource", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"invalid"}}`, msgVendor},
		{"no action", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Resource":"arn:aws:s3:::example_bucket"}}`, msgNoActions},
		{"no effect", Identity, `{"Version":"2012-10-17","Statement":{"Action":"s3:ListBucket","Resource":"arn:aws:s3:::example_bucket"}}`, "Syntax errors in policy."},
		{"empty action list", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}`, msgNoActions},
		{"second statement without action", Identity, `{"Version":"2012-10-17","Statement":[{"Effect":"Deny"},{` + ok + `}]}`, msgNoActions},
		{"iam path", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:iam:::example_bucket"}}`, `IAM resource path must either be "*" or start with user/, federated-user/, role/, group/, instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, oidc-provider/, report/, access-report/.`},
		{"legacy short arn", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3::example_bucket"}}`, msgLegacy},
		{"vendor not qualified", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws"}}`, msgVendorQualified},
		{"resource object", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":{"a":"arn:aws:s3:::example_bucket"}}}`, "Syntax errors in policy."},
		{"resource and notresource", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"s3:ListBucket","Resource":"*","NotResource":[]}}`, "Syntax errors in policy."},
		{"action and notaction", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"s3:ListBucket","Action":"iam:dsf","Resource":"*"}}`, "Syntax errors in policy."},
		{"condition list", Identity, `{"Version":"2012-10-17","Statement":{` + ok + `,"Condition":[]}}`, "Syntax errors in policy."},
		{"condition string block", Identity, `{"Version":"2012-10-17","Statement":{` + ok + `,"Condition":{"DateGreaterThan":"b"}}}`, "Syntax errors in policy."},
		{"unknown operator", Identity, `{"Version":"2012-10-17","Statement":{` + ok + `,"Condition":{"x":{"a":"1"}}}}`, "Syntax errors in policy."},
		{"double colon qualifier", Identity, `{"Version":"2012-10-17","Statement":{` + ok + `,"Condition":{"ForAnyValue::StringEqualsIfExists":{"a":"asf"}}}}`, "Syntax errors in policy."},
		{"iam region", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:iam:us-east-1::example_bucket"}}`, "IAM resource arn:aws:iam:us-east-1::example_bucket cannot contain region information."},
		{"s3 region", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:us-east-1::example_bucket"}}`, "Resource arn:aws:s3:us-east-1::example_bucket can not contain region information."},
		{"sid object", Identity, `{"Version":"2012-10-17","Statement":{"Sid":{},` + ok + `}}`, "Syntax errors in policy."},
		{"duplicate sid", Identity, `{"Version":"2012-10-17","Statement":[{"Sid":"sdf",` + ok + `},{"Sid":"sdf","Effect":"Allow"}]}`, msgDuplicateSid},
		{"effect case", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"denY","Action":"s3:ListBucket","Resource":"*"}}`, msgLegacy},
		{"bad date", Identity, `{"Version":"2012-10-17","Statement":{` + ok + `,"Condition":{"DateGreaterThan":{"a":"sdfdsf"}}}}`, msgLegacy},
		{"bad date month", Identity, `{"Version":"2012-10-17","Statement":{` + ok + `,"Condition":{"DateLessThanEquals":{"a":"234-13"}}}}`, msgLegacy},
		{"bad date tz", Identity, `{"Version":"2012-10-17","Statement":{` + ok + `,"Condition":{"DateLessThanEquals":{"a":"2016-12-13t2:00:00.593194+1"}}}}`, msgLegacy},
		{"date too big", Identity, `{"Version":"2012-10-17","Statement":{` + ok + `,"Condition":{"DateLessThan":{"a":"9223372036854775808"}}}}`, msgLegacy},
		{"legacy empty service", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"s3:ListBucket","Resource":"arn:aws::::example_bucket"}}`, msgLegacy},
		{"legacy notresource", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","NotResource":"arn:aws:s3::example_bucket"}}`, msgLegacy},
		{"legacy short", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws::fdsasf"}}`, msgLegacy},
		{"principal in identity", Identity, `{"Version":"2012-10-17","Statement":{` + ok + `,"Principal":"*"}}`, msgNoPrincipalHere},
		{"principal in boundary", Boundary, `{"Version":"2012-10-17","Statement":{` + ok + `,"Principal":{"AWS":"*"}}}`, msgNoPrincipalHere},
		{"resource policy without principal", Resource, `{"Version":"2012-10-17","Statement":{` + ok + `}}`, msgMissingPrinc},
		{"trust without principal", Trust, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}`, msgMissingPrinc},
		{"trust with resource", Trust, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Resource":"*"}}`, "Has prohibited field Resource"},
		{"trust non sts action", Trust, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"*"}}`, msgTrustActions},
		{"trust s3 action", Trust, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"s3:GetObject"}}`, msgTrustActions},
		{"invalid aws principal", Resource, `{"Version":"2012-10-17","Statement":{` + ok + `,"Principal":{"AWS":"bob"}}}`, `Invalid principal in policy: "AWS":"bob"`},
		{"wildcard aws principal arn", Resource, `{"Version":"2012-10-17","Statement":{` + ok + `,"Principal":{"AWS":"arn:aws:iam::123456789012:user/*"}}}`, `Invalid principal in policy: "AWS":"arn:aws:iam::123456789012:user/*"`},
		{"sid not alphanumeric", Identity, `{"Version":"2012-10-17","Statement":{"Sid":"a b",` + ok + `}}`, msgSidAlnum},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), tc.kind)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse error = %v, want ValidationError %q", err, tc.want)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("errors.Is(err, ErrMalformed) = false")
			}
			if ve.Message != tc.want {
				t.Errorf("message = %q, want %q", ve.Message, tc.want)
			}
		})
	}
}

func TestParseManagedVersion(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		`{"Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::example_bucket"}}`,
		`{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::example_bucket"}}`,
	} {
		_, err := ParseWithOptions([]byte(doc), Identity, ParseOptions{RequireVersion2012: true})
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Message != msgVersion2012 {
			t.Errorf("ParseWithOptions(%s) = %v, want %q", doc, err, msgVersion2012)
		}
		if _, err := Parse([]byte(doc), Identity); err != nil {
			t.Errorf("Parse(%s) inline = %v, want success", doc, err)
		}
	}
}

func TestParseAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		kind Kind
		doc  string
	}{
		{"array resource", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":["arn:aws:s3:::example_bucket"]}}`},
		{"spaces in action", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam: asdf safdsf af ","Resource":"arn:aws:s3:::example_bucket"}}`},
		{"star action", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::example_bucket"}}`},
		{"unknown service resource", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:fdsasf"}}`},
		{"empty condition", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{}}}`},
		{"empty unknown operator block", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"x":{},"y":{}}}}`},
		{"empty date list", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateGreaterThan":{"a":[]}}}}`},
		{"lenient dates", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateGreaterThan":{"a":["01T","2016-12-13T21:20:37.593194+00:00","2016-12-13t2:00:00.593194+23","-292275054","2019-07-01T13:20:15Z"]}}}}`},
		{"qualified operators", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"ForAnyValue:StringEqualsIfExists":{"a":"asf"},"ForAllValues:StringEquals":{"aws:TagKeys":"Department"}}}}`},
		{"bool and number values", Resource, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":false},"NumericLessThan":{"s3:max-keys":10}}}}`},
		{"notresource star", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"s3:ListBucket","NotResource":"*"}}`},
		{"empty sids", Identity, `{"Version":"2012-10-17","Statement":[{"Sid":"","Effect":"Allow","Action":"rds:*","Resource":["arn:aws:rds:region:*:*"]},{"Sid":"","Effect":"Allow","Action":["rds:Describe*"],"Resource":["*"]}]}`},
		{"iam wildcard account", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":["arn:aws:iam::*:user/${aws:username}","arn:aws:iam::123456789012:*"]}}`},
		{"s3 access points with region", Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":["arn:aws:s3:*:*:accesspoint/panorama*","arn:aws:s3:us-west-2:123456789012:accesspoint/ap/object/*","arn:aws:s3:*:*:access-grants/default/grant/*","arn:aws:s3:us-east-1:123456789012:job/*"]}}`},
		{"no version inline", Identity, `{"Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}}`},
		{"trust", Trust, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"},{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:root","111122223333"]},"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringEquals":{"sts:ExternalId":"x"}}}]}`},
		{"bucket policy", Resource, `{"Version":"2012-10-17","Statement":[{"Sid":"Public Read","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::123456789012:user/bob","arn:aws:iam::123456789012:root"]},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}]}`},
		{"scp without resource", SCP, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"ec2:*"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse([]byte(tc.doc), tc.kind); err != nil {
				t.Fatalf("Parse: %v", err)
			}
		})
	}
}

func TestParseStatements(t *testing.T) {
	t.Parallel()
	d, err := Parse([]byte(`{"Version":"2012-10-17","Id":"x","Statement":{"Sid":"A","Effect":"Deny","NotAction":["s3:Get*"],"NotResource":"arn:aws:s3:::b","Condition":{"StringLike":{"s3:prefix":["a/*","b"]},"Bool":{"aws:SecureTransport":false}}}}`), Identity)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != "x" || len(d.Statements) != 1 {
		t.Fatalf("doc = %+v", d)
	}
	s := d.Statements[0]
	if s.Sid != "A" || s.Effect != Deny || len(s.NotAction) != 1 || s.Action != nil || s.NotResource[0] != "arn:aws:s3:::b" {
		t.Errorf("statement = %+v", s)
	}
	if len(s.Conditions) != 2 || s.Conditions[0].Operator != "Bool" || s.Conditions[0].Values[0] != "false" || len(s.Conditions[1].Values) != 2 {
		t.Errorf("conditions = %+v", s.Conditions)
	}
}

func TestSize(t *testing.T) {
	t.Parallel()
	doc := []byte("{ \"a\" : \"b c\" }\n")
	if got := Size(doc); got != 11 {
		t.Errorf("Size = %d, want 11", got)
	}
	if err := CheckSize(doc, 11); err != nil {
		t.Errorf("CheckSize at limit: %v", err)
	}
	err := CheckSize(doc, 10)
	var se *SizeError
	if !errors.As(err, &se) || se.Size != 11 || se.Limit != 10 || !errors.Is(err, ErrTooLarge) {
		t.Errorf("CheckSize over limit = %v", err)
	}
}

func TestValidAccountID(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"123456789012": true, "000000000000": true,
		"": false, "12345678901": false, "1234567890123": false,
		"12345678901a": false, "-12345678901": false, " 23456789012": false, "１23456789012": false,
	} {
		if got := ValidAccountID(s); got != want {
			t.Errorf("ValidAccountID(%q) = %v, want %v", s, got, want)
		}
	}
}
