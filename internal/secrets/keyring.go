package secrets

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size in bytes of a master key (AES-256).
const KeySize = 32

// EnvMasterKey is the environment variable LoadOrCreate reads master keys
// from: one or more base64-encoded 32-byte keys separated by commas, newest
// first.
const EnvMasterKey = "IAMD_MASTER_KEY"

// MasterKeyFile is the name of the master key file in the data directory:
// one base64-encoded 32-byte key per line, newest first.
const MasterKeyFile = "master.key"

// formatV1 is the first byte of every ciphertext Seal produces.
const formatV1 = 1

const (
	keyIDSize  = 4
	nonceSize  = 12
	headerSize = 1 + keyIDSize + nonceSize
	// Overhead is the number of bytes Seal adds to the plaintext.
	Overhead = headerSize + 16
)

// Errors returned by this package; check them with errors.Is.
var (
	// ErrInvalidKey means a master key is malformed (not base64, or not 32 bytes).
	ErrInvalidKey = errors.New("secrets: invalid master key")
	// ErrNoKeys means a key ring was built without any key.
	ErrNoKeys = errors.New("secrets: no master key")
	// ErrInsecureKeyFile means the master key file can be read by users other
	// than its owner; fix it with chmod 600.
	ErrInsecureKeyFile = errors.New("secrets: master key file is readable by group or others")
	// ErrDecrypt means a ciphertext is malformed, was tampered with, was sealed
	// with another associated data, or was sealed under a key not in the ring.
	ErrDecrypt = errors.New("secrets: cannot decrypt")
)

type key struct {
	id   [keyIDSize]byte
	aead cipher.AEAD
}

// Keyring holds master keys. The first key seals; every key opens.
// A Keyring is safe for concurrent use.
type Keyring struct {
	keys   []key
	master [][]byte // raw keys, newest first, for DeriveKeys
}

// New returns a Keyring for the given 32-byte master keys, newest first.
func New(masterKeys ...[]byte) (*Keyring, error) {
	if len(masterKeys) == 0 {
		return nil, ErrNoKeys
	}
	k := &Keyring{}
	for i, m := range masterKeys {
		if len(m) != KeySize {
			return nil, fmt.Errorf("master key %d has %d bytes, want %d: %w", i, len(m), KeySize, ErrInvalidKey)
		}
		block, err := aes.NewCipher(m)
		if err != nil {
			return nil, fmt.Errorf("master key %d: %w", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("master key %d: %w", i, err)
		}
		k.keys = append(k.keys, key{id: KeyID(m), aead: aead})
		k.master = append(k.master, bytes.Clone(m))
	}
	return k, nil
}

// KeyID returns the 4-byte identifier of a master key written into every
// ciphertext it seals. It is derived from the key with HMAC, so it reveals
// nothing about the key and needs no bookkeeping when keys are rotated.
func KeyID(masterKey []byte) [4]byte {
	m := hmac.New(sha256.New, masterKey)
	m.Write([]byte("iamd/secrets/key-id/v1"))
	var id [keyIDSize]byte
	copy(id[:], m.Sum(nil))
	return id
}

// GenerateKey returns a new random 32-byte master key.
func GenerateKey() []byte {
	b := make([]byte, KeySize)
	rand.Read(b)
	return b
}

// Seal encrypts plaintext with the newest key. associatedData is
// authenticated but not encrypted: pass the ID of the record the secret
// belongs to, and pass the same value to Open.
//
// The result is: version (1 byte) | key ID (4) | nonce (12) | ciphertext | tag (16).
func (k *Keyring) Seal(plaintext, associatedData []byte) ([]byte, error) {
	kk := k.keys[0]
	out := make([]byte, headerSize, headerSize+len(plaintext)+kk.aead.Overhead())
	out[0] = formatV1
	copy(out[1:], kk.id[:])
	nonce := out[1+keyIDSize : headerSize]
	rand.Read(nonce)
	return kk.aead.Seal(out, nonce, plaintext, k.ad(out[:1+keyIDSize], associatedData)), nil
}

// Open decrypts a ciphertext produced by Seal with the same associated data.
// It returns an error wrapping ErrDecrypt for anything that does not
// authenticate.
func (k *Keyring) Open(ciphertext, associatedData []byte) ([]byte, error) {
	if len(ciphertext) < Overhead {
		return nil, fmt.Errorf("ciphertext too short (%d bytes): %w", len(ciphertext), ErrDecrypt)
	}
	if ciphertext[0] != formatV1 {
		return nil, fmt.Errorf("unknown ciphertext version %d: %w", ciphertext[0], ErrDecrypt)
	}
	id := ciphertext[1 : 1+keyIDSize]
	nonce := ciphertext[1+keyIDSize : headerSize]
	ad := k.ad(ciphertext[:1+keyIDSize], associatedData)
	found := false
	for _, kk := range k.keys {
		if !bytes.Equal(kk.id[:], id) {
			continue
		}
		found = true
		// Two keys may share an ID by chance; try each that matches.
		if pt, err := kk.aead.Open(nil, nonce, ciphertext[headerSize:], ad); err == nil {
			return pt, nil
		}
	}
	if !found {
		return nil, fmt.Errorf("sealed under unknown key %x: %w", id, ErrDecrypt)
	}
	return nil, fmt.Errorf("authentication failed: %w", ErrDecrypt)
}

// ad binds the header (version and key ID) as well as the caller's
// associated data, so neither can be changed without detection.
func (k *Keyring) ad(header, associatedData []byte) []byte {
	ad := make([]byte, 0, len(header)+len(associatedData))
	ad = append(ad, header...)
	return append(ad, associatedData...)
}

// KeyIDs returns the IDs of the keys in the ring, newest first.
func (k *Keyring) KeyIDs() [][4]byte {
	ids := make([][4]byte, len(k.keys))
	for i, kk := range k.keys {
		ids[i] = kk.id
	}
	return ids
}

// NeedsReseal reports whether a ciphertext was sealed under a key other than
// the newest one, so a rotation job can re-seal it.
func (k *Keyring) NeedsReseal(ciphertext []byte) bool {
	if len(ciphertext) < 1+keyIDSize || ciphertext[0] != formatV1 {
		return true
	}
	return !bytes.Equal(ciphertext[1:1+keyIDSize], k.keys[0].id[:])
}

// DeriveKeys derives a 32-byte subkey for purpose from every master key,
// newest first, with DeriveKey. Use it to key other primitives (such as the
// STS token sealer) so they rotate with the master key.
func (k *Keyring) DeriveKeys(purpose string) [][]byte {
	out := make([][]byte, len(k.master))
	for i, m := range k.master {
		out[i] = DeriveKey(m, purpose)
	}
	return out
}

// DeriveKey derives a 32-byte subkey from a master key with HKDF-SHA256,
// using purpose as the HKDF info, so that keys for different purposes are
// independent. Use a distinct, fixed purpose string per use, such as
// "iamd/sts-token/v1".
func DeriveKey(master []byte, purpose string) []byte {
	out, err := hkdf.Key(sha256.New, master, []byte("iamd/secrets/hkdf-salt/v1"), purpose, KeySize)
	if err != nil {
		// Only reachable with a key length HKDF-SHA256 cannot produce.
		panic("secrets: hkdf: " + err.Error())
	}
	return out
}

// Equal reports whether two secrets are equal in time that does not depend on
// their contents (it may depend on their lengths).
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// ParseKeys decodes a comma- or newline-separated list of base64 master
// keys, newest first. Blank entries and lines starting with '#' are ignored.
func ParseKeys(s string) ([][]byte, error) {
	var keys [][]byte
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		f = strings.TrimSpace(f)
		if f == "" || strings.HasPrefix(f, "#") {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(f)
		if err != nil {
			b, err = base64.RawStdEncoding.DecodeString(f)
		}
		if err != nil {
			return nil, fmt.Errorf("master key %d is not base64: %w", len(keys), ErrInvalidKey)
		}
		if len(b) != KeySize {
			return nil, fmt.Errorf("master key %d has %d bytes, want %d: %w", len(keys), len(b), KeySize, ErrInvalidKey)
		}
		keys = append(keys, b)
	}
	if len(keys) == 0 {
		return nil, ErrNoKeys
	}
	return keys, nil
}

// LoadOrCreate returns the Keyring for a server. If env(EnvMasterKey) is set,
// its keys are used and the data directory is not touched. Otherwise the keys
// are read from dataDir/master.key, which is created with a new random key and
// permissions 0600 if it does not exist. A key file readable by group or
// others is refused with ErrInsecureKeyFile.
//
// env is usually os.Getenv; tests pass their own.
func LoadOrCreate(dataDir string, env func(string) string) (*Keyring, error) {
	return Load(dataDir, env, LoadOptions{})
}

// LoadOptions adjusts Load.
type LoadOptions struct {
	// AllowInsecureKeyFile accepts a key file that group or others can
	// access instead of failing with ErrInsecureKeyFile; the caller is
	// expected to warn about it.
	AllowInsecureKeyFile bool
}

// Load is LoadOrCreate with options.
func Load(dataDir string, env func(string) string, opts LoadOptions) (*Keyring, error) {
	if v := env(EnvMasterKey); v != "" {
		keys, err := ParseKeys(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvMasterKey, err)
		}
		return New(keys...)
	}
	path := filepath.Join(dataDir, MasterKeyFile)
	data, err := readKeyFile(path, opts.AllowInsecureKeyFile)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createKeyFile(dataDir, path); err != nil {
			return nil, err
		}
		data, err = readKeyFile(path, opts.AllowInsecureKeyFile)
	}
	if err != nil {
		return nil, err
	}
	keys, err := ParseKeys(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return New(keys...)
}

// maxKeyFile bounds the key file we read: it holds a few lines of base64.
const maxKeyFile = 1 << 16

func readKeyFile(path string, allowInsecure bool) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 && !allowInsecure {
		return nil, fmt.Errorf("%s has mode %v (run: chmod 600 %s): %w", path, st.Mode().Perm(), path, ErrInsecureKeyFile)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%s is larger than %d bytes: %w", path, maxKeyFile, ErrInvalidKey)
	}
	return data, nil
}

// createKeyFile writes a new key to a temporary file and links it into place,
// so a concurrent starter either sees no file or a complete one, and two
// starters racing both end up using the same key.
func createKeyFile(dataDir, path string) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	tmp, err := os.CreateTemp(dataDir, ".master.key-*")
	if err != nil {
		return fmt.Errorf("create master key: %w", err)
	}
	defer os.Remove(tmp.Name())
	line := base64.StdEncoding.EncodeToString(GenerateKey()) + "\n"
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("create master key: %w", err)
	}
	if _, err := tmp.WriteString(line); err != nil {
		tmp.Close()
		return fmt.Errorf("create master key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("create master key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("create master key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create master key: %w", err)
	}
	// The directory entry is what makes the key durable: sync it.
	d, err := os.Open(dataDir)
	if err != nil {
		return fmt.Errorf("create master key: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("create master key: sync %s: %w", dataDir, err)
	}
	return nil
}

// checkPlaintext is what a key check value seals. The purpose string is also
// the associated data, so no other ciphertext passes for a check value.
const checkPlaintext = "iamd/secrets/key-check/v1"

// ErrWrongKey means a key check value was sealed with a key that is not in
// the ring: the data it was stored with belongs to another master key.
var ErrWrongKey = errors.New("secrets: sealed with another master key")

// SealCheck returns a key check value: a constant sealed with the newest key.
// Stored beside the records the ring seals, it lets a server tell at start
// that it was given another master key than the one the records were sealed
// with, before it misreads them one by one. Verify it with VerifyCheck.
func (k *Keyring) SealCheck() []byte {
	v, _ := k.Seal([]byte(checkPlaintext), []byte(checkPlaintext))
	return v
}

// VerifyCheck verifies a value made by SealCheck. It returns an error
// wrapping ErrWrongKey, naming the key ID that sealed it and the ring's, if
// no key of the ring opens it; otherwise reseal reports whether it was
// sealed with a key other than the newest, so the caller should replace it
// with SealCheck's.
func (k *Keyring) VerifyCheck(value []byte) (reseal bool, err error) {
	pt, err := k.Open(value, []byte(checkPlaintext))
	if err != nil || string(pt) != checkPlaintext {
		sealer := "unknown"
		if len(value) >= 1+keyIDSize {
			sealer = fmt.Sprintf("%x", value[1:1+keyIDSize])
		}
		ids := make([]string, len(k.keys))
		for i, kk := range k.keys {
			ids[i] = fmt.Sprintf("%x", kk.id)
		}
		return false, fmt.Errorf("key check sealed with key ID %s, configured key IDs %s: %w", sealer, strings.Join(ids, ", "), ErrWrongKey)
	}
	return k.NeedsReseal(value), nil
}
