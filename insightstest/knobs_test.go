package insightstest

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

func TestParseTrainingTime(t *testing.T) {
	f, err := ParseTrainingTime("90s", 1)
	if err != nil || f() != 90*time.Second {
		t.Fatalf("fixed: %v", err)
	}
	f, err = ParseTrainingTime("uniform:1m-5m", 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if d := f(); d < time.Minute || d > 5*time.Minute {
			t.Fatalf("uniform out of range: %v", d)
		}
	}
	f, err = ParseTrainingTime("exp:5m-10m", 1)
	if err != nil {
		t.Fatal(err)
	}
	var sum time.Duration
	for i := 0; i < 1000; i++ {
		d := f()
		if d < 0 || d > 10*time.Minute {
			t.Fatalf("exp out of range: %v", d)
		}
		sum += d
	}
	if avg := sum / 1000; avg < 3*time.Minute || avg > 6*time.Minute {
		t.Fatalf("exp mean %v", avg)
	}
	if _, err := ParseTrainingTime("exp:5m", 1); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "x", "uniform:5m", "uniform:5m-1m", "exp:0s", "gauss:1m", "-1m"} {
		if _, err := ParseTrainingTime(bad, 1); err == nil {
			t.Errorf("ParseTrainingTime(%q) succeeded", bad)
		}
	}
}

func TestParseFaultAndLatency(t *testing.T) {
	m, f, err := ParseFault("CreateIssueModel:UNAVAILABLE:0.25")
	if err != nil || m != "CreateIssueModel" || f.Code != codes.Unavailable || f.Probability != 0.25 {
		t.Fatalf("%v %+v %v", m, f, err)
	}
	if _, f, err = ParseFault("*:resource_exhausted:1"); err != nil || f.Code != codes.ResourceExhausted {
		t.Fatalf("%+v %v", f, err)
	}
	if _, f, err = ParseFault("*:4:1"); err != nil || f.Code != codes.DeadlineExceeded {
		t.Fatalf("%+v %v", f, err)
	}
	for _, bad := range []string{"x", "a:NOPE:1", "a:UNAVAILABLE:2", "a:UNAVAILABLE"} {
		if _, _, err := ParseFault(bad); err == nil {
			t.Errorf("ParseFault(%q) succeeded", bad)
		}
	}
	m, f, err = ParseLatency("GetOperation:2s:0.5")
	if err != nil || m != "GetOperation" || f.Latency != 2*time.Second || f.Probability != 0.5 || f.Code != codes.OK {
		t.Fatalf("%v %+v %v", m, f, err)
	}
	if _, _, err := ParseLatency("GetOperation:soon:0.5"); err == nil {
		t.Error("bad latency accepted")
	}
}

func TestParseCancelMode(t *testing.T) {
	for in, want := range map[string]CancelMode{"": CancelHonor, "HONOR": CancelHonor, "unimplemented": CancelUnimplemented, "ignore": CancelIgnore} {
		if got, err := ParseCancelMode(in); err != nil || got != want {
			t.Errorf("ParseCancelMode(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseCancelMode("maybe"); err == nil {
		t.Error("bad mode accepted")
	}
	if _, err := NewServer(Options{CancelMode: "maybe"}); err == nil {
		t.Error("NewServer accepted a bad cancel mode")
	}
}

// A JumpClock reads as its base until a jump, then as the base plus every jump so far.
func TestJumpClock(t *testing.T) {
	base := NewFakeClock(time.Time{})
	c := NewJumpClock(base)
	t0 := c.Now()
	if !t0.Equal(base.Now()) {
		t.Fatalf("before any jump: %v, want the base's %v", t0, base.Now())
	}
	base.Advance(time.Minute)
	c.Jump(time.Hour)
	c.Jump(time.Hour)
	if d := c.Now().Sub(t0); d != 2*time.Hour+time.Minute {
		t.Fatalf("after the base moved a minute and two jumps of an hour: %v later, want 2h1m", d)
	}
}

func TestFakeAndRealClock(t *testing.T) {
	c := NewFakeClock(time.Time{})
	t0 := c.Now()
	c.Advance(time.Hour)
	c.Advance(-time.Hour)
	if c.Now().Sub(t0) != time.Hour {
		t.Fatal("FakeClock.Advance")
	}
	r := RealClock(60)
	a := r.Now()
	time.Sleep(20 * time.Millisecond)
	if d := r.Now().Sub(a); d < time.Second {
		t.Fatalf("RealClock(60) advanced %v in 20ms", d)
	}
}

func TestCloseIdempotent(t *testing.T) {
	s, err := NewServer(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Clock() == nil || s.Addr() == "" || len(s.ClientOptions()) != 3 {
		t.Fatal("accessors")
	}
	s.Close()
	s.Close()
	s.GracefulClose(time.Second)
}

func TestParseFaultReason(t *testing.T) {
	m, f, err := ParseFault("*:PERMISSION_DENIED:1:SERVICE_DISABLED")
	if err != nil || m != "*" || f.Code != codes.PermissionDenied || f.Reason != ReasonServiceDisabled {
		t.Fatalf("got %q %+v %v", m, f, err)
	}
}
