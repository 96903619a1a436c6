package policy

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Tristate is an optional boolean context value.
type Tristate uint8

// Tristate values. The zero value means the key is absent.
const (
	Unset Tristate = iota
	True
	False
)

// TristateOf returns True or False.
func TristateOf(b bool) Tristate {
	if b {
		return True
	}
	return False
}

// KeyValues is a context key with its values. A single-valued key has one
// value; multi-valued keys (aws:TagKeys, aws:CalledVia, ...) have any
// number, zero included: a key present with an empty set of values is not
// an absent key (ForAllValues holds, ForAnyValue does not, IfExists sees
// the key).
type KeyValues struct {
	// Key is the condition key name; it is matched case-insensitively.
	Key    string
	Values []string
}

// Context holds the request context keys a decision may read. The common
// global keys have typed fields (their zero value means "absent"); every
// other key goes in Values. A Context can be reused across requests: call
// Reset, then fill it again; the Values slice keeps its capacity.
type Context struct {
	// CurrentTime is aws:CurrentTime (and aws:EpochTime).
	CurrentTime time.Time
	// SourceIP is aws:SourceIp.
	SourceIP netip.Addr
	// SecureTransport is aws:SecureTransport.
	SecureTransport Tristate
	// MultiFactorAuthPresent is aws:MultiFactorAuthPresent.
	MultiFactorAuthPresent Tristate
	// MultiFactorAuthAge is aws:MultiFactorAuthAge in seconds, present when
	// HasMultiFactorAuthAge is set.
	MultiFactorAuthAge    int64
	HasMultiFactorAuthAge bool
	// Username is aws:username (IAM users only).
	Username string
	// UserID is aws:userid.
	UserID string
	// PrincipalARN is aws:PrincipalArn.
	PrincipalARN string
	// PrincipalAccount is aws:PrincipalAccount.
	PrincipalAccount string
	// PrincipalType is aws:PrincipalType ("User", "AssumedRole", "Account",
	// "FederatedUser", "Anonymous").
	PrincipalType string
	// TokenIssueTime is aws:TokenIssueTime (temporary credentials only).
	TokenIssueTime time.Time
	// ResourceAccount is aws:ResourceAccount, the account that owns the
	// resource.
	ResourceAccount string
	// Values holds every other key, e.g. aws:PrincipalTag/team,
	// aws:RequestTag/x, aws:TagKeys, iam:PermissionsBoundary, sts:ExternalId.
	Values []KeyValues
}

// Reset clears the context for reuse, keeping the capacity of Values.
func (c *Context) Reset() {
	vals := c.Values[:0]
	*c = Context{Values: vals}
}

// Add appends a key with its values to Values, without interpreting it.
func (c *Context) Add(key string, values ...string) {
	c.Values = append(c.Values, KeyValues{Key: key, Values: values})
}

// Set stores a key given as text, as from a command line: well-known keys
// are parsed into their typed fields (falling back to Values when the text
// does not parse), others are appended to Values. Set with several values
// makes a multi-valued key.
func (c *Context) Set(key string, values ...string) {
	if len(values) == 1 {
		v := values[0]
		switch lookupKeyID(strings.ToLower(key)) {
		case kCurrentTime:
			if t, ok := parseTime(v); ok {
				c.CurrentTime = t
				return
			}
		case kEpochTime:
			if t, ok := parseTime(v); ok {
				c.CurrentTime = t
				return
			}
		case kSourceIP:
			if a, err := netip.ParseAddr(v); err == nil {
				c.SourceIP = a.Unmap()
				return
			}
		case kSecureTransport:
			if b, err := strconv.ParseBool(v); err == nil {
				c.SecureTransport = TristateOf(b)
				return
			}
		case kMFAPresent:
			if b, err := strconv.ParseBool(v); err == nil {
				c.MultiFactorAuthPresent = TristateOf(b)
				return
			}
		case kMFAAge:
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				c.MultiFactorAuthAge, c.HasMultiFactorAuthAge = n, true
				return
			}
		case kUsername:
			c.Username = v
			return
		case kUserID:
			c.UserID = v
			return
		case kPrincipalARN:
			c.PrincipalARN = v
			return
		case kPrincipalAccount:
			c.PrincipalAccount = v
			return
		case kPrincipalType:
			c.PrincipalType = v
			return
		case kResourceAccount:
			c.ResourceAccount = v
			return
		case kTokenIssueTime:
			if t, ok := parseTime(v); ok {
				c.TokenIssueTime = t
				return
			}
		}
	}
	for i := range c.Values {
		if strings.EqualFold(c.Values[i].Key, key) {
			c.Values[i].Values = append(c.Values[i].Values, values...)
			return
		}
	}
	c.Add(key, values...)
}

type keyID uint8

const (
	kOther keyID = iota
	kCurrentTime
	kEpochTime
	kSourceIP
	kSecureTransport
	kMFAPresent
	kMFAAge
	kUsername
	kUserID
	kPrincipalARN
	kPrincipalAccount
	kPrincipalType
	kTokenIssueTime
	kResourceAccount
)

var knownKeys = map[string]keyID{
	"aws:currenttime":            kCurrentTime,
	"aws:epochtime":              kEpochTime,
	"aws:sourceip":               kSourceIP,
	"aws:securetransport":        kSecureTransport,
	"aws:multifactorauthpresent": kMFAPresent,
	"aws:multifactorauthage":     kMFAAge,
	"aws:username":               kUsername,
	"aws:userid":                 kUserID,
	"aws:principalarn":           kPrincipalARN,
	"aws:principalaccount":       kPrincipalAccount,
	"aws:principaltype":          kPrincipalType,
	"aws:tokenissuetime":         kTokenIssueTime,
	"aws:resourceaccount":        kResourceAccount,
}

func lookupKeyID(lower string) keyID { return knownKeys[lower] }

// keyRef is a condition key resolved at compile time.
type keyRef struct {
	id   keyID
	name string // as written in the policy
}

func newKeyRef(name string) keyRef {
	return keyRef{id: lookupKeyID(strings.ToLower(name)), name: name}
}

type valKind uint8

const (
	vkAbsent valKind = iota
	vkString
	vkList
	vkIP
	vkTime
	vkBool
	vkInt
)

// ctxVal is a context key's value(s) as read for one condition.
type ctxVal struct {
	kind valKind
	s    string
	list []string
	ip   netip.Addr
	t    time.Time
	b    bool
	n    int64
}

func (v *ctxVal) count() int {
	switch v.kind {
	case vkAbsent:
		return 0
	case vkList:
		return len(v.list)
	}
	return 1
}

// str returns element i in string form; typed values are formatted.
func (v *ctxVal) str(i int) string {
	switch v.kind {
	case vkString:
		return v.s
	case vkList:
		return v.list[i]
	case vkBool:
		if v.b {
			return "true"
		}
		return "false"
	}
	return v.format()
}

// format formats a typed value (an address, a time or a number).
func (v *ctxVal) format() string {
	var buf [64]byte
	switch v.kind {
	case vkIP:
		return string(v.ip.AppendTo(buf[:0]))
	case vkTime:
		return string(v.t.UTC().AppendFormat(buf[:0], "2006-01-02T15:04:05Z"))
	case vkInt:
		return string(strconv.AppendInt(buf[:0], v.n, 10))
	}
	return ""
}

// get reads a key. rec, when not nil, records the read. The value is
// returned, not stored through a pointer, so that escape analysis sees
// that the Context does not outlive the decision (a caller's Context on
// its stack stays there).
func (c *Context) get(k *keyRef, rec *recorder) ctxVal {
	v := c.lookup(k)
	if rec != nil {
		rec.read(k.name, v.kind != vkAbsent)
	}
	return v
}

// stringField returns the typed string field for the key id, "" for
// other keys.
func (c *Context) stringField(id keyID) string {
	switch id {
	case kUsername:
		return c.Username
	case kUserID:
		return c.UserID
	case kPrincipalARN:
		return c.PrincipalARN
	case kPrincipalAccount:
		return c.PrincipalAccount
	case kPrincipalType:
		return c.PrincipalType
	case kResourceAccount:
		return c.ResourceAccount
	}
	return ""
}

func (c *Context) lookup(k *keyRef) (v ctxVal) {
	if c == nil {
		return
	}
	switch k.id {
	case kCurrentTime:
		if !c.CurrentTime.IsZero() {
			v.kind, v.t = vkTime, c.CurrentTime
			return
		}
	case kEpochTime:
		if !c.CurrentTime.IsZero() {
			v.kind, v.n = vkInt, c.CurrentTime.Unix()
			return
		}
	case kSourceIP:
		if c.SourceIP.IsValid() {
			v.kind, v.ip = vkIP, c.SourceIP
			return
		}
	case kSecureTransport:
		if c.SecureTransport != Unset {
			v.kind, v.b = vkBool, c.SecureTransport == True
			return
		}
	case kMFAPresent:
		if c.MultiFactorAuthPresent != Unset {
			v.kind, v.b = vkBool, c.MultiFactorAuthPresent == True
			return
		}
	case kMFAAge:
		if c.HasMultiFactorAuthAge {
			v.kind, v.n = vkInt, c.MultiFactorAuthAge
			return
		}
	case kUsername, kUserID, kPrincipalARN, kPrincipalAccount, kPrincipalType, kResourceAccount:
		if str := c.stringField(k.id); str != "" {
			v.kind, v.s = vkString, str
			return
		}
	case kTokenIssueTime:
		if !c.TokenIssueTime.IsZero() {
			v.kind, v.t = vkTime, c.TokenIssueTime
			return
		}
	}
	for i := range c.Values {
		kv := &c.Values[i]
		if len(kv.Key) == len(k.name) && strings.EqualFold(kv.Key, k.name) {
			switch len(kv.Values) {
			case 0:
				// Present with an empty set of values: not absent.
				v.kind, v.list = vkList, kv.Values
				return
			case 1:
				v.kind, v.s = vkString, kv.Values[0]
				return
			}
			v.kind, v.list = vkList, kv.Values
			return
		}
	}
	return
}

// variable resolves a policy variable: only single-valued keys that are
// present resolve.
func (c *Context) variable(k *keyRef, rec *recorder) (string, bool) {
	if rec == nil && c != nil {
		if s := c.stringField(k.id); s != "" {
			return s, true
		}
	}
	v := c.get(k, rec)
	switch v.kind {
	case vkString:
		return v.s, true
	case vkAbsent, vkList:
		return "", false
	}
	return v.str(0), true
}

// recorder collects the context keys read while explaining a decision.
type recorder struct {
	read_   []string
	missing []string
}

func (r *recorder) read(name string, present bool) {
	list := &r.read_
	if !present {
		list = &r.missing
	}
	for _, n := range *list {
		if strings.EqualFold(n, name) {
			return
		}
	}
	*list = append(*list, name)
}

// parseTime parses a date condition value: ISO 8601 / RFC 3339 date-time,
// a date, or epoch seconds.
func parseTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	allDigits := true
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			allDigits = false
			break
		}
	}
	if allDigits {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		return time.Unix(n, 0).UTC(), true
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	if strings.ContainsAny(s, "tz") {
		return parseTime(strings.ToUpper(s))
	}
	return time.Time{}, false
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02T15Z07:00",
	"2006-01-02",
	"2006-01",
	"2006",
}
