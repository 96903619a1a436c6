// Package secrets encrypts secrets at rest (secret access keys, MFA seeds)
// under a master key, and generates the random identifiers and secrets that
// IAM hands out (access key IDs, secret access keys, unique entity IDs).
//
// A Keyring holds one or more 256-bit master keys: the newest seals, all of
// them open, so the master key can be rotated by adding a new key in front of
// the old one and re-sealing records at leisure. Ciphertexts are AES-256-GCM
// with a random nonce and carry a format version and the sealing key's ID.
// Associated data binds a ciphertext to the record it belongs to (for example
// the access key ID), so a ciphertext copied onto another record fails to open.
// A key check value (SealCheck, VerifyCheck), stored with the data, tells a
// server given the wrong master key so at start.
//
// The package is not a key-management service: it does not store records,
// schedule re-encryption or talk to an HSM.
package secrets
