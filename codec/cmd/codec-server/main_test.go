package main

import "testing"

// The server refuses to start without a token unless told it is local, and "local" must be a
// loopback address: an empty host or 0.0.0.0 listens on every interface.
func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		addr, flagToken, envToken string
		noAuth                    bool
		ok                        bool
		token                     string
	}{
		{"127.0.0.1:8081", "", "", false, false, ""},
		{"127.0.0.1:8081", "", "e", false, true, "e"},
		{"127.0.0.1:8081", "f", "e", false, true, "f"},
		{"0.0.0.0:8081", "", "e", false, true, "e"},
		{"127.0.0.1:8081", "", "", true, true, ""},
		{"localhost:8081", "", "", true, true, ""},
		{"[::1]:8081", "", "", true, true, ""},
		{":8081", "", "", true, false, ""},
		{"0.0.0.0:8081", "", "", true, false, ""},
		{"10.0.0.5:8081", "", "", true, false, ""},
		{"127.0.0.1:8081", "", "e", true, false, ""},
	} {
		opts, err := options(tc.addr, "http://localhost:8233, *", tc.flagToken, tc.envToken, tc.noAuth, 0)
		if (err == nil) != tc.ok {
			t.Errorf("%+v: err %v", tc, err)
			continue
		}
		if err == nil && (opts.Token != tc.token || opts.NoAuth != tc.noAuth || len(opts.AllowedOrigins) != 2) {
			t.Errorf("%+v: %+v", tc, opts)
		}
	}
}
