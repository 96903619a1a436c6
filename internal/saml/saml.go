// Package saml reads SAML 2.0 identity provider metadata and verifies the
// signed SAML responses that STS's AssumeRoleWithSAML receives: XML
// signatures (through goxmldsig, so that only what the signature covers is
// read), issuer, audience and validity window, and the assertion's subject
// and attributes.
//
// It is not a service provider implementation: no AuthnRequests, no
// encrypted assertions, no artifact binding.
package saml

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// Namespaces.
const (
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsMetadata  = "urn:oasis:names:tc:SAML:2.0:metadata"
	nsDSig      = "http://www.w3.org/2000/09/xmldsig#"

	statusSuccess = "urn:oasis:names:tc:SAML:2.0:status:Success"
)

// MaxResponseLen bounds the base64 response Parse accepts (STS's limit for
// SAMLAssertion is 100,000 characters).
const MaxResponseLen = 100_000

// Errors; check them with errors.Is.
var (
	// ErrMalformed means the document is not the SAML the caller expects.
	ErrMalformed = errors.New("saml: malformed document")
	// ErrSignature means no valid signature by a trusted certificate
	// covers the assertion.
	ErrSignature = errors.New("saml: invalid signature")
	// ErrExpired means the assertion's validity window has passed.
	ErrExpired = errors.New("saml: assertion expired")
	// ErrNotYetValid means the assertion's validity window has not begun.
	ErrNotYetValid = errors.New("saml: assertion not yet valid")
	// ErrAudience means the assertion is not meant for the expected
	// audience.
	ErrAudience = errors.New("saml: audience mismatch")
	// ErrStatus means the response reports a failure.
	ErrStatus = errors.New("saml: response status is not success")
)

// Metadata is what iamd needs from an identity provider's metadata
// document.
type Metadata struct {
	EntityID string
	// Certificates are the signing certificates of the IdP.
	Certificates []*x509.Certificate
	// ValidUntil is the metadata's validUntil, zero if absent.
	ValidUntil time.Time
}

// ParseMetadata parses an EntityDescriptor (or the first one of an
// EntitiesDescriptor) with an IDPSSODescriptor holding at least one signing
// certificate.
func ParseMetadata(doc string) (*Metadata, error) {
	d := etree.NewDocument()
	d.ReadSettings.Permissive = false
	if err := d.ReadFromString(doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	root := d.Root()
	if root == nil {
		return nil, fmt.Errorf("%w: empty document", ErrMalformed)
	}
	ed := root
	if root.Tag == "EntitiesDescriptor" {
		ed = child(root, nsMetadata, "EntityDescriptor")
	}
	if ed == nil || ed.Tag != "EntityDescriptor" || ed.NamespaceURI() != nsMetadata {
		return nil, fmt.Errorf("%w: no EntityDescriptor", ErrMalformed)
	}
	md := &Metadata{EntityID: ed.SelectAttrValue("entityID", "")}
	if md.EntityID == "" {
		return nil, fmt.Errorf("%w: EntityDescriptor has no entityID", ErrMalformed)
	}
	if v := ed.SelectAttrValue("validUntil", ""); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return nil, fmt.Errorf("%w: validUntil %q", ErrMalformed, v)
		}
		md.ValidUntil = t.UTC()
	}
	idp := child(ed, nsMetadata, "IDPSSODescriptor")
	if idp == nil {
		return nil, fmt.Errorf("%w: no IDPSSODescriptor", ErrMalformed)
	}
	for _, kd := range children(idp, nsMetadata, "KeyDescriptor") {
		if use := kd.SelectAttrValue("use", ""); use != "" && use != "signing" {
			continue
		}
		for _, c := range kd.FindElements(".//X509Certificate") {
			if c.NamespaceURI() != nsDSig {
				continue
			}
			der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(c.Text()), ""))
			if err != nil {
				return nil, fmt.Errorf("%w: X509Certificate is not base64", ErrMalformed)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, fmt.Errorf("%w: X509Certificate: %v", ErrMalformed, err)
			}
			md.Certificates = append(md.Certificates, cert)
		}
	}
	if len(md.Certificates) == 0 {
		return nil, fmt.Errorf("%w: no signing certificate", ErrMalformed)
	}
	return md, nil
}

// Assertion is a verified assertion.
type Assertion struct {
	// ID is the assertion's ID attribute, which names it for replay checks.
	ID string
	// Issuer is the assertion's Issuer (the IdP's entity ID).
	Issuer string
	// Subject is the NameID and SubjectFormat its Format.
	Subject       string
	SubjectFormat string
	// Recipient is the SubjectConfirmationData's Recipient.
	Recipient string
	// Audiences are the AudienceRestriction's audiences.
	Audiences []string
	NotBefore time.Time
	// NotOnOrAfter is the earliest of the Conditions' and the subject
	// confirmation's NotOnOrAfter.
	NotOnOrAfter time.Time
	// Attributes maps attribute names to their values.
	Attributes map[string][]string
}

// Options say what Verify accepts.
type Options struct {
	// Audiences lists acceptable audiences; one of them must appear in the
	// assertion's AudienceRestriction (when it has one).
	Audiences []string
	// Now is the time to check the validity window against.
	Now time.Time
	// Skew is the clock skew tolerated on NotBefore.
	Skew time.Duration
}

// Verify decodes a base64 SAML Response, checks that it or its assertion
// is signed by one of md's certificates, and checks the assertion's
// validity window and audience. Only the signed elements are read.
func Verify(b64 string, md *Metadata, opts Options) (*Assertion, error) {
	if len(b64) > MaxResponseLen {
		return nil, fmt.Errorf("%w: response too long", ErrMalformed)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(b64), ""))
	if err != nil {
		return nil, fmt.Errorf("%w: not base64", ErrMalformed)
	}
	d := etree.NewDocument()
	if err := d.ReadFromBytes(raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	resp := d.Root()
	if resp == nil || resp.Tag != "Response" || resp.NamespaceURI() != nsProtocol {
		return nil, fmt.Errorf("%w: not a SAML Response", ErrMalformed)
	}
	if st := child(resp, nsProtocol, "Status"); st != nil {
		if sc := child(st, nsProtocol, "StatusCode"); sc == nil || sc.SelectAttrValue("Value", "") != statusSuccess {
			return nil, ErrStatus
		}
	}
	if len(children(resp, nsAssertion, "EncryptedAssertion")) > 0 {
		return nil, fmt.Errorf("%w: encrypted assertions are not supported", ErrMalformed)
	}

	var assertion *etree.Element
	if child(resp, nsDSig, "Signature") != nil {
		signed, err := validate(resp, md)
		if err != nil {
			return nil, err
		}
		as := children(signed, nsAssertion, "Assertion")
		if len(as) != 1 {
			return nil, fmt.Errorf("%w: want exactly one Assertion", ErrMalformed)
		}
		assertion = as[0]
		// A signed assertion inside a signed response must verify too.
		if child(assertion, nsDSig, "Signature") != nil {
			if assertion, err = validate(assertion, md); err != nil {
				return nil, err
			}
		}
	} else {
		as := children(resp, nsAssertion, "Assertion")
		if len(as) != 1 {
			return nil, fmt.Errorf("%w: want exactly one Assertion", ErrMalformed)
		}
		if child(as[0], nsDSig, "Signature") == nil {
			return nil, fmt.Errorf("%w: neither the response nor the assertion is signed", ErrSignature)
		}
		if assertion, err = validate(as[0], md); err != nil {
			return nil, err
		}
	}
	return readAssertion(assertion, opts)
}

// validate verifies el's enveloped signature against each certificate in
// turn and returns the element as signed. Certificate validity dates are
// not enforced (IdP signing certificates are routinely self-signed and long
// expired; the metadata is what the account trusts), as AWS does.
func validate(el *etree.Element, md *Metadata) (*etree.Element, error) {
	var last error
	for _, cert := range md.Certificates {
		ctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
		ctx.Clock = dsig.NewFakeClockAt(cert.NotBefore.Add(time.Second))
		signed, err := ctx.Validate(el)
		if err == nil {
			return signed, nil
		}
		last = err
	}
	return nil, fmt.Errorf("%w: %v", ErrSignature, last)
}

func readAssertion(a *etree.Element, opts Options) (*Assertion, error) {
	out := &Assertion{ID: a.SelectAttrValue("ID", ""), Attributes: map[string][]string{}}
	if iss := child(a, nsAssertion, "Issuer"); iss != nil {
		out.Issuer = strings.TrimSpace(iss.Text())
	}
	var notOnOrAfter []time.Time
	if sub := child(a, nsAssertion, "Subject"); sub != nil {
		if id := child(sub, nsAssertion, "NameID"); id != nil {
			out.Subject = strings.TrimSpace(id.Text())
			out.SubjectFormat = id.SelectAttrValue("Format", "")
		}
		for _, sc := range children(sub, nsAssertion, "SubjectConfirmation") {
			if scd := child(sc, nsAssertion, "SubjectConfirmationData"); scd != nil {
				if r := scd.SelectAttrValue("Recipient", ""); r != "" && out.Recipient == "" {
					out.Recipient = r
				}
				if v := scd.SelectAttrValue("NotOnOrAfter", ""); v != "" {
					t, err := parseTime(v)
					if err != nil {
						return nil, err
					}
					notOnOrAfter = append(notOnOrAfter, t)
				}
			}
		}
	}
	if c := child(a, nsAssertion, "Conditions"); c != nil {
		if v := c.SelectAttrValue("NotBefore", ""); v != "" {
			t, err := parseTime(v)
			if err != nil {
				return nil, err
			}
			out.NotBefore = t
		}
		if v := c.SelectAttrValue("NotOnOrAfter", ""); v != "" {
			t, err := parseTime(v)
			if err != nil {
				return nil, err
			}
			notOnOrAfter = append(notOnOrAfter, t)
		}
		for _, ar := range children(c, nsAssertion, "AudienceRestriction") {
			for _, au := range children(ar, nsAssertion, "Audience") {
				out.Audiences = append(out.Audiences, strings.TrimSpace(au.Text()))
			}
		}
	}
	for _, t := range notOnOrAfter {
		if out.NotOnOrAfter.IsZero() || t.Before(out.NotOnOrAfter) {
			out.NotOnOrAfter = t
		}
	}
	for _, as := range children(a, nsAssertion, "AttributeStatement") {
		for _, at := range children(as, nsAssertion, "Attribute") {
			name := at.SelectAttrValue("Name", "")
			for _, v := range children(at, nsAssertion, "AttributeValue") {
				out.Attributes[name] = append(out.Attributes[name], strings.TrimSpace(v.Text()))
			}
		}
	}

	if out.NotOnOrAfter.IsZero() {
		return nil, fmt.Errorf("%w: the assertion has no NotOnOrAfter", ErrMalformed)
	}
	if !opts.Now.Before(out.NotOnOrAfter) {
		return nil, ErrExpired
	}
	if !out.NotBefore.IsZero() && out.NotBefore.After(opts.Now.Add(opts.Skew)) {
		return nil, ErrNotYetValid
	}
	if len(out.Audiences) > 0 && len(opts.Audiences) > 0 {
		ok := false
		for _, want := range opts.Audiences {
			for _, got := range out.Audiences {
				if got == want {
					ok = true
				}
			}
		}
		if !ok {
			return nil, ErrAudience
		}
	}
	return out, nil
}

func parseTime(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: time %q", ErrMalformed, v)
	}
	return t.UTC(), nil
}

func child(el *etree.Element, ns, tag string) *etree.Element {
	for _, c := range el.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == ns {
			return c
		}
	}
	return nil
}

func children(el *etree.Element, ns, tag string) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == ns {
			out = append(out, c)
		}
	}
	return out
}
