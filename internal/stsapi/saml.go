package stsapi

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/saml"
	"github.com/iamd/iamd/policy"
)

// SAML attributes AWS reads from assertions.
const (
	samlAttrPrefix         = "https://aws.amazon.com/SAML/Attributes/"
	samlRoleAttr           = samlAttrPrefix + "Role"
	samlSessionNameAttr    = samlAttrPrefix + "RoleSessionName"
	samlSessionDurAttr     = samlAttrPrefix + "SessionDuration"
	samlPrincipalTagPrefix = samlAttrPrefix + "PrincipalTag:"
	samlTransitiveAttr     = samlAttrPrefix + "TransitiveTagKeys"
	samlSourceIdentityAttr = samlAttrPrefix + "SourceIdentity"

	samlNameIDPrefix = "urn:oasis:names:tc:SAML:2.0:nameid-format:"
)

// samlAudiences are the audiences AWS accepts: its sign-in endpoint.
var samlAudiences = []string{"https://signin.aws.amazon.com/saml", "urn:amazon:webservices"}

// samlMetadataCache holds parsed provider metadata by the hash of its text.
type samlMetadataCache struct{ m sync.Map }

func (c *samlMetadataCache) get(doc string) (*saml.Metadata, error) {
	k := sha256.Sum256([]byte(doc))
	if v, ok := c.m.Load(k); ok {
		return v.(*saml.Metadata), nil
	}
	md, err := saml.ParseMetadata(doc)
	if err != nil {
		return nil, err
	}
	c.m.Store(k, md)
	return md, nil
}

func samlInvalid(msg string) error { return InvalidIdentityTokenError(msg) }

// parseSAMLProviderARN splits arn:PARTITION:iam::ACCOUNT:saml-provider/NAME.
func parseSAMLProviderARN(p iam.Partition, arn string) (account, name string, ok bool) {
	rest, ok := p.CutIAM(arn)
	if !ok {
		return "", "", false
	}
	account, res, ok := strings.Cut(rest, ":")
	if !ok {
		return "", "", false
	}
	name, ok = strings.CutPrefix(res, "saml-provider/")
	return account, name, ok && name != ""
}

// AssumeRoleWithSAML exchanges a SAML response signed by a provider
// registered in the role's account for the role's temporary credentials.
// It needs no AWS signature: the assertion is the proof.
func (s *Service) AssumeRoleWithSAML(ctx context.Context, in *AssumeRoleWithSAMLRequest) (*AssumeRoleWithSAMLResponse, error) {
	now := s.now()
	denied := accessDenied("Not authorized to perform sts:AssumeRoleWithSAML")
	provAccount, provName, ok := parseSAMLProviderARN(s.partition, in.PrincipalArn)
	if !ok {
		return nil, validationError("Invalid principal ARN: %s", in.PrincipalArn)
	}
	ref, ok := parseRoleARN(s.partition, in.RoleArn)
	if !ok {
		return nil, denied
	}
	var role *iam.Entry[iam.Role]
	if ref.account == provAccount {
		s.view.Read(provAccount, func(a *iam.AccountView) {
			if r, found := a.Role(ref.name); found && r.V.Path == ref.path && r.V.Name == ref.name {
				role = r
			}
		})
	}
	a, err := s.verifySAML(provAccount, provName, in.SAMLAssertion, now)
	if err != nil {
		return nil, err
	}

	// The Role attribute must pair this role with this provider.
	paired := false
	for _, v := range a.Attributes[samlRoleAttr] {
		x, y, ok := strings.Cut(v, ",")
		x, y = strings.TrimSpace(x), strings.TrimSpace(y)
		if ok && (x == in.RoleArn && y == in.PrincipalArn || y == in.RoleArn && x == in.PrincipalArn) {
			paired = true
			break
		}
	}
	if !paired || role == nil {
		return nil, denied
	}
	sessionName := first(a.Attributes[samlSessionNameAttr])
	if len(sessionName) < 2 || len(sessionName) > 64 || !validSessionName(sessionName) {
		return nil, samlInvalid("RoleSessionName in the SAML assertion must be 2 to 64 characters of [\\w+=,.@-].")
	}
	r := role.V
	roleARN := s.partition.ARN(ref.account, "role", r.Path, r.Name)
	doc, arns, err := s.sessionPolicies(in.Policy, in.PolicyArns)
	if err != nil {
		return nil, err
	}
	var wireTags []Tag
	for name, vals := range a.Attributes {
		if k, ok := strings.CutPrefix(name, samlPrincipalTagPrefix); ok && len(vals) > 0 {
			wireTags = append(wireTags, Tag{Key: k, Value: vals[0]})
		}
	}
	slices.SortFunc(wireTags, func(x, y Tag) int { return strings.Compare(x.Key, y.Key) })
	tags, transitive, err := sessionTags(wireTags, a.Attributes[samlTransitiveAttr], nil)
	if err != nil {
		return nil, err
	}
	sourceIdentity := first(a.Attributes[samlSourceIdentityAttr])

	subjectType := strings.TrimPrefix(a.SubjectFormat, samlNameIDPrefix)
	if a.SubjectFormat == "" {
		subjectType = "unspecified"
	}
	nq := sha1.Sum([]byte(a.Issuer + provAccount + "/" + provName))
	nameQualifier := base64.StdEncoding.EncodeToString(nq[:])
	audience := a.Recipient
	if audience == "" {
		audience = samlAudiences[0]
	}
	kvs := []authz.KV{
		{Key: "saml:sub", Values: []string{a.Subject}},
		{Key: "saml:sub_type", Values: []string{subjectType}},
		{Key: "saml:iss", Values: []string{a.Issuer}},
		{Key: "saml:aud", Values: []string{audience}},
		{Key: "saml:namequalifier", Values: []string{nameQualifier}},
		{Key: "sts:RoleSessionName", Values: []string{sessionName}},
	}
	if sourceIdentity != "" {
		kvs = append(kvs, authz.KV{Key: "sts:SourceIdentity", Values: []string{sourceIdentity}})
	}
	kvs = append(kvs, tagContext(wireTags, transitive)...)
	kvs = roleContext(r, kvs)
	fr := &authz.FederatedTrustRequest{
		Principal: policy.Principal{Type: policy.PrincipalWebIdentity, Federated: in.PrincipalArn},
		RoleARN:   roleARN, RoleAccount: ref.account,
		TrustPolicy: r.TrustPolicy, Context: kvs, Time: now, SecureTransport: true,
	}
	// Without DurationSeconds, the assertion's SessionDuration attribute
	// applies, within the role's maximum.
	defaultDuration := defaultRoleSession
	if v := first(a.Attributes[samlSessionDurAttr]); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 900 && n <= 43200 {
			defaultDuration = n
		}
	}
	// An assertion is used once: a second use within its validity (a
	// replayed sign-in) is refused. A refused assumption does not use it.
	replayKey := a.Issuer + "\x00" + a.ID
	if a.ID == "" || !s.samlSeen.claim(replayKey, a.NotOnOrAfter, now) {
		return nil, samlInvalid("The SAML assertion has already been used (or has no ID): ask the identity provider for a new one.")
	}
	out, err := s.assume(&roleSession{
		action: "sts:AssumeRoleWithSAML", ref: ref, role: role, name: sessionName, now: now,
		policy: doc, policyARNs: arns, tags: tags, transitive: transitive, sourceIdentity: sourceIdentity,
		tagged:   len(tags) > 0,
		duration: in.DurationSeconds, defaultDuration: defaultDuration,
		allow: federatedAllow(s, fr, denied),
	})
	if err != nil {
		s.samlSeen.release(replayKey)
		return nil, err
	}
	return &AssumeRoleWithSAMLResponse{
		Credentials:      out.creds,
		AssumedRoleUser:  out.assumedRoleUser(),
		PackedPolicySize: out.packed,
		Subject:          a.Subject,
		SubjectType:      subjectType,
		Issuer:           a.Issuer,
		Audience:         audience,
		NameQualifier:    nameQualifier,
		SourceIdentity:   sourceIdentity,
	}, nil
}

// verifySAML verifies a SAML response against the metadata of provider
// provName in provAccount: its signature, audience, validity window and
// issuer. AssumeRoleWithSAML and the console's SAML sign-in share it.
func (s *Service) verifySAML(provAccount, provName, assertion string, now time.Time) (*saml.Assertion, error) {
	var provider *iam.SAMLProvider
	s.view.Read(provAccount, func(a *iam.AccountView) {
		if p, found := a.SAMLProvider(provName); found && p.V.Name == provName {
			provider = p.V
		}
	})
	if provider == nil {
		return nil, samlInvalid("Specified provider doesn't exist.")
	}
	md, err := s.samlMD.get(provider.Metadata)
	if err != nil {
		return nil, samlInvalid("The metadata of the specified provider cannot be read.")
	}
	a, err := saml.Verify(assertion, md, saml.Options{Audiences: samlAudiences, Now: now, Skew: clockSkew})
	switch {
	case errors.Is(err, saml.ErrExpired):
		return nil, ExpiredTokenError("Response is expired.")
	case errors.Is(err, saml.ErrNotYetValid):
		return nil, samlInvalid("Response is not yet valid.")
	case errors.Is(err, saml.ErrSignature):
		return nil, samlInvalid("Response signature invalid.")
	case errors.Is(err, saml.ErrAudience):
		return nil, samlInvalid("Audience of the assertion is not valid: it must be https://signin.aws.amazon.com/saml.")
	case errors.Is(err, saml.ErrStatus):
		return nil, IDPRejectedClaimError("The identity provider reported that authentication failed.")
	case err != nil:
		return nil, samlInvalid("Invalid SAML response: the assertion could not be read.")
	}
	if a.Issuer != "" && a.Issuer != md.EntityID {
		return nil, samlInvalid("Issuer of the assertion does not match the provider's metadata.")
	}
	return a, nil
}

// SAMLRole is a role a SAML assertion's Role attribute offers, with the
// provider it pairs the role with.
type SAMLRole struct{ RoleARN, PrincipalARN string }

// SAMLRoles verifies a base64 SAML response as AssumeRoleWithSAML does and
// returns the roles its https://aws.amazon.com/SAML/Attributes/Role
// attribute offers (ROLE_ARN,PROVIDER_ARN in either order), for the
// console's role chooser. It does not use the assertion up: the chosen
// role is then assumed with AssumeRoleWithSAML. The provider to verify
// against is named by the attribute itself, so it is read once unverified
// to find it; only the verified attribute's pairs are returned.
func (s *Service) SAMLRoles(_ context.Context, assertion string) ([]SAMLRole, error) {
	now := s.now()
	noRole := samlInvalid("The SAML assertion has no https://aws.amazon.com/SAML/Attributes/Role attribute pairing a role with a SAML provider.")
	var provs []string
	for _, p := range rolePairs(s.partition, peekRoles(assertion)) {
		if !slices.Contains(provs, p.PrincipalARN) {
			provs = append(provs, p.PrincipalARN)
		}
	}
	if len(provs) == 0 {
		return nil, noRole
	}
	var firstErr error
	for _, prov := range provs {
		account, name, _ := parseSAMLProviderARN(s.partition, prov)
		a, err := s.verifySAML(account, name, assertion, now)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		var out []SAMLRole
		for _, p := range rolePairs(s.partition, a.Attributes[samlRoleAttr]) {
			if p.PrincipalARN == prov && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
		if len(out) == 0 {
			return nil, noRole
		}
		return out, nil
	}
	return nil, firstErr
}

// ClaimedSAMLRoles returns the role and provider pairs a SAML response's
// Role attribute names, without verifying the response: only to learn the
// accounts a refused console sign-in is recorded in, as a failed password
// sign-in is recorded in the account its form named. Never authorize with
// it.
func (s *Service) ClaimedSAMLRoles(assertion string) []SAMLRole {
	return rolePairs(s.partition, peekRoles(assertion))
}

// rolePairs reads Role attribute values: a role ARN and a SAML provider
// ARN, comma-separated, in either order.
func rolePairs(p iam.Partition, vals []string) []SAMLRole {
	var out []SAMLRole
	for _, v := range vals {
		x, y, ok := strings.Cut(v, ",")
		x, y = strings.TrimSpace(x), strings.TrimSpace(y)
		if !ok {
			continue
		}
		if _, _, isProv := parseSAMLProviderARN(p, x); isProv {
			x, y = y, x
		}
		if _, _, isProv := parseSAMLProviderARN(p, y); isProv {
			if _, ok := parseRoleARN(p, x); ok {
				out = append(out, SAMLRole{RoleARN: x, PrincipalARN: y})
			}
		}
	}
	return out
}

// peekRoles reads the Role attribute's values from a SAML response without
// verifying it, only to learn which provider to verify it against.
func peekRoles(b64 string) []string {
	if len(b64) > saml.MaxResponseLen {
		return nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(b64), ""))
	if err != nil {
		return nil
	}
	d := xml.NewDecoder(bytes.NewReader(raw))
	var vals []string
	inRole, inValue := false, false
	for {
		tok, err := d.Token()
		if err != nil {
			return vals
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "Attribute":
				inRole = false
				for _, at := range t.Attr {
					if at.Name.Local == "Name" && at.Value == samlRoleAttr {
						inRole = true
					}
				}
			case "AttributeValue":
				inValue = inRole
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "Attribute":
				inRole = false
			case "AttributeValue":
				inValue = false
			}
		case xml.CharData:
			if inValue && len(vals) < 100 {
				vals = append(vals, string(t))
			}
		}
	}
}

// samlReplay remembers the assertions used, each until it expires, so
// that one is not used twice. It is per process: with several replicas,
// an assertion could be used once on each.
type samlReplay struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// samlReplayMax bounds the remembered assertions; when full, the
// remembering fails closed (a new assertion is refused until some expire).
const samlReplayMax = 100000

// claim marks key used until notOnOrAfter; false if it is already.
func (r *samlReplay) claim(key string, notOnOrAfter, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = make(map[string]time.Time)
	}
	if until, ok := r.seen[key]; ok && now.Before(until.Add(clockSkew)) {
		return false
	}
	if len(r.seen) >= samlReplayMax {
		for k, until := range r.seen {
			if !now.Before(until.Add(clockSkew)) {
				delete(r.seen, k)
			}
		}
		if len(r.seen) >= samlReplayMax {
			return false
		}
	}
	if notOnOrAfter.IsZero() {
		notOnOrAfter = now.Add(time.Hour)
	}
	r.seen[key] = notOnOrAfter
	return true
}

// release forgets key: the assumption that claimed it was refused.
func (r *samlReplay) release(key string) {
	r.mu.Lock()
	delete(r.seen, key)
	r.mu.Unlock()
}

func first(vals []string) string {
	if len(vals) == 0 {
		return ""
	}
	return vals[0]
}

// validSessionName matches [\w+=,.@-]*.
func validSessionName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("_+=,.@-", c) >= 0:
		default:
			return false
		}
	}
	return true
}
