package authzapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// decodeStd decodes with encoding/json, the reference for valid input.
func decodeStd(body []byte) (rawRequest, error) {
	var r rawRequest
	err := json.Unmarshal(body, &r)
	return r, err
}

func decodeOurs(body []byte) (rawRequest, error) {
	var r rawRequest
	d := decoder{b: body}
	err := d.decodeRaw(&r)
	return r, err
}

// normalize makes empty maps nil so that both decoders compare equal.
func normalize(r rawRequest) rawRequest {
	if len(r.Request.Headers) == 0 {
		r.Request.Headers = nil
	}
	if len(r.Context) == 0 {
		r.Context = nil
	}
	return r
}

func TestDecoderMatchesEncodingJSON(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"full", `{"request":{"method":"GET","path":"/b/k%20x","query":"a=1&b=2","host":"s3.example:9000",
			"headers":{"Authorization":["AWS4-HMAC-SHA256 Credential=AKIA/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=ab"],"X-Amz-Date":["20240101T000000Z"],"X-Multi":["a","b"]},
			"payloadHash":"UNSIGNED-PAYLOAD"},"action":"s3:GetObject","resource":"arn:aws:s3:::b/k x",
			"resourcePolicy":"{\"Version\":\"2012-10-17\"}","resourceAccount":"123456789012",
			"context":{"s3:prefix":["a/"],"s3:max-keys":["10"]},"sourceIp":"203.0.113.7","secureTransport":true,"explain":false}`},
		{"body", `{"request":{"method":"POST","body":"eyJhIjoxfQ=="},"action":"x:Y","resource":"*"}`},
		{"escapes", `{"action":"s3:\u0047etObject","resource":"arn:aws:s3:::b\/k\n\t\"\\ \u00e9 \ud83d\ude00","request":{"method":"GET"}}`},
		{"lone surrogate", `{"action":"\ud800x","resource":"*","request":{"method":"GET"}}`},
		{"unknown members", `{"x":{"y":[1,2.5e3,-3,{"z":null}],"w":true},"action":"a:B","n":null,"f":false,"resource":"*","request":{"method":"GET","extra":[[]]}}`},
		{"nulls", `{"request":{"method":"GET","headers":null,"body":null},"context":null,"explain":null,"action":"a:b","resource":null}`},
		{"empty", `{}`},
		{"layers", `{"request":{"method":"GET"},"action":"s3:GetObject","resource":"*","resourceControlPolicies":["{\"Version\":\"2012-10-17\"}","{}"],
			"endpointPolicy":"{\"Statement\":[]}","principalService":"logging.s3.amazonaws.com"}`},
		{"no rcps", `{"resourceControlPolicies":[],"endpointPolicy":null}`},
		{"whitespace", " \n{ \"action\" : \"a:b\" ,\t\"secureTransport\" : false } \n"},
		{"empty arrays", `{"request":{"method":"GET","headers":{"X":[]}},"context":{"k":[]}}`},
		{"invalid UTF-8", "{\"action\":\"a\xffb\",\"resource\":\"*\"}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, err := decodeStd([]byte(tc.body))
			if err != nil {
				t.Fatalf("encoding/json: %v", err)
			}
			got, err := decodeOurs([]byte(tc.body))
			if err != nil {
				t.Fatalf("decoder: %v", err)
			}
			if !reflect.DeepEqual(normalize(got), normalize(want)) {
				t.Errorf("decoded\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestDecoderRejects(t *testing.T) {
	for _, body := range []string{
		``, `[]`, `{`, `{"action":}`, `{"action":"a"`, `{"action":"a",}`, `{"action" "a"}`, `{"action":"a"} x`,
		`{"action":1}`, `{"secureTransport":"yes"}`, `{"request":{"headers":{"A":[1]}}}`, `{"request":{"body":"!!"}}`,
		`{"x":tru}`, `{"x":01x}`, `{"action":"a` + "\x01" + `"}`, `{"action":"\x"}`, `{"action":"\u12"}`,
		`{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
	} {
		if _, err := decodeOurs([]byte(body)); err == nil {
			t.Errorf("decoder accepted %q", body)
		}
	}
}

func FuzzDecoder(f *testing.F) {
	f.Add([]byte(`{"request":{"method":"GET","headers":{"A":["b"]}},"action":"s3:GetObject","resource":"*","context":{"k":"v"},"explain":true}`))
	f.Add([]byte(`{"action":"\ud83d\ude00\u00e9","x":[1,{"y":null}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := decodeOurs(body)
		if err != nil {
			return
		}
		// Whatever the decoder accepts re-encodes and decodes to the same.
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeOurs(b)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", b, err)
		}
		if !reflect.DeepEqual(normalize(got), normalize(again)) {
			t.Fatalf("round trip changed %+v into %+v", got, again)
		}
	})
}

func TestAppendStringIsJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\" backslash\\", "ctl\x00\x1f\n\r\t", "<a&b>", "é😀", "bad\xffutf8", "\u2028\u2029"} {
		b := appendString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Errorf("%q encodes to invalid JSON %s: %v", s, b, err)
			continue
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if back != want {
			t.Errorf("%q round-trips to %q", s, back)
		}
	}
}

// TestLayersValidated checks the members that add layers or a service
// principal to a call.
func TestLayersValidated(t *testing.T) {
	req := `"request":{"method":"GET","host":"h"},`
	base := `"action":"s3:GetObject","resource":"arn:aws:s3:::b/k","resourceAccount":"123456789012"`
	tests := []struct {
		name, body, code string
	}{
		{"none", req + base, ""},
		{"empty rcp list", req + base + `,"resourceControlPolicies":[]`, ""},
		{"rcps", req + base + `,"resourceControlPolicies":["{}","{}"]`, ""},
		{"blank rcp", req + base + `,"resourceControlPolicies":[" "]`, "InvalidParameterValue"},
		{"seven levels", req + base + `,"resourceControlPolicies":["{}","{}","{}","{}","{}","{}","{}"]`, ""},
		{"eight levels", req + base + `,"resourceControlPolicies":["{}","{}","{}","{}","{}","{}","{}","{}"]`, "InvalidParameterValue"},
		{"endpoint policy", req + base + `,"endpointPolicy":"{}"`, ""},
		{"blank endpoint policy", req + base + `,"endpointPolicy":" "`, "InvalidParameterValue"},
		{"principal service", base + `,"principalService":"logging.s3.amazonaws.com"`, ""},
		{"principal service with a request", req + base + `,"principalService":"logging.s3.amazonaws.com"`, "InvalidParameterValue"},
		{"principal service with headers", `"request":{"headers":{"Authorization":["x"]}},` + base + `,"principalService":"logging.s3.amazonaws.com"`, "InvalidParameterValue"},
		{"principal service not a name", base + `,"principalService":"Logging S3"`, "InvalidParameterValue"},
		{"principal service one label", base + `,"principalService":"logging"`, "InvalidParameterValue"},
		{"no request", base, "InvalidParameterValue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var in wireRequest
			var slab []string
			if err := in.decode([]byte("{"+tc.body+"}"), &slab); err != nil {
				t.Fatal(err)
			}
			code := ""
			if e := in.validate(); e != nil {
				code = e.code
			}
			if code != tc.code {
				t.Errorf("validate: code %q, want %q", code, tc.code)
			}
		})
	}
}
