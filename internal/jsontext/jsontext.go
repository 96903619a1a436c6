// Package jsontext appends JSON string literals to byte slices, for the
// hand-written encoders on hot paths (the audit trail's records, the
// authorization API's answers) where encoding/json's reflection and
// allocations cost too much.
//
// It is not a JSON encoder: callers write the structure themselves and use
// it only for the strings inside.
package jsontext

import "unicode/utf8"

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
// backslashes), testing eight bytes at a time.
func plainPrefix(s string) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		q := x ^ ('"' * ones)   // zero bytes where x has '"'
		bs := x ^ ('\\' * ones) // zero bytes where x has '\\'
		if (x|(x-0x20*ones)&^x|(q-ones)&^q|(bs-ones)&^bs)&highs != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			break
		}
	}
	return i
}

// Plain reports whether s is written in JSON as it is, between quotes:
// printable ASCII without quotes or backslashes.
func Plain(s string) bool { return plainPrefix(s) == len(s) }
