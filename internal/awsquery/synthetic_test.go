package awsquery_test

import (
	"context"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/awsquery"
)

// A made-up service with the shapes IAM and STS inputs lack: maps, blobs,
// timestamps, longs, doubles and a recursive structure.
const syntheticModel = `{
  "metadata": {"apiVersion": "2020-01-01", "protocol": "query", "serviceId": "Synth", "xmlNamespace": "https://synth.example/doc/2020-01-01/"},
  "operations": {
    "Put": {"name": "Put", "input": {"shape": "PutRequest"}, "output": {"shape": "PutResponse", "resultWrapper": "PutResult"}}
  },
  "shapes": {
    "PutRequest": {"type": "structure", "required": ["Labels"], "members": {
      "Labels": {"shape": "LabelMap"}, "Data": {"shape": "Bytes"}, "At": {"shape": "Time"},
      "Size": {"shape": "Long"}, "Ratio": {"shape": "Double"}, "Node": {"shape": "Node"}}},
    "PutResponse": {"type": "structure", "members": {
      "Labels": {"shape": "LabelMap"}, "Data": {"shape": "Bytes"}, "At": {"shape": "Time"}, "Node": {"shape": "Node"}}},
    "LabelMap": {"type": "map", "key": {"shape": "Key"}, "value": {"shape": "Value"}, "max": 2},
    "Key": {"type": "string", "min": 1, "pattern": "[a-z]+"},
    "Value": {"type": "string", "max": 3},
    "Bytes": {"type": "blob"},
    "Time": {"type": "timestamp"},
    "Long": {"type": "long", "max": 10000000000},
    "Double": {"type": "double", "min": 0},
    "Node": {"type": "structure", "members": {"Name": {"shape": "Key"}, "Child": {"shape": "Node"}}}
  }
}`

type synthNode struct {
	Name  string
	Child *synthNode
}

type synthPutRequest struct {
	Labels map[string]string
	Data   []byte
	At     time.Time
	Size   *int64
	Ratio  *float64
	Node   *synthNode
}

type synthPutResponse struct {
	Labels map[string]string
	Data   []byte
	At     time.Time
	Node   *synthNode
}

func newSynthetic(t *testing.T) *awsquery.Dispatcher {
	t.Helper()
	m, err := awsquery.ParseModel(strings.NewReader(syntheticModel))
	if err != nil {
		t.Fatal(err)
	}
	d, err := awsquery.NewDispatcher(m, []awsquery.Binding{{
		Name: "Put", Input: reflect.TypeFor[synthPutRequest](), Output: reflect.TypeFor[synthPutResponse](),
		Call: func(_ context.Context, in any) (any, error) {
			r := in.(*synthPutRequest)
			return &synthPutResponse{Labels: r.Labels, Data: r.Data, At: r.At, Node: r.Node}, nil
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSyntheticDecode(t *testing.T) {
	t.Parallel()
	d := newSynthetic(t)
	tests := []struct {
		name    string
		form    string
		want    *synthPutRequest
		wantErr string
	}{
		{
			name: "map blob time long double recursion",
			form: "Labels.entry.1.key=a&Labels.entry.1.value=x&Labels.entry.2.key=b&Labels.entry.2.value=" +
				"&Data=aGk%3D&At=2024-05-06T07%3A08%3A09Z&Size=9999999999&Ratio=0.5&Node.Name=p&Node.Child.Name=c&Node.Child.Child.Name=g",
			want: &synthPutRequest{
				Labels: map[string]string{"a": "x", "b": ""}, Data: []byte("hi"), At: created.Truncate(time.Second),
				Size: ptr[int64](9999999999), Ratio: ptr(0.5),
				Node: &synthNode{Name: "p", Child: &synthNode{Name: "c", Child: &synthNode{Name: "g"}}},
			},
		},
		{name: "empty map", form: "Labels=", want: &synthPutRequest{Labels: map[string]string{}}},
		{name: "epoch seconds", form: "Labels=&At=1715000000", want: &synthPutRequest{Labels: map[string]string{}, At: time.Unix(1715000000, 0).UTC()}},
		{
			name:    "map constraints",
			form:    "Labels.entry.1.key=A&Labels.entry.1.value=long",
			wantErr: `2 validation errors detected: Value 'A' at 'labels.1.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-z]+; Value 'long' at 'labels.1.value' failed to satisfy constraint: Member must have length less than or equal to 3`,
		},
		{
			name:    "map too large",
			form:    "Labels.entry.1.key=a&Labels.entry.2.key=b&Labels.entry.3.key=c",
			wantErr: `1 validation error detected: Value '{...}' at 'labels' failed to satisfy constraint: Member must have length less than or equal to 2`,
		},
		{
			name:    "bad scalars",
			form:    "Labels=&Data=%21%21&At=yesterday&Size=99999999999&Ratio=-1",
			wantErr: `4 validation errors detected: Value '!!' at 'data' failed to satisfy constraint: Member must be base64-encoded binary data; Value 'yesterday' at 'at' failed to satisfy constraint: Member must be a timestamp; Value '99999999999' at 'size' failed to satisfy constraint: Member must have value less than or equal to 10000000000; Value '-1' at 'ratio' failed to satisfy constraint: Member must have value greater than or equal to 0`,
		},
		{
			name:    "nested path",
			form:    "Labels=&Node.Child.Name=X",
			wantErr: `1 validation error detected: Value 'X' at 'node.child.name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-z]+`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			form, err := url.ParseQuery(tc.form)
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.Decode("Put", form)
			if tc.wantErr != "" {
				var e *awsquery.Error
				if !errors.As(err, &e) || e.Message != tc.wantErr {
					t.Fatalf("error\n got: %v\nwant: %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestSyntheticEncodeGolden(t *testing.T) {
	t.Parallel()
	d := newSynthetic(t)
	out := &synthPutResponse{
		Labels: map[string]string{"b": "2", "a": "1&"}, Data: []byte("hi"), At: created,
		Node: &synthNode{Name: "p", Child: &synthNode{Name: "c"}},
	}
	got, err := d.AppendResponse(nil, "Put", out, "r")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "synthetic_put.xml", got)
}

func TestNewDispatcherRejectsMismatchedTypes(t *testing.T) {
	t.Parallel()
	m, err := awsquery.ParseModel(strings.NewReader(syntheticModel))
	if err != nil {
		t.Fatal(err)
	}
	type wrong struct{ Labels []string }
	tests := []struct {
		name string
		b    awsquery.Binding
	}{
		{"unknown operation", awsquery.Binding{Name: "Nope", Input: reflect.TypeFor[synthPutRequest](), Output: reflect.TypeFor[synthPutResponse](), Call: func(context.Context, any) (any, error) { return nil, nil }}},
		{"wrong field type", awsquery.Binding{Name: "Put", Input: reflect.TypeFor[wrong](), Output: reflect.TypeFor[synthPutResponse](), Call: func(context.Context, any) (any, error) { return nil, nil }}},
		{"no call", awsquery.Binding{Name: "Put", Input: reflect.TypeFor[synthPutRequest](), Output: reflect.TypeFor[synthPutResponse]()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := awsquery.NewDispatcher(m, []awsquery.Binding{tc.b}); err == nil {
				t.Error("NewDispatcher accepted a bad binding")
			}
		})
	}
}
