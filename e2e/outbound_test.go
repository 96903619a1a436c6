package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/iamd/iamd/internal/oidc"
	"github.com/iamd/iamd/internal/server"
)

// TestOutboundWebIdentityFederation: once the account enables it, a
// principal gets JWTs from GetWebIdentityToken that an external service
// verifies with the keys iamd publishes at the issuer URL.
func TestOutboundWebIdentityFederation(t *testing.T) {
	const public = "https://iam.example.test"
	e := startWith(t, func(c *server.Config) { c.PublicURL = public })
	ctx := context.Background()
	root := e.rootIAM()
	ana := userWithKey(t, root, "ana", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:GetWebIdentityToken","Resource":"*","Condition":{"ForAllValues:StringLike":{"sts:IdentityTokenAudience":"https://*.example.com"}}}]}`)
	bare := userWithKey(t, root, "bare", "")
	audience := []string{"https://api.example.com"}

	_, err := root.GetOutboundWebIdentityFederationInfo(ctx, &iam.GetOutboundWebIdentityFederationInfoInput{})
	wantCode(t, err, "FeatureDisabled")
	_, err = e.sts(ana).GetWebIdentityToken(ctx, &sts.GetWebIdentityTokenInput{Audience: audience, SigningAlgorithm: aws.String("RS256")})
	wantCode(t, err, "OutboundWebIdentityFederationDisabledException")

	enabled, err := root.EnableOutboundWebIdentityFederation(ctx, &iam.EnableOutboundWebIdentityFederationInput{})
	must(t, err)
	issuer := aws.ToString(enabled.IssuerIdentifier)
	if !strings.HasPrefix(issuer, public+"/oidc/"+testAccount+"/") {
		t.Fatalf("IssuerIdentifier = %s", issuer)
	}
	_, err = root.EnableOutboundWebIdentityFederation(ctx, &iam.EnableOutboundWebIdentityFederationInput{})
	wantCode(t, err, "FeatureEnabled")
	info, err := root.GetOutboundWebIdentityFederationInfo(ctx, &iam.GetOutboundWebIdentityFederationInfoInput{})
	must(t, err)
	if aws.ToString(info.IssuerIdentifier) != issuer || !info.JwtVendingEnabled {
		t.Errorf("info = %s %v", aws.ToString(info.IssuerIdentifier), info.JwtVendingEnabled)
	}

	// What an external service fetches, at the issuer's path on iamd.
	fetch := func(doc string) (int, []byte) {
		resp, err := http.Get(e.url + strings.TrimPrefix(issuer, public) + "/.well-known/" + doc)
		must(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		must(t, err)
		return resp.StatusCode, body
	}
	status, discovery := fetch("openid-configuration")
	if status != 200 || !strings.Contains(string(discovery), `"issuer":"`+issuer+`"`) || !strings.Contains(string(discovery), `"jwks_uri":"`+issuer+`/.well-known/jwks.json"`) {
		t.Fatalf("discovery: %d %s", status, discovery)
	}
	status, jwks := fetch("jwks.json")
	if status != 200 {
		t.Fatalf("jwks: %d %s", status, jwks)
	}
	keys, err := oidc.ParseKeySet(jwks)
	must(t, err)

	for _, alg := range []string{"RS256", "ES384"} {
		out, err := e.sts(ana).GetWebIdentityToken(ctx, &sts.GetWebIdentityTokenInput{Audience: audience, SigningAlgorithm: aws.String(alg),
			DurationSeconds: aws.Int32(600)})
		must(t, err)
		tok, err := oidc.Parse(aws.ToString(out.WebIdentityToken))
		must(t, err)
		if err := tok.Verify(keys); err != nil {
			t.Fatalf("%s token does not verify with the published keys: %v", alg, err)
		}
		cl := tok.Claims
		if cl.Issuer != issuer || cl.Subject != "arn:aws:iam::"+testAccount+":user/ana" || len(cl.Audience) != 1 || cl.Audience[0] != audience[0] ||
			cl.Expiry.Sub(cl.IssuedAt) != 600*time.Second || !cl.Expiry.Equal(aws.ToTime(out.Expiration)) {
			t.Errorf("%s claims: %+v (expiration %v)", alg, cl, out.Expiration)
		}
	}
	// The policy's audience condition, and a caller without permission.
	_, err = e.sts(ana).GetWebIdentityToken(ctx, &sts.GetWebIdentityTokenInput{Audience: []string{"https://evil.example.net"}, SigningAlgorithm: aws.String("RS256")})
	wantCode(t, err, "AccessDenied")
	_, err = e.sts(bare).GetWebIdentityToken(ctx, &sts.GetWebIdentityTokenInput{Audience: audience, SigningAlgorithm: aws.String("RS256")})
	wantCode(t, err, "AccessDenied")

	// Disabled: no tokens, and the issuer is gone.
	_, err = root.DisableOutboundWebIdentityFederation(ctx, &iam.DisableOutboundWebIdentityFederationInput{})
	must(t, err)
	_, err = root.DisableOutboundWebIdentityFederation(ctx, &iam.DisableOutboundWebIdentityFederationInput{})
	wantCode(t, err, "FeatureDisabled")
	_, err = e.sts(ana).GetWebIdentityToken(ctx, &sts.GetWebIdentityTokenInput{Audience: audience, SigningAlgorithm: aws.String("RS256")})
	wantCode(t, err, "OutboundWebIdentityFederationDisabledException")
	if status, _ := fetch("jwks.json"); status != 404 {
		t.Errorf("jwks of a disabled issuer: %d", status)
	}
	// Enabled again, the issuer is the same.
	again, err := root.EnableOutboundWebIdentityFederation(ctx, &iam.EnableOutboundWebIdentityFederationInput{})
	must(t, err)
	if aws.ToString(again.IssuerIdentifier) != issuer {
		t.Errorf("issuer changed: %s, was %s", aws.ToString(again.IssuerIdentifier), issuer)
	}
}
