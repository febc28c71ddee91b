package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			_, _ = io.WriteString(w, "ok\n")
		case "/slow":
			<-r.Context().Done()
		default:
			http.Error(w, "no", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	for _, tc := range []struct {
		args []string
		want int
		msg  string
	}{
		{[]string{srv.URL + "/healthz"}, 0, ""},
		{[]string{srv.URL + "/down"}, 1, "503"},
		{[]string{"-timeout", "100ms", srv.URL + "/slow"}, 1, "deadline"},
		{[]string{closed.URL + "/healthz"}, 1, "refused"},
		{nil, 2, "Usage"},
		{[]string{"a", "b"}, 2, "Usage"},
	} {
		var stderr strings.Builder
		if got := run(tc.args, &stderr); got != tc.want || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("run(%q) = %d, stderr %q; want %d and %q", tc.args, got, stderr.String(), tc.want, tc.msg)
		}
	}
}
