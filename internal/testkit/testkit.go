// Package testkit holds the small helpers the tests of several packages share.
package testkit

import (
	"errors"
	"net"
	"testing"

	"google.golang.org/api/iterator"
)

// FreeAddr returns a local TCP address nothing listens on: a port the kernel handed out and the
// helper released again, for a server the test starts or for a dial that must fail.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// All returns every item a Google API iterator yields (pass its Next method) and fails t on
// the first error other than the end of the list.
func All[T any](t testing.TB, next func() (T, error)) []T {
	t.Helper()
	var all []T
	for {
		item, err := next()
		if errors.Is(err, iterator.Done) {
			return all
		}
		if err != nil {
			t.Fatalf("listing: %v", err)
		}
		all = append(all, item)
	}
}
