package testkit

import (
	"errors"
	"net"
	"testing"

	"google.golang.org/api/iterator"
)

func TestFreeAddrIsFree(t *testing.T) {
	addr := FreeAddr(t)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on the free address %s: %v", addr, err)
	}
	l.Close()
}

// lister yields items, then ends with end.
func lister(items []int, end error) func() (int, error) {
	return func() (int, error) {
		if len(items) == 0 {
			return 0, end
		}
		next := items[0]
		items = items[1:]
		return next, nil
	}
}

func TestAllCollectsUntilDone(t *testing.T) {
	got := All(t, lister([]int{1, 2, 3}, iterator.Done))
	if len(got) != 3 || got[0] != 1 || got[2] != 3 {
		t.Fatalf("All = %v, want [1 2 3]", got)
	}
}

// recorder is a testing.TB that records a Fatalf instead of ending the test.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(string, ...any) {
	r.failed = true
	panic(r)
}

func TestAllFailsOnAnError(t *testing.T) {
	r := &recorder{TB: t}
	func() {
		defer func() {
			if p := recover(); p != nil && p != r {
				panic(p)
			}
		}()
		All(r, lister([]int{1}, errors.New("unavailable")))
	}()
	if !r.failed {
		t.Fatal("All did not fail the test on an iterator error")
	}
}
