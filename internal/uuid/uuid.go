// Package uuid makes, formats and parses the UUIDs iamd uses as request
// IDs (random, version 4) and event IDs (time-ordered, version 7, so that a
// lookup by event ID knows where in the trail to look). They identify; they are not secrets, so
// they come from the runtime's fast ChaCha8 generator rather than the
// operating system's.
package uuid

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"time"
)

// New returns a random UUID in its 36-character form.
func New() string {
	var b [16]byte
	x, y := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		b[i], b[8+i] = byte(x>>(8*i)), byte(y>>(8*i))
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	return Format(b)
}

// NewV7 returns a version 7 UUID (RFC 9562) for time t, in its
// 36-character form: t's Unix milliseconds, then 74 random bits.
func NewV7(t time.Time) string { return Format(V7(t)) }

// V7 returns a version 7 UUID for time t, as NewV7 does, in its 16 bytes.
func V7(t time.Time) [16]byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[0:8], uint64(t.UnixMilli())<<16|rand.Uint64()&0xffff)
	binary.LittleEndian.PutUint64(b[8:16], rand.Uint64())
	b[6] = b[6]&0x0f | 0x70 // version 7
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	return b
}

// TimeV7 returns the time, to the millisecond, of a version 7 UUID; ok is
// false for other versions.
func TimeV7(b [16]byte) (t time.Time, ok bool) {
	if b[6]>>4 != 7 || b[8]>>6 != 2 {
		return time.Time{}, false
	}
	ms := binary.BigEndian.Uint64(b[0:8]) >> 16
	return time.UnixMilli(int64(ms)), true
}

// Format returns the 36-character form of a UUID.
func Format(b [16]byte) string {
	var out [36]byte
	return string(Append(out[:0], b))
}

// Append appends the 36-character form of a UUID to dst.
func Append(dst []byte, b [16]byte) []byte {
	n := len(dst)
	dst = append(dst, make([]byte, 36)...)
	out := dst[n:]
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return dst
}

// Parse decodes the 36-character form (either case of hex digits); ok is
// false for anything else.
func Parse(s string) (b [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return b, false
	}
	var bad byte
	j := 0
	for i := 0; i < 36; i += 2 {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
		}
		hi, lo := hexValue[s[i]], hexValue[s[i+1]]
		bad |= hi | lo
		b[j] = hi<<4 | lo&0x0f
		j++
	}
	if bad&0x80 != 0 {
		return [16]byte{}, false
	}
	return b, true
}

// hexValue maps a hex digit (either case) to its value and every other
// byte to 0xff.
var hexValue = func() (t [256]byte) {
	for c := range t {
		switch {
		case '0' <= c && c <= '9':
			t[c] = byte(c - '0')
		case 'a' <= c && c <= 'f':
			t[c] = byte(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			t[c] = byte(c - 'A' + 10)
		default:
			t[c] = 0xff
		}
	}
	return t
}()
