package codec

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"strings"

	"go.temporal.io/sdk/converter"
)

// DefaultMaxBodyBytes bounds a request's body: the server's default blob limit is 2 MiB per
// payload and the CLI and UI send a handful at a time; anything far larger is not a codec call.
const DefaultMaxBodyBytes = 8 << 20

// HTTPOptions configures NewHTTPHandler.
type HTTPOptions struct {
	// Token is the bearer token every /encode and /decode request must carry
	// ("Authorization: Bearer <Token>", as `temporal --codec-auth` and the Web UI's
	// "pass the access token" setting send). Empty refuses every request unless NoAuth is set.
	Token string
	// NoAuth serves without authorization: only for a codec server on loopback, for local use.
	NoAuth bool
	// AllowedOrigins lists the Web UI origins (e.g. "http://localhost:8233") whose browsers may
	// call the server (CORS), with credentials; "*" allows any origin but WITHOUT credentials (a
	// reflected origin with credentials would let any web page a user visits use their
	// session); none disables CORS (CLI only).
	AllowedOrigins []string
	// MaxBodyBytes bounds a request body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// NewHTTPHandler serves the codec over HTTP the way the Temporal CLI (--codec-endpoint,
// --codec-auth) and the Web UI (Settings → Codec Server) call it: POST {prefix}/encode and POST
// {prefix}/decode with a JSON body of Payloads.
//
// The endpoint decrypts anything an authorized caller sends: keep it on loopback or a private
// network, and keep the token secret.
func NewHTTPHandler(c *Codec, opts HTTPOptions) http.Handler {
	inner := converter.NewPayloadCodecHTTPHandler(c)
	limit := opts.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	// Compare digests so the comparison takes the same time whatever the token's length.
	want := sha256.Sum256([]byte("Bearer " + opts.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" {
			if cred, ok := corsFor(origin, opts.AllowedOrigins); ok {
				h := w.Header()
				h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
				if cred {
					h.Set("Access-Control-Allow-Origin", origin)
					h.Set("Access-Control-Allow-Credentials", "true")
					h.Add("Vary", "Origin")
				} else {
					h.Set("Access-Control-Allow-Origin", "*")
				}
			}
		}
		if r.Method == http.MethodOptions {
			// A preflight carries no credentials and reveals nothing but the CORS headers.
			w.WriteHeader(http.StatusOK)
			return
		}
		if r.Method != http.MethodPost {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if !opts.NoAuth {
			got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
			if opts.Token == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="codec"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		// Read the body whole under the limit, so an oversized one is a clear 413 and never
		// reaches the JSON decoder.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			} else {
				http.Error(w, "cannot read the request body", http.StatusBadRequest)
			}
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		inner.ServeHTTP(w, r)
	})
}

// corsFor says whether origin may call the server and whether with credentials: an origin named
// exactly gets credentials, "*" matches any origin without them.
func corsFor(origin string, allowed []string) (credentials, ok bool) {
	wildcard := false
	for _, a := range allowed {
		if a == "*" {
			wildcard = true
		} else if strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return true, true
		}
	}
	return false, wildcard
}
