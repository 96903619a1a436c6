// Package totp implements the one-time passwords of IAM virtual MFA devices:
// HOTP (RFC 4226) and TOTP (RFC 6238) with HMAC-SHA1, 6 digits and a 30-second
// step, Base32 seeds, otpauth:// key URIs and their QR codes, and
// verification with replay protection.
//
// Replay protection is the caller's to store: Verify takes the time-step
// counter of the last code accepted for the device and returns the counter of
// the code it accepts, which the caller saves (with a compare-and-swap, so two
// replicas cannot both accept the same code). A code is accepted only if its
// step is later than the saved one.
//
// The package does not store seeds; encrypt them at rest with package
// secrets.
package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"rsc.io/qr"
)

const (
	// Digits is the length of a code.
	Digits = 6
	// Period is the TOTP time step.
	Period = 30 * time.Second
	// SeedSize is the size of a new seed: 40 bytes, which is 64 Base32
	// characters like the Base32StringSeed IAM returns for a virtual MFA
	// device.
	SeedSize = 40
	// Skew is how many steps before and after the current one Verify
	// accepts, to allow for clock drift and a code typed near a step's end.
	Skew = 1
	// ResyncWindow is how many steps each side of now VerifyConsecutive
	// searches (10 minutes each way), for devices whose clocks drifted.
	ResyncWindow = 20
)

// Errors returned by this package; check them with errors.Is.
var (
	// ErrInvalidCode means a code is not the right shape or does not match
	// the seed within the window. IAM answers InvalidAuthenticationCode.
	ErrInvalidCode = errors.New("totp: invalid code")
	// ErrReplayed means the code matches but its step is not later than the
	// last accepted one: it (or a later code) was already used.
	ErrReplayed = errors.New("totp: code already used")
	// ErrInvalidSeed means a Base32 seed cannot be decoded or is empty.
	ErrInvalidSeed = errors.New("totp: invalid seed")
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSeed returns a new random seed of SeedSize bytes.
func NewSeed() []byte {
	s := make([]byte, SeedSize)
	rand.Read(s)
	return s
}

// EncodeSeed returns seed as upper-case, unpadded Base32 (RFC 4648), the
// form of IAM's Base32StringSeed and of the otpauth secret parameter.
// (IAM's response carries that string base64-encoded once more, as a blob.)
func EncodeSeed(seed []byte) string { return b32.EncodeToString(seed) }

// DecodeSeed decodes a Base32 seed as users paste it: case, spaces, dashes
// and trailing padding are tolerated.
func DecodeSeed(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '\t':
			return -1
		}
		return r
	}, strings.ToUpper(s))
	s = strings.TrimRight(s, "=")
	seed, err := b32.DecodeString(s)
	if err != nil || len(seed) == 0 {
		return nil, ErrInvalidSeed
	}
	return seed, nil
}

// HOTP returns the RFC 4226 one-time password for seed and counter with the
// given number of digits (6 to 9), zero-padded.
func HOTP(seed []byte, counter uint64, digits int) string {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], counter)
	m := hmac.New(sha1.New, seed)
	m.Write(buf[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// Counter returns the TOTP time-step counter for t: Unix seconds / 30.
// Times before 1970 map to step 0.
func Counter(t time.Time) uint64 {
	s := t.Unix()
	if s < 0 {
		return 0
	}
	return uint64(s) / uint64(Period/time.Second)
}

// TOTP returns the 6-digit code for seed at time t.
func TOTP(seed []byte, t time.Time) string {
	return HOTP(seed, Counter(t), Digits)
}

func wellFormed(code string) bool {
	if len(code) != Digits {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// match returns the counter in [lo, hi] whose code equals code, checking
// every step in the window so the time taken does not reveal which matched.
func match(seed []byte, code string, lo, hi uint64) (uint64, bool) {
	var found uint64
	ok := 0
	for c := lo; c <= hi; c++ {
		eq := subtle.ConstantTimeCompare([]byte(HOTP(seed, c, Digits)), []byte(code))
		if eq == 1 && ok == 0 {
			found = c
		}
		ok |= eq
		if c == hi { // hi may be MaxUint64
			break
		}
	}
	return found, ok == 1
}

func window(now time.Time, steps uint64) (lo, hi uint64) {
	c := Counter(now)
	lo = 0
	if c > steps {
		lo = c - steps
	}
	return lo, c + steps
}

// Verify checks a code for seed at now, accepting the current step and Skew
// steps either side. last is the counter returned by the previous successful
// Verify or VerifyConsecutive for this device (0 if none); a code whose step
// is not after last is refused with ErrReplayed. On success Verify returns
// the code's counter, which the caller must store as the new last.
func Verify(seed []byte, code string, now time.Time, last uint64) (uint64, error) {
	if !wellFormed(code) {
		return 0, ErrInvalidCode
	}
	lo, hi := window(now, Skew)
	c, ok := match(seed, code, lo, hi)
	if !ok {
		return 0, ErrInvalidCode
	}
	if c <= last {
		return 0, ErrReplayed
	}
	return c, nil
}

// VerifyConsecutive checks two consecutive codes, as EnableMFADevice and
// ResyncMFADevice take them: code1 for some step c and code2 for step c+1,
// with c within ResyncWindow steps of now. It returns c+1, the counter the
// caller stores as last for the device, so neither code can then be used to
// sign in.
func VerifyConsecutive(seed []byte, code1, code2 string, now time.Time) (uint64, error) {
	if !wellFormed(code1) || !wellFormed(code2) {
		return 0, ErrInvalidCode
	}
	lo, hi := window(now, ResyncWindow)
	ok := 0
	var found uint64
	for c := lo; c <= hi; c++ {
		eq := subtle.ConstantTimeCompare([]byte(HOTP(seed, c, Digits)), []byte(code1)) &
			subtle.ConstantTimeCompare([]byte(HOTP(seed, c+1, Digits)), []byte(code2))
		if eq == 1 && ok == 0 {
			found = c + 1
		}
		ok |= eq
	}
	if ok != 1 {
		return 0, ErrInvalidCode
	}
	return found, nil
}

// URI returns the otpauth:// key URI that authenticator apps read
// (Google Authenticator's Key Uri Format): otpauth://totp/LABEL?secret=…
// and, if issuer is not empty, LABEL prefixed with "issuer:" and an issuer
// parameter. Algorithm, digits and period are left at the apps' defaults
// (SHA1, 6, 30), which are the ones this package uses.
//
// IAM's API documents the QR code of CreateVirtualMFADevice as encoding
// otpauth://totp/$virtualMFADeviceName@$AccountName?secret=$Base32String:
// URI("", deviceName+"@"+accountName, seed).
func URI(issuer, label string, seed []byte) string {
	var b strings.Builder
	b.WriteString("otpauth://totp/")
	if issuer != "" {
		b.WriteString(url.PathEscape(issuer))
		b.WriteByte(':')
	}
	b.WriteString(url.PathEscape(label))
	b.WriteString("?secret=")
	b.WriteString(EncodeSeed(seed))
	if issuer != "" {
		b.WriteString("&issuer=")
		b.WriteString(queryEscape(issuer))
	}
	return b.String()
}

// queryEscape escapes a query value with %20 for spaces, which
// authenticator apps decode more reliably than '+'.
func queryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// QRCodePNG returns a PNG image of a QR code encoding uri, for IAM's
// QRCodePNG (which the protocol layer base64-encodes).
func QRCodePNG(uri string) ([]byte, error) {
	code, err := qr.Encode(uri, qr.M)
	if err != nil {
		return nil, fmt.Errorf("totp: encode QR code: %w", err)
	}
	code.Scale = 6
	return code.PNG(), nil
}
