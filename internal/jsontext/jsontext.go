// Package jsontext appends JSON string literals to byte slices, for the
// hand-written encoders on hot paths (the audit trail's records, the
// authorization API's answers) where encoding/json's reflection and
// allocations cost too much.
//
// It is not a JSON encoder: callers write the structure themselves and use
// it only for the strings inside.
package jsontext

import (
	"math/bits"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string: quotes, backslashes and control
// characters escaped, each byte of invalid UTF-8 replaced by U+FFFD, and
// U+2028 and U+2029 escaped, as encoding/json does. '<', '>' and '&' are
// kept as they are.
func AppendString(b []byte, s string) []byte {
	return appendString(b, s, false)
}

// AppendHTMLSafeString is AppendString that also escapes '<', '>' and '&'
// (as encoding/json does by default), so that the output can be embedded
// in HTML.
func AppendHTMLSafeString(b []byte, s string) []byte {
	return appendString(b, s, true)
}

func appendString(b []byte, s string, html bool) []byte {
	b = append(b, '"')
	i := 0
	if !html {
		if i = plainPrefix(s); i == len(s) {
			b = append(b, s...)
			return append(b, '"')
		}
	}
	start := 0
	for i < len(s) {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
				b = append(b, s[start:i]...)
				if r == utf8.RuneError {
					b = append(b, `\ufffd`...)
				} else {
					b = append(b, `\u202`...)
					b = append(b, hexDigits[r&0xf])
				}
				start = i + size
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' && !(html && (c == '<' || c == '>' || c == '&')) {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// plainPrefix returns the length of the leading run of s that JSON needs
// no escape for (ASCII without control characters, quotes or
// backslashes), testing eight bytes at a time; a string's last bytes are
// tested as the eight that end it.
func plainPrefix(s string) int {
	n := len(s)
	if n < 8 {
		i := 0
		for i < n && plainByte(s[i]) {
			i++
		}
		return i
	}
	i := 0
	for ; n-i >= 8; i += 8 {
		if m := escapes(word(s[i:i+8])) & highs; m != 0 {
			return i + first(m)
		}
	}
	if i < n {
		// The bytes before i are plain, so the first flagged one is at
		// i or after.
		j := n - 8
		if m := escapes(word(s[j:])) & highs; m != 0 {
			return j + first(m)
		}
	}
	return n
}

func plainByte(c byte) bool { return c-0x20 < 0x60 && c != '"' && c != '\\' }

// first returns the index of the lowest byte whose high bit m has set.
// escapes sets it exactly in the lowest byte that needs an escape: the
// borrows that may flag bytes above it start there.
func first(m uint64) int { return bits.TrailingZeros64(m) / 8 }

const ones, highs = 0x0101010101010101, 0x8080808080808080

// word reads the first eight bytes of s, little-endian, in one load.
func word(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// escapes returns x with the high bit set in each byte (and maybe in the
// bytes above it) that JSON must escape or that is not ASCII.
func escapes(x uint64) uint64 {
	q := x ^ ('"' * ones)   // zero bytes where x has '"'
	bs := x ^ ('\\' * ones) // zero bytes where x has '\\'
	return x | (x-0x20*ones)&^x | (q-ones)&^q | (bs-ones)&^bs
}

// Plain reports whether s is written in JSON as it is, between quotes:
// printable ASCII without quotes or backslashes.
func Plain(s string) bool { return plainPrefix(s) == len(s) }
