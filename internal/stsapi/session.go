package stsapi

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/ststoken"
	"github.com/iamd/iamd/policy"
)

// Session policies and session tags: validation and the packed size AWS
// reports as PackedPolicySize.

// packedBudget is the size, in DEFLATE-compressed bytes, of the space the
// packed session policies and tags may use. STS packs them into a binary
// form of its own with a separate limit; this estimate tracks what AWS
// reports for typical documents (a compact 740-character policy uses about
// 80%), so policies that fit AWS fit here.
const packedBudget = 420

// sessionPolicies validates the inline session policy and managed session
// policy ARNs of an AssumeRole*/GetFederationToken request. The returned
// document is compact JSON as stored in the token.
func (s *Service) sessionPolicies(doc string, arns []PolicyDescriptorType) (string, []string, error) {
	if doc != "" {
		if _, err := policy.ParseWithOptions([]byte(doc), policy.Session, policy.ParseOptions{Partition: s.partition.String()}); err != nil {
			var ve *policy.ValidationError
			if errors.As(err, &ve) {
				return "", nil, MalformedPolicyDocumentError(ve.Message)
			}
			return "", nil, MalformedPolicyDocumentError("Syntax errors in policy.")
		}
	}
	var out []string
	for _, d := range arns {
		if _, ok := s.partition.ParsePolicyARN(d.Arn); !ok {
			return "", nil, validationError("Invalid policy ARN: %s", d.Arn)
		}
		out = append(out, d.Arn)
	}
	return doc, out, nil
}

// sessionTags validates session tags and the transitive keys among them,
// merging in the transitive tags inherited from a calling role session.
func sessionTags(tags []Tag, transitive []string, inherited *authz.Session) ([]ststoken.Tag, []string, error) {
	seen := make(map[string]bool, len(tags))
	var out []ststoken.Tag
	for _, t := range tags {
		k := strings.ToLower(t.Key)
		if seen[k] {
			return nil, nil, invalidParameterValue("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		}
		seen[k] = true
		if strings.HasPrefix(k, "aws:") {
			return nil, nil, invalidParameterValue("Tag keys can't start with 'aws:'. This prefix is reserved for AWS use.")
		}
		out = append(out, ststoken.Tag{Key: t.Key, Value: t.Value})
	}
	var keys []string
	for _, k := range transitive {
		if !seen[strings.ToLower(k)] {
			return nil, nil, invalidParameterValue("The TransitiveTagKeys parameter must only contain keys of session tags passed in the request: %s", k)
		}
		keys = append(keys, k)
	}
	if inherited != nil {
		for _, k := range inherited.TransitiveKeys {
			v, ok := inherited.Tags[k]
			if !ok {
				continue
			}
			if seen[strings.ToLower(k)] {
				return nil, nil, invalidParameterValue("One or more tag keys in the request conflict with the transitive session tag keys of the current session: %s", k)
			}
			seen[strings.ToLower(k)] = true
			out = append(out, ststoken.Tag{Key: k, Value: v})
			keys = append(keys, k)
		}
	}
	if len(out) > 50 {
		return nil, nil, invalidParameterValue("The number of session tags, including transitive tags, can't exceed 50.")
	}
	return out, keys, nil
}

// packedSize returns the packed size of session policies and tags as a
// percentage of the allotted space.
func packedSize(doc string, arns []string, tags []ststoken.Tag) int {
	var raw bytes.Buffer
	if doc != "" {
		// White space outside strings does not count, as for IAM's sizes;
		// the document was validated, so it compacts.
		if json.Compact(&raw, []byte(doc)) != nil {
			raw.WriteString(doc)
		}
	}
	for _, a := range arns {
		raw.WriteString(a)
		raw.WriteByte(0)
	}
	for _, t := range tags {
		raw.WriteString(t.Key)
		raw.WriteByte('=')
		raw.WriteString(t.Value)
		raw.WriteByte(0)
	}
	if raw.Len() == 0 {
		return 0
	}
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.BestCompression) // valid level: no error
	w.Write(raw.Bytes())
	w.Close()
	return (z.Len()*100 + packedBudget - 1) / packedBudget
}

// checkPacked answers PackedPolicyTooLarge above 100% and returns the
// PackedPolicySize to report (nil when nothing was passed).
func checkPacked(doc string, arns []string, tags []ststoken.Tag) (*int32, error) {
	if doc == "" && len(arns) == 0 && len(tags) == 0 {
		return nil, nil
	}
	pct := packedSize(doc, arns, tags)
	if pct > 100 {
		return nil, PackedPolicyTooLargeError("Packed policy consumes " + strconv.Itoa(pct) + "% of allotted space, please use smaller policy.")
	}
	n := int32(pct)
	return &n, nil
}

// tagContext gives the authorization request the session tags
// (aws:RequestTag/KEY, aws:TagKeys, sts:TransitiveTagKeys).
func tagContext(tags []Tag, transitive []string) []authz.KV {
	if len(tags) == 0 && len(transitive) == 0 {
		return nil
	}
	kvs := make([]authz.KV, 0, len(tags)+2)
	keys := make([]string, 0, len(tags))
	for _, t := range tags {
		kvs = append(kvs, authz.KV{Key: "aws:RequestTag/" + t.Key, Values: []string{t.Value}})
		keys = append(keys, t.Key)
	}
	if len(keys) > 0 {
		kvs = append(kvs, authz.KV{Key: "aws:TagKeys", Values: keys})
	}
	if len(transitive) > 0 {
		kvs = append(kvs, authz.KV{Key: "sts:TransitiveTagKeys", Values: transitive})
	}
	return kvs
}

// inertSessionPolicy is stored as the session policy of a federation token
// requested without one: AWS gives such a session no permissions. It
// matches nothing, so it neither allows nor denies anything.
const inertSessionPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":"*","Resource":"*"}]}`
