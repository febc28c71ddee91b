package codec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func mustCodec(t *testing.T, id string, keys map[string][]byte) *Codec {
	t.Helper()
	c, err := New(id, keys)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const secretInput = `{"parent":"projects/acme/locations/us-central1","issueModel":{"displayName":"top-secret-model"}}`

func jsonPayload(t *testing.T) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(json.RawMessage(secretInput))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRoundTrip(t *testing.T) {
	c := mustCodec(t, "k1", map[string][]byte{"k1": key(1)})
	in := []*commonpb.Payload{jsonPayload(t), {Metadata: map[string][]byte{"encoding": []byte("binary/null")}}}
	enc, err := c.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range enc {
		if got := string(p.Metadata[converter.MetadataEncoding]); got != Encoding {
			t.Errorf("encoding = %q", got)
		}
		if string(p.Metadata[MetadataKeyID]) != "k1" || string(p.Metadata[MetadataCipher]) != Cipher {
			t.Errorf("metadata = %v", p.Metadata)
		}
		if bytes.Contains(p.Data, []byte("top-secret-model")) {
			t.Error("plaintext visible in the encrypted payload")
		}
	}
	dec, err := c.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if !proto.Equal(in[i], dec[i]) {
			t.Errorf("payload %d: got %v, want %v", i, dec[i], in[i])
		}
	}
	// Two encryptions of the same payload differ (random nonce).
	enc2, _ := c.Encode(in[:1])
	if bytes.Equal(enc[0].Data, enc2[0].Data) {
		t.Error("same ciphertext twice: nonce reused")
	}
}

func TestDataConverterRoundTrip(t *testing.T) {
	dc := NewDataConverter(mustCodec(t, "k1", map[string][]byte{"k1": key(1)}))
	p, err := dc.ToPayload(map[string]string{"displayName": "top-secret-model"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(p.Data, []byte("top-secret")) || string(p.Metadata["encoding"]) != Encoding {
		t.Fatalf("not encrypted: %v", p)
	}
	var out map[string]string
	if err := dc.FromPayload(p, &out); err != nil || out["displayName"] != "top-secret-model" {
		t.Fatalf("FromPayload = %v, %v", out, err)
	}
}

func TestWrongKeyFails(t *testing.T) {
	a := mustCodec(t, "k1", map[string][]byte{"k1": key(1)})
	b := mustCodec(t, "k1", map[string][]byte{"k1": key(2)})
	enc, _ := a.Encode([]*commonpb.Payload{jsonPayload(t)})
	if _, err := b.Decode(enc); err == nil || !strings.Contains(err.Error(), "wrong key or tampered") {
		t.Fatalf("decode with the wrong key: %v", err)
	}
	other := mustCodec(t, "k2", map[string][]byte{"k2": key(1)})
	if _, err := other.Decode(enc); err == nil || !strings.Contains(err.Error(), "unknown key id") {
		t.Fatalf("decode with an unknown key id: %v", err)
	}
}

func TestTamperingFails(t *testing.T) {
	c := mustCodec(t, "k1", map[string][]byte{"k1": key(1), "k0": key(1)})
	for name, mutate := range map[string]func(p *commonpb.Payload){
		"flipped ciphertext bit": func(p *commonpb.Payload) { p.Data[len(p.Data)-20] ^= 1 },
		"flipped nonce bit":      func(p *commonpb.Payload) { p.Data[0] ^= 0x80 },
		"truncated":              func(p *commonpb.Payload) { p.Data = p.Data[:10] },
		"appended byte":          func(p *commonpb.Payload) { p.Data = append(p.Data, 0) },
		// Same key bytes under another id: the key id is authenticated data.
		"swapped key id": func(p *commonpb.Payload) { p.Metadata[MetadataKeyID] = []byte("k0") },
		"other cipher":   func(p *commonpb.Payload) { p.Metadata[MetadataCipher] = []byte("AES128-CBC") },
	} {
		t.Run(name, func(t *testing.T) {
			enc, _ := c.Encode([]*commonpb.Payload{jsonPayload(t)})
			mutate(enc[0])
			if _, err := c.Decode(enc); err == nil {
				t.Fatal("tampered payload decoded")
			}
		})
	}
}

func TestUnencryptedPassThrough(t *testing.T) {
	c := mustCodec(t, "k1", map[string][]byte{"k1": key(1)})
	in := []*commonpb.Payload{jsonPayload(t), {Metadata: map[string][]byte{"encoding": []byte("binary/plain")}, Data: []byte("x")}, {}}
	out, err := c.Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if !proto.Equal(in[i], out[i]) {
			t.Errorf("payload %d changed: %v", i, out[i])
		}
	}
}

func TestRotation(t *testing.T) {
	old := mustCodec(t, "2026-01", map[string][]byte{"2026-01": key(1)})
	enc, _ := old.Encode([]*commonpb.Payload{jsonPayload(t)})
	t.Setenv(KeyEnv, b64(key(2)))
	t.Setenv(KeyIDEnv, "2026-06")
	t.Setenv(OldKeysEnv, "2026-01="+b64(key(1)))
	c, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.KeyID() != "2026-06" {
		t.Errorf("KeyID = %q", c.KeyID())
	}
	if _, err := c.Decode(enc); err != nil {
		t.Fatalf("old payload after rotation: %v", err)
	}
	fresh, _ := c.Encode([]*commonpb.Payload{jsonPayload(t)})
	if string(fresh[0].Metadata[MetadataKeyID]) != "2026-06" {
		t.Errorf("new payloads use key %q", fresh[0].Metadata[MetadataKeyID])
	}
}

func TestFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if c, err := fromEnv(env(nil)); c != nil || err != nil {
		t.Fatalf("unset: %v %v", c, err)
	}
	c, err := fromEnv(env(map[string]string{KeyEnv: b64(key(3))}))
	if err != nil || c.KeyID() != DefaultKeyID {
		t.Fatalf("default id: %v %v", c, err)
	}
	secret := b64(key(9)[:16])
	for name, m := range map[string]map[string]string{
		"short key":         {KeyEnv: secret},
		"not base64":        {KeyEnv: "not base64!!"},
		"bad id":            {KeyEnv: b64(key(3)), KeyIDEnv: "a b"},
		"old without new":   {OldKeysEnv: "x=" + b64(key(1))},
		"old malformed":     {KeyEnv: b64(key(3)), OldKeysEnv: b64(key(1))},
		"old duplicate id":  {KeyEnv: b64(key(3)), OldKeysEnv: "default=" + b64(key(1))},
		"old key too short": {KeyEnv: b64(key(3)), OldKeysEnv: "x=" + secret},
	} {
		_, err := fromEnv(env(m))
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), b64(key(3))) || strings.Contains(err.Error(), b64(key(1))) {
			t.Errorf("%s: the error leaks key material: %v", name, err)
		}
	}
}

func TestDataConverterFromEnv(t *testing.T) {
	t.Setenv(KeyEnv, "")
	dc, enabled, err := DataConverterFromEnv()
	if err != nil || enabled || dc != converter.GetDefaultDataConverter() {
		t.Fatalf("disabled: %v %v %v", dc, enabled, err)
	}
	t.Setenv(KeyEnv, b64(key(4)))
	dc, enabled, err = DataConverterFromEnv()
	if err != nil || !enabled {
		t.Fatalf("enabled: %v %v", enabled, err)
	}
	p, _ := dc.ToPayload("x")
	if string(p.Metadata["encoding"]) != Encoding {
		t.Errorf("not encrypted: %v", p.Metadata)
	}
	t.Setenv(KeyEnv, "short")
	if _, _, err := DataConverterFromEnv(); err == nil {
		t.Error("bad key accepted")
	}
}

// TestHTTPHandler speaks the protocol of the CLI's --codec-endpoint and the Web UI.
func TestHTTPHandler(t *testing.T) {
	c := mustCodec(t, "k1", map[string][]byte{"k1": key(1)})
	srv := httptest.NewServer(NewHTTPHandler(c, HTTPOptions{Token: "s3cret", AllowedOrigins: []string{"http://localhost:8233"}}))
	defer srv.Close()
	remote := converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{Endpoint: srv.URL,
		ModifyRequest: func(r *http.Request) error { r.Header.Set("Authorization", "Bearer s3cret"); return nil }})
	in := []*commonpb.Payload{jsonPayload(t)}
	enc, err := remote.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(enc[0].Metadata["encoding"]) != Encoding {
		t.Fatalf("remote encode: %v", enc[0].Metadata)
	}
	dec, err := remote.Decode(enc)
	if err != nil || !proto.Equal(dec[0], in[0]) {
		t.Fatalf("remote decode: %v %v", dec, err)
	}
	// A payload sealed with another key is refused with 400, not echoed.
	other := mustCodec(t, "k1", map[string][]byte{"k1": key(2)})
	bad, _ := other.Encode(in)
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: bad})
	if code, _ := post(t, srv.URL+"/decode", "Bearer s3cret", body); code != http.StatusBadRequest {
		t.Errorf("decode with the wrong key: HTTP %d, want 400", code)
	}
	// CORS preflight from the Web UI's origin.
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
	req.Header.Set("Origin", "http://localhost:8233")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "http://localhost:8233" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "X-Namespace") {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	req.Header.Set("Origin", "http://evil.example")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS allowed a foreign origin")
	}
}

// post sends body as JSON with the Authorization header auth (none if empty) and returns the
// answer's status code and body; a request that gets no answer fails the test.
func post(t *testing.T, url, auth string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// The codec server decrypts whatever it is sent: without the bearer token it answers 401 and
// decrypts nothing; with no token configured it refuses everyone unless NoAuth says otherwise.
func TestHTTPHandlerRequiresToken(t *testing.T) {
	c := mustCodec(t, "k1", map[string][]byte{"k1": key(1)})
	enc, _ := c.Encode([]*commonpb.Payload{jsonPayload(t)})
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: enc})
	for _, tc := range []struct {
		name string
		opts HTTPOptions
		auth string
		want int
	}{
		{"no header", HTTPOptions{Token: "s3cret"}, "", http.StatusUnauthorized},
		{"wrong token", HTTPOptions{Token: "s3cret"}, "Bearer guess", http.StatusUnauthorized},
		{"token without Bearer", HTTPOptions{Token: "s3cret"}, "s3cret", http.StatusUnauthorized},
		{"right token", HTTPOptions{Token: "s3cret"}, "Bearer s3cret", http.StatusOK},
		{"no token configured", HTTPOptions{}, "Bearer ", http.StatusUnauthorized},
		{"auth disabled for local use", HTTPOptions{NoAuth: true}, "", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(NewHTTPHandler(c, tc.opts))
			defer srv.Close()
			code, out := post(t, srv.URL+"/decode", tc.auth, body)
			if code != tc.want {
				t.Fatalf("HTTP %d, want %d (%s)", code, tc.want, out)
			}
			if tc.want != http.StatusOK && bytes.Contains(out, []byte("payloads")) {
				t.Fatalf("refused request still answered payloads: %s", out)
			}
		})
	}
}

// A body over the limit is refused with 413 before it is decoded.
func TestHTTPHandlerBodyLimit(t *testing.T) {
	c := mustCodec(t, "k1", map[string][]byte{"k1": key(1)})
	srv := httptest.NewServer(NewHTTPHandler(c, HTTPOptions{NoAuth: true, MaxBodyBytes: 1024}))
	defer srv.Close()
	big := &commonpb.Payloads{Payloads: []*commonpb.Payload{{Data: bytes.Repeat([]byte("x"), 4096)}}}
	body, _ := protojson.Marshal(big)
	if code, _ := post(t, srv.URL+"/encode", "", body); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("HTTP %d for a 4 KiB body over a 1 KiB limit, want 413", code)
	}
	small, _ := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{jsonPayload(t)}})
	if code, out := post(t, srv.URL+"/encode", "", small); code != http.StatusOK {
		t.Fatalf("small body: HTTP %d (%s)", code, out)
	}
}

// "*" lets any origin call without credentials; it never reflects an origin with
// Access-Control-Allow-Credentials, which would let any page the user opens decrypt through their
// session.
func TestHTTPHandlerWildcardHasNoCredentials(t *testing.T) {
	c := mustCodec(t, "k1", map[string][]byte{"k1": key(1)})
	srv := httptest.NewServer(NewHTTPHandler(c, HTTPOptions{Token: "s3cret", AllowedOrigins: []string{"*", "http://localhost:8233"}}))
	defer srv.Close()
	preflight := func(origin string) http.Header {
		req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header
	}
	h := preflight("http://evil.example")
	if h.Get("Access-Control-Allow-Origin") != "*" || h.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("wildcard for a foreign origin: %v", h)
	}
	h = preflight("http://localhost:8233")
	if h.Get("Access-Control-Allow-Origin") != "http://localhost:8233" || h.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("named origin: %v", h)
	}
}

// With encryption on, a failure's message, stack trace and details leave the client encrypted:
// nothing of the plaintext is in the failure the server stores, and the client reads it back.
func TestConfigureClientFromEnvEncryptsFailures(t *testing.T) {
	t.Setenv(KeyEnv, "")
	var opts client.Options
	if enabled, err := ConfigureClientFromEnv(&opts); err != nil || enabled || opts.FailureConverter != nil ||
		opts.DataConverter != converter.GetDefaultDataConverter() {
		t.Fatalf("disabled: %v %+v", err, opts)
	}
	t.Setenv(KeyEnv, b64(key(5)))
	opts = client.Options{}
	enabled, err := ConfigureClientFromEnv(&opts)
	if err != nil || !enabled || opts.FailureConverter == nil {
		t.Fatalf("enabled: %v %v %+v", enabled, err, opts)
	}
	const secret = "projects/acme/locations/us/issueModels/top-secret-model"
	in := temporal.NewNonRetryableApplicationError("GetIssueModel: NotFound: "+secret, "NotFound", nil, secret+" detail")
	f := opts.FailureConverter.ErrorToFailure(in)
	raw, _ := proto.Marshal(f)
	if bytes.Contains(raw, []byte("top-secret-model")) || f.GetMessage() != "Encoded failure" {
		t.Fatalf("the stored failure holds plaintext: %v", f)
	}
	if got := string(f.GetEncodedAttributes().GetMetadata()["encoding"]); got != Encoding {
		t.Fatalf("encoded attributes not encrypted: %q", got)
	}
	if f.GetApplicationFailureInfo().GetType() != "NotFound" || !f.GetApplicationFailureInfo().GetNonRetryable() {
		t.Fatalf("type or retryability lost: %v", f.GetApplicationFailureInfo())
	}
	out := opts.FailureConverter.FailureToError(f)
	var appErr *temporal.ApplicationError
	var detail string
	if !errors.As(out, &appErr) || !strings.Contains(appErr.Error(), secret) || appErr.Details(&detail) != nil || detail != secret+" detail" {
		t.Fatalf("round trip: %v (detail %q)", out, detail)
	}
}
