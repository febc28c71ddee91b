// Package codec encrypts Temporal payloads (workflow inputs and results, activity arguments and
// results, signals, queries, failure details) with AES-256-GCM, so that the Temporal server and
// its database only ever hold ciphertext.
//
// Keys come from the environment:
//
//	ISSUE_MODELS_CODEC_KEY       base64 of 32 random bytes: the key new payloads are encrypted with
//	                             (openssl rand -base64 32). Unset: no encryption.
//	ISSUE_MODELS_CODEC_KEY_ID    its id, stored in each payload's metadata (default "default")
//	ISSUE_MODELS_CODEC_OLD_KEYS  keys kept for decryption only, for rotation:
//	                             "id1=BASE64,id2=BASE64" (comma or whitespace separated)
//
// Rotation: make the new key current, move the old one to ISSUE_MODELS_CODEC_OLD_KEYS, and keep
// it there as long as histories encrypted with it are retained (the namespace retention period
// after the last run that used it closed).
//
// Payloads that are not encrypted (encoding other than "binary/encrypted") pass through Decode
// unchanged, so histories written before encryption was switched on stay readable.
//
// The same Codec serves the Temporal CLI (temporal workflow show --codec-endpoint URL) and the Web
// UI ("codec server" setting) over HTTP: see NewHTTPHandler and cmd/codec-server.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

// Environment variables read by FromEnv.
const (
	KeyEnv     = "ISSUE_MODELS_CODEC_KEY"
	KeyIDEnv   = "ISSUE_MODELS_CODEC_KEY_ID"
	OldKeysEnv = "ISSUE_MODELS_CODEC_OLD_KEYS"
)

// Metadata of an encrypted payload.
const (
	// Encoding marks an encrypted payload; its data is nonce || AES-256-GCM(marshalled payload).
	Encoding = "binary/encrypted"
	// MetadataKeyID names the key the payload was encrypted with.
	MetadataKeyID = "encryption-key-id"
	// MetadataCipher names the cipher.
	MetadataCipher = "encryption-cipher"
	// Cipher is the only cipher this codec writes and reads.
	Cipher = "AES256-GCM"
	// DefaultKeyID is the key id when ISSUE_MODELS_CODEC_KEY_ID is unset.
	DefaultKeyID = "default"
)

// KeySize is the AES-256 key size in bytes.
const KeySize = 32

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Codec is a converter.PayloadCodec that encrypts with the current key and decrypts with any
// known key.
type Codec struct {
	currentID string
	aeads     map[string]cipher.AEAD
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns a codec that encrypts with keys[currentID] and decrypts with any key of keys.
// Each key must be 32 bytes.
func New(currentID string, keys map[string][]byte) (*Codec, error) {
	if !keyIDPattern.MatchString(currentID) {
		return nil, fmt.Errorf("codec: key id %q must be 1-64 characters of A-Z a-z 0-9 . _ -", currentID)
	}
	if _, ok := keys[currentID]; !ok {
		return nil, fmt.Errorf("codec: no key with the current id %q", currentID)
	}
	c := &Codec{currentID: currentID, aeads: map[string]cipher.AEAD{}}
	for id, key := range keys {
		if !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("codec: key id %q must be 1-64 characters of A-Z a-z 0-9 . _ -", id)
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("codec: key %q has %d bytes, want %d (AES-256)", id, len(key), KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("codec: key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("codec: key %q: %w", id, err)
		}
		c.aeads[id] = aead
	}
	return c, nil
}

// KeyID is the id of the key new payloads are encrypted with.
func (c *Codec) KeyID() string { return c.currentID }

// FromEnv builds a codec from ISSUE_MODELS_CODEC_KEY, ISSUE_MODELS_CODEC_KEY_ID and
// ISSUE_MODELS_CODEC_OLD_KEYS. It returns (nil, nil) when ISSUE_MODELS_CODEC_KEY is unset or
// empty. Errors never contain key material.
func FromEnv() (*Codec, error) { return fromEnv(os.Getenv) }

func fromEnv(getenv func(string) string) (*Codec, error) {
	raw := strings.TrimSpace(getenv(KeyEnv))
	if raw == "" {
		if strings.TrimSpace(getenv(OldKeysEnv)) != "" {
			return nil, fmt.Errorf("codec: %s is set but %s is not: set the current key too", OldKeysEnv, KeyEnv)
		}
		return nil, nil
	}
	id := strings.TrimSpace(getenv(KeyIDEnv))
	if id == "" {
		id = DefaultKeyID
	}
	key, err := decodeKey(raw)
	if err != nil {
		return nil, fmt.Errorf("codec: %s: %w", KeyEnv, err)
	}
	keys := map[string][]byte{id: key}
	for _, entry := range strings.FieldsFunc(getenv(OldKeysEnv), func(r rune) bool {
		return r == ',' || r == ' ' || r == '\n' || r == '\t'
	}) {
		oldID, oldRaw, ok := strings.Cut(entry, "=")
		if !ok {
			return nil, fmt.Errorf("codec: %s: an entry is not of the form ID=BASE64KEY", OldKeysEnv)
		}
		if _, dup := keys[oldID]; dup {
			return nil, fmt.Errorf("codec: %s: key id %q appears twice", OldKeysEnv, oldID)
		}
		k, err := decodeKey(oldRaw)
		if err != nil {
			return nil, fmt.Errorf("codec: %s: key %q: %w", OldKeysEnv, oldID, err)
		}
		keys[oldID] = k
	}
	return New(id, keys)
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("the key decodes to %d bytes, want %d (generate one with: openssl rand -base64 32)", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("the key is not base64 (generate one with: openssl rand -base64 32)")
}

// DataConverterFromEnv returns the default data converter wrapped with the codec of FromEnv, and
// whether encryption is enabled. Without ISSUE_MODELS_CODEC_KEY it returns the default converter
// and false.
func DataConverterFromEnv() (converter.DataConverter, bool, error) {
	c, err := FromEnv()
	if err != nil {
		return nil, false, err
	}
	if c == nil {
		return converter.GetDefaultDataConverter(), false, nil
	}
	return NewDataConverter(c), true, nil
}

// ConfigureClientFromEnv sets opts' data converter from the environment (DataConverterFromEnv)
// and, when encryption is on, a failure converter that encrypts failure messages and stack
// traces too (they name projects, models and display names) and encodes error details with the
// encrypting converter. Every client that writes or reads this project's histories (worker,
// starter) must use it; it returns whether encryption is on.
//
// Decoding is compatible both ways: the SDK's default failure converter decodes encoded
// attributes when it can, and a failure written without them reads as before.
func ConfigureClientFromEnv(opts *client.Options) (bool, error) {
	dc, encrypted, err := DataConverterFromEnv()
	if err != nil {
		return false, err
	}
	opts.DataConverter = dc
	if encrypted {
		opts.FailureConverter = NewFailureConverter(dc)
	}
	return encrypted, nil
}

// NewFailureConverter is the SDK's default failure converter on dc, with the common attributes
// (message, stack trace) moved into an encoded payload: the history then says "Encoded failure".
func NewFailureConverter(dc converter.DataConverter) converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{DataConverter: dc, EncodeCommonAttributes: true})
}

// NewDataConverter wraps the default data converter with c.
func NewDataConverter(c *Codec) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// Encode encrypts each payload with the current key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	aead := c.aeads[c.currentID]
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return payloads, fmt.Errorf("codec: marshal payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return payloads, fmt.Errorf("codec: nonce: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(Encoding),
				MetadataKeyID:              []byte(c.currentID),
				MetadataCipher:             []byte(Cipher),
			},
			Data: aead.Seal(nonce, nonce, plain, additionalData(c.currentID)),
		}
	}
	return out, nil
}

// Decode decrypts encrypted payloads and passes the others through unchanged. A payload
// encrypted with an unknown key, or tampered with, is an error.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != Encoding {
			out[i] = p
			continue
		}
		if ciph := string(p.GetMetadata()[MetadataCipher]); ciph != "" && ciph != Cipher {
			return payloads, fmt.Errorf("codec: payload encrypted with unsupported cipher %q", ciph)
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.aeads[id]
		if !ok {
			return payloads, fmt.Errorf("codec: payload encrypted with unknown key id %q (add it to %s)", id, OldKeysEnv)
		}
		data := p.GetData()
		if len(data) < aead.NonceSize()+aead.Overhead() {
			return payloads, fmt.Errorf("codec: encrypted payload too short (%d bytes)", len(data))
		}
		nonce, sealed := data[:aead.NonceSize()], data[aead.NonceSize():]
		plain, err := aead.Open(nil, nonce, sealed, additionalData(id))
		if err != nil {
			return payloads, fmt.Errorf("codec: cannot decrypt a payload with key id %q: wrong key or tampered data", id)
		}
		var dec commonpb.Payload
		if err := proto.Unmarshal(plain, &dec); err != nil {
			return payloads, fmt.Errorf("codec: decrypted payload does not unmarshal: %w", err)
		}
		out[i] = &dec
	}
	return out, nil
}

// additionalData binds the ciphertext to its key id and cipher so that metadata cannot be
// swapped.
func additionalData(keyID string) []byte { return []byte(Cipher + "/" + keyID) }
