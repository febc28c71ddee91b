package codec

import (
	"net/http"
	"strings"

	"go.temporal.io/sdk/converter"
)

// NewHTTPHandler serves the codec over HTTP the way the Temporal CLI (--codec-endpoint) and the
// Web UI (Settings → Codec Server) call it: POST {prefix}/encode and POST {prefix}/decode with a
// JSON body of Payloads. allowedOrigins lists the Web UI origins (e.g. "http://localhost:8233")
// whose browsers may call it (CORS); "*" allows any origin; none disables CORS (CLI only).
//
// The endpoint decrypts anything it is given: bind it to loopback or put it behind
// authentication, never expose it publicly.
func NewHTTPHandler(c *Codec, allowedOrigins ...string) http.Handler {
	inner := converter.NewPayloadCodecHTTPHandler(c)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && originAllowed(origin, allowedOrigins) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusOK)
			return
		}
		inner.ServeHTTP(w, r)
	})
}

func originAllowed(origin string, allowed []string) bool {
	for _, a := range allowed {
		if a == "*" || strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return true
		}
	}
	return false
}
