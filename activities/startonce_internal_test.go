package activities

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The record a pipeline start's attempt reads is written by the previous attempt, possibly of
// another release: a record without ambiguousEnd (today's main, before ListLagGrace) or no
// record at all means "may have committed, time unknown", read as "failed just now".
func TestReadAttemptsTakesAnUnknownTimeAsNow(t *testing.T) {
	now := time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)
	earlier := now.Add(-time.Minute)
	decode := func(s string) *startAttempts {
		var r startAttempts
		require.NoError(t, json.Unmarshal([]byte(s), &r))
		return &r
	}
	for _, c := range []struct {
		name    string
		attempt int32
		rec     *startAttempts
		look    bool
		end     time.Time
	}{
		{"first attempt", 1, nil, false, time.Time{}},
		{"no record: the previous attempt died", 2, nil, true, now},
		{"a gap: attempt 2 recorded nothing", 3, decode(`{"attempt":1,"mayHaveCommitted":false}`), true, now},
		{"refusals only", 3, decode(`{"attempt":2,"mayHaveCommitted":false}`), false, time.Time{}},
		{"old release's record", 3, decode(`{"attempt":2,"mayHaveCommitted":true}`), true, now},
		{"this release's record", 3, decode(`{"attempt":2,"mayHaveCommitted":true,"ambiguousEnd":"` + earlier.Format(time.RFC3339Nano) + `"}`), true, earlier},
	} {
		look, end := readAttempts(c.attempt, c.rec, now)
		require.Equal(t, c.look, look, c.name)
		require.True(t, c.end.Equal(end), "%s: ambiguousEnd %v, want %v", c.name, end, c.end)
	}
}

// A record of this release reads the way an older release expects: the new field is only added.
func TestStartAttemptsRecordKeepsTheOldFields(t *testing.T) {
	b, err := json.Marshal(startAttempts{Attempt: 2, MayHaveCommitted: true, AmbiguousEnd: time.Unix(0, 0).UTC()})
	require.NoError(t, err)
	var old struct {
		Attempt          int32 `json:"attempt"`
		MayHaveCommitted bool  `json:"mayHaveCommitted"`
	}
	require.NoError(t, json.Unmarshal(b, &old))
	require.Equal(t, int32(2), old.Attempt)
	require.True(t, old.MayHaveCommitted)
}

// The grace is the API's time: an emulator whose clock runs faster shortens it in the worker's.
func TestListLagGraceFollowsAPITimeScale(t *testing.T) {
	require.Equal(t, ListLagGrace, (&Activities{}).listLag())
	require.Equal(t, 2*time.Second, (&Activities{APITimeScale: 60}).listLag())
}
