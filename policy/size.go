package policy

// Size limits IAM applies, in characters other than white space.
const (
	// ManagedPolicyMaxSize is the limit for a managed policy version.
	ManagedPolicyMaxSize = 6144
	// UserInlineMaxSize is the limit for all inline policies of a user.
	UserInlineMaxSize = 2048
	// RoleInlineMaxSize is the limit for all inline policies of a role.
	RoleInlineMaxSize = 10240
	// GroupInlineMaxSize is the limit for all inline policies of a group.
	GroupInlineMaxSize = 5120
	// TrustPolicyMaxSize is the default limit for a role trust policy
	// (quota ACLSizePerRole).
	TrustPolicyMaxSize = 2048
	// SessionPolicyMaxSize is the limit for an inline session policy's
	// plain text.
	SessionPolicyMaxSize = 2048
)

// Size returns the length of doc as IAM counts it against its quotas:
// characters, white space outside strings excluded.
func Size(doc []byte) int {
	n := 0
	inString, escaped := false, false
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		if c&0xC0 == 0x80 {
			continue // UTF-8 continuation byte: counted with its lead byte
		}
		if inString {
			n++
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			inString = true
		}
		n++
	}
	return n
}

// CheckSize returns a *SizeError when doc is larger than limit as IAM
// counts it (see Size). The limit depends on where the document is stored:
// ManagedPolicyMaxSize, RoleInlineMaxSize, ...; for inline policies the
// server passes the aggregate of the principal's inline policies.
func CheckSize(doc []byte, limit int) error {
	if n := Size(doc); n > limit {
		return &SizeError{Size: n, Limit: limit}
	}
	return nil
}
