package saml

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// idp is a test identity provider with its own key pair.
type idp struct {
	key  *rsa.PrivateKey
	cert []byte
}

func newIdP(t testing.TB) *idp {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"},
		// Long expired, as IdP certificates often are: not enforced.
		NotBefore: time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &idp{key: key, cert: der}
}

func (p *idp) metadata() string {
	return `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com/saml">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data>
      <ds:X509Certificate>` + base64.StdEncoding.EncodeToString(p.cert) + `</ds:X509Certificate>
    </ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`
}

// response builds a SAML response; signWhat is "assertion", "response" or
// "none".
func (p *idp) response(t testing.TB, now time.Time, audience, signWhat string, attrs map[string][]string) string {
	t.Helper()
	ts := func(d time.Duration) string { return now.Add(d).UTC().Format(time.RFC3339) }
	var a strings.Builder
	a.WriteString(`<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0" IssueInstant="` + ts(0) + `">`)
	a.WriteString(`<saml:Issuer>https://idp.example.com/saml</saml:Issuer>`)
	a.WriteString(`<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">user-1</saml:NameID>`)
	a.WriteString(`<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="` + ts(5*time.Minute) + `" Recipient="https://signin.aws.amazon.com/saml"/></saml:SubjectConfirmation></saml:Subject>`)
	a.WriteString(`<saml:Conditions NotBefore="` + ts(-time.Minute) + `" NotOnOrAfter="` + ts(5*time.Minute) + `"><saml:AudienceRestriction><saml:Audience>` + audience + `</saml:Audience></saml:AudienceRestriction></saml:Conditions>`)
	a.WriteString(`<saml:AttributeStatement>`)
	for name, vals := range attrs {
		a.WriteString(`<saml:Attribute Name="` + name + `">`)
		for _, v := range vals {
			a.WriteString(`<saml:AttributeValue>` + v + `</saml:AttributeValue>`)
		}
		a.WriteString(`</saml:Attribute>`)
	}
	a.WriteString(`</saml:AttributeStatement></saml:Assertion>`)

	doc := etree.NewDocument()
	if err := doc.ReadFromString(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r1" Version="2.0" IssueInstant="` + ts(0) +
		`"><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` + a.String() + `</samlp:Response>`); err != nil {
		t.Fatal(err)
	}
	ctx, err := dsig.NewSigningContext(p.key, [][]byte{p.cert})
	if err != nil {
		t.Fatal(err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	root := doc.Root()
	switch signWhat {
	case "assertion":
		as := root.SelectElement("Assertion")
		signed, err := ctx.SignEnveloped(as)
		if err != nil {
			t.Fatal(err)
		}
		root.RemoveChild(as)
		root.AddChild(signed)
	case "response":
		signed, err := ctx.SignEnveloped(root)
		if err != nil {
			t.Fatal(err)
		}
		doc.SetRoot(signed)
	}
	s, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString([]byte(s))
}

const aws = "https://signin.aws.amazon.com/saml"

func TestVerify(t *testing.T) {
	t.Parallel()
	p := newIdP(t)
	md, err := ParseMetadata(p.metadata())
	if err != nil {
		t.Fatal(err)
	}
	if md.EntityID != "https://idp.example.com/saml" || len(md.Certificates) != 1 {
		t.Fatalf("metadata = %+v", md)
	}
	other := newIdP(t)
	now := time.Now()
	attrs := map[string][]string{"https://aws.amazon.com/SAML/Attributes/RoleSessionName": {"alice"}}
	opts := Options{Audiences: []string{aws}, Now: now, Skew: time.Minute}
	tampered := func(b64 string) string {
		raw, _ := base64.StdEncoding.DecodeString(b64)
		return base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(raw), "user-1", "admin", 1)))
	}
	wrapped := func(b64 string) string {
		// Signature wrapping: an unsigned assertion added beside the signed one.
		raw, _ := base64.StdEncoding.DecodeString(b64)
		s := strings.Replace(string(raw), "</samlp:Response>",
			`<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_evil"><saml:Subject><saml:NameID>admin</saml:NameID></saml:Subject></saml:Assertion></samlp:Response>`, 1)
		return base64.StdEncoding.EncodeToString([]byte(s))
	}
	tests := []struct {
		name string
		resp string
		opts Options
		want error
	}{
		{"signed assertion", p.response(t, now, aws, "assertion", attrs), opts, nil},
		{"signed response", p.response(t, now, aws, "response", attrs), opts, nil},
		{"unsigned", p.response(t, now, aws, "none", attrs), opts, ErrSignature},
		{"other key", other.response(t, now, aws, "assertion", attrs), opts, ErrSignature},
		{"tampered", tampered(p.response(t, now, aws, "assertion", attrs)), opts, ErrSignature},
		{"wrapped", wrapped(p.response(t, now, aws, "assertion", attrs)), opts, ErrMalformed},
		{"wrong audience", p.response(t, now, "https://elsewhere", "assertion", attrs), opts, ErrAudience},
		{"expired", p.response(t, now.Add(-time.Hour), aws, "assertion", attrs), opts, ErrExpired},
		{"not yet valid", p.response(t, now.Add(time.Hour), aws, "assertion", attrs), opts, ErrNotYetValid},
		{"not base64", "%%%", opts, ErrMalformed},
		{"not XML", base64.StdEncoding.EncodeToString([]byte("<a")), opts, ErrMalformed},
		{"not a response", base64.StdEncoding.EncodeToString([]byte("<a/>")), opts, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, err := Verify(tc.resp, md, tc.opts)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("Verify = %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Subject != "user-1" || a.Issuer != "https://idp.example.com/saml" || a.Recipient != aws ||
				a.Attributes["https://aws.amazon.com/SAML/Attributes/RoleSessionName"][0] != "alice" {
				t.Errorf("assertion = %+v", a)
			}
		})
	}
}

func TestParseMetadataErrors(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		"", "<x/>", "not xml",
		`<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>`,
		`<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"><md:IDPSSODescriptor/></md:EntityDescriptor>`,
	} {
		if _, err := ParseMetadata(doc); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseMetadata(%q) = %v", doc, err)
		}
	}
}

// FuzzVerify checks that no response makes Verify panic.
func FuzzVerify(f *testing.F) {
	p := newIdP(f)
	md, err := ParseMetadata(p.metadata())
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now()
	f.Add(p.response(f, now, aws, "assertion", nil))
	f.Add(p.response(f, now, aws, "response", nil))
	f.Add("PGEvPg==")
	f.Fuzz(func(t *testing.T, resp string) {
		_, _ = Verify(resp, md, Options{Audiences: []string{aws}, Now: now})
	})
}

// FuzzParseMetadata checks that no document makes ParseMetadata panic.
func FuzzParseMetadata(f *testing.F) {
	f.Add(newIdP(f).metadata())
	f.Add("<x/>")
	f.Fuzz(func(t *testing.T, doc string) {
		_, _ = ParseMetadata(doc)
	})
}
