package totp

import (
	"bytes"
	"errors"
	"image/png"
	"strings"
	"testing"
	"time"
)

// rfcSeed is the SHA-1 key of RFC 4226 Appendix D and RFC 6238 Appendix B.
var rfcSeed = []byte("12345678901234567890")

func TestHOTPRFC4226(t *testing.T) {
	t.Parallel()
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for counter, w := range want {
		t.Run(w, func(t *testing.T) {
			t.Parallel()
			if got := HOTP(rfcSeed, uint64(counter), 6); got != w {
				t.Errorf("HOTP(%d) = %s, want %s", counter, got, w)
			}
		})
	}
}

func TestTOTPRFC6238(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		unix int64
		want string // 8 digits, as in Appendix B
	}{
		{"59", 59, "94287082"},
		{"1111111109", 1111111109, "07081804"},
		{"1111111111", 1111111111, "14050471"},
		{"1234567890", 1234567890, "89005924"},
		{"2000000000", 2000000000, "69279037"},
		{"20000000000", 20000000000, "65353130"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			at := time.Unix(tc.unix, 0)
			if got := HOTP(rfcSeed, Counter(at), 8); got != tc.want {
				t.Errorf("8-digit TOTP = %s, want %s", got, tc.want)
			}
			if got := TOTP(rfcSeed, at); got != tc.want[2:] {
				t.Errorf("6-digit TOTP = %s, want %s", got, tc.want[2:])
			}
		})
	}
}

func TestSeedEncoding(t *testing.T) {
	t.Parallel()
	seed := NewSeed()
	enc := EncodeSeed(seed)
	if len(enc) != 64 || strings.ContainsAny(enc, "=abcdefghijklmnopqrstuvwxyz01") {
		t.Fatalf("EncodeSeed = %q: want 64 upper-case Base32 characters", enc)
	}
	tests := []struct {
		name string
		in   string
		want []byte
		err  error
	}{
		{"canonical", enc, seed, nil},
		{"lower case", strings.ToLower(enc), seed, nil},
		{"grouped", enc[:4] + " " + enc[4:8] + "-" + enc[8:], seed, nil},
		{"rfc seed padded", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", rfcSeed, nil},
		{"padded", "MZXW6===", []byte("foo"), nil},
		{"empty", "", nil, ErrInvalidSeed},
		{"bad alphabet", "MZXW1", nil, ErrInvalidSeed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeSeed(tc.in)
			if !errors.Is(err, tc.err) || !bytes.Equal(got, tc.want) {
				t.Fatalf("DecodeSeed = %x, %v; want %x, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 0)
	cur := Counter(now)
	code := func(c uint64) string { return HOTP(rfcSeed, c, Digits) }
	tests := []struct {
		name    string
		code    string
		last    uint64
		want    uint64
		wantErr error
	}{
		{"current", code(cur), 0, cur, nil},
		{"previous step", code(cur - 1), 0, cur - 1, nil},
		{"next step", code(cur + 1), 0, cur + 1, nil},
		{"two steps old", code(cur - 2), 0, 0, ErrInvalidCode},
		{"two steps ahead", code(cur + 2), 0, 0, ErrInvalidCode},
		{"replayed", code(cur), cur, 0, ErrReplayed},
		{"older than last", code(cur - 1), cur, 0, ErrReplayed},
		{"after last", code(cur + 1), cur, cur + 1, nil},
		{"wrong", "000000", 0, 0, ErrInvalidCode},
		{"short", code(cur)[:5], 0, 0, ErrInvalidCode},
		{"long", code(cur) + "0", 0, 0, ErrInvalidCode},
		{"letters", "12345a", 0, 0, ErrInvalidCode},
		{"spaces", " " + code(cur)[1:], 0, 0, ErrInvalidCode},
		{"empty", "", 0, 0, ErrInvalidCode},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.code == "000000" && (code(cur-1) == "000000" || code(cur) == "000000" || code(cur+1) == "000000") {
				t.Skip("fixture collides")
			}
			got, err := Verify(rfcSeed, tc.code, now, tc.last)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) || got != tc.want {
				t.Fatalf("Verify = %d, %v; want %d, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestVerifyOnceOnly(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 0)
	code := TOTP(rfcSeed, now)
	last, err := Verify(rfcSeed, code, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(rfcSeed, code, now.Add(10*time.Second), last); !errors.Is(err, ErrReplayed) {
		t.Fatalf("second use = %v, want ErrReplayed", err)
	}
}

func TestVerifyConsecutive(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 0)
	cur := Counter(now)
	code := func(c uint64) string { return HOTP(rfcSeed, c, Digits) }
	tests := []struct {
		name         string
		code1, code2 string
		want         uint64
		wantErr      error
	}{
		{"current pair", code(cur - 1), code(cur), cur, nil},
		{"drifted 9 minutes behind", code(cur - 18), code(cur - 17), cur - 17, nil},
		{"drifted ahead", code(cur + 19), code(cur + 20), cur + 20, nil},
		{"edge of window", code(cur - ResyncWindow), code(cur - ResyncWindow + 1), cur - ResyncWindow + 1, nil},
		{"outside window", code(cur - ResyncWindow - 1), code(cur - ResyncWindow), 0, ErrInvalidCode},
		{"reversed", code(cur), code(cur - 1), 0, ErrInvalidCode},
		{"not consecutive", code(cur - 2), code(cur), 0, ErrInvalidCode},
		{"same code twice", code(cur), code(cur), 0, ErrInvalidCode},
		{"malformed", "abc", code(cur), 0, ErrInvalidCode},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := VerifyConsecutive(rfcSeed, tc.code1, tc.code2, now)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) || got != tc.want {
				t.Fatalf("VerifyConsecutive = %d, %v; want %d, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
	// The codes that enabled the device cannot sign in.
	last, _ := VerifyConsecutive(rfcSeed, code(cur-1), code(cur), now)
	if _, err := Verify(rfcSeed, code(cur), now, last); !errors.Is(err, ErrReplayed) {
		t.Errorf("enable code reused for sign-in: %v", err)
	}
}

func TestCounter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		t    time.Time
		want uint64
	}{
		{"epoch", time.Unix(0, 0), 0},
		{"29s", time.Unix(29, 999), 0},
		{"30s", time.Unix(30, 0), 1},
		{"before epoch", time.Unix(-100, 0), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Counter(tc.t); got != tc.want {
				t.Errorf("Counter = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestURI(t *testing.T) {
	t.Parallel()
	seed := []byte("12345678901234567890")
	tests := []struct {
		name          string
		issuer, label string
		want          string
	}{
		{"IAM API format", "", "my-device@alice", "otpauth://totp/my-device@alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"},
		{"console format", "Amazon Web Services", "alice@my-alias",
			"otpauth://totp/Amazon%20Web%20Services:alice@my-alias?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Amazon%20Web%20Services"},
		{"escaped label", "", "a/b?c d@123456789012", "otpauth://totp/a%2Fb%3Fc%20d@123456789012?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"},
		{"issuer with ampersand", "A&B", "u", "otpauth://totp/A&B:u?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=A%26B"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := URI(tc.issuer, tc.label, seed); got != tc.want {
				t.Errorf("URI =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestQRCodePNG(t *testing.T) {
	t.Parallel()
	uri := URI("", "my-device@alice", NewSeed())
	b, err := QRCodePNG(uri)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if w := img.Bounds().Dx(); w < 100 || w != img.Bounds().Dy() {
		t.Errorf("image is %v", img.Bounds())
	}
	if _, err := QRCodePNG(strings.Repeat("x", 5000)); err == nil {
		t.Error("QRCodePNG accepted text too long for a QR code")
	}
}

func FuzzDecodeSeed(f *testing.F) {
	f.Add("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
	f.Add("mzxw6===")
	f.Fuzz(func(t *testing.T, s string) {
		seed, err := DecodeSeed(s)
		if err != nil {
			return
		}
		again, err := DecodeSeed(EncodeSeed(seed))
		if err != nil || !bytes.Equal(seed, again) {
			t.Fatalf("round trip of %x failed: %x, %v", seed, again, err)
		}
	})
}

func FuzzVerify(f *testing.F) {
	f.Add("123456", int64(1700000000), uint64(0))
	f.Fuzz(func(t *testing.T, code string, unix int64, last uint64) {
		c, err := Verify(rfcSeed, code, time.Unix(unix, 0), last)
		if err == nil && (c <= last || HOTP(rfcSeed, c, Digits) != code) {
			t.Fatalf("accepted %q at counter %d (last %d)", code, c, last)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	now := time.Unix(1700000000, 0)
	code := TOTP(rfcSeed, now)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(rfcSeed, code, now, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkQRCodePNG(b *testing.B) {
	uri := URI("Amazon Web Services", "alice@my-alias", NewSeed())
	b.ReportAllocs()
	for b.Loop() {
		QRCodePNG(uri)
	}
}
