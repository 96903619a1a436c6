// Package sigv4 authenticates HTTP requests signed with AWS Signature
// Version 4 (AWS4-HMAC-SHA256), in both forms: the Authorization header and
// presigned query strings.
//
// It verifies requests exactly as AWS does, so that the AWS CLI, boto3 and
// aws-sdk-go-v2 work against iamd unchanged. Verification works on an
// abstract [Request] rather than only on *http.Request, because iamd also
// verifies requests that another service (for example an S3-compatible
// store) received and forwarded, without ever revealing the secret key.
//
// The package answers "who signed this request, for which region and
// service, at what time". It does not decide whether that principal may do
// what it asks: that is the policy engine's job. It does not store keys
// either: callers supply a [CredentialSource].
//
// A [Signer] is included for tests and load tools; production clients use
// the AWS SDKs.
package sigv4
