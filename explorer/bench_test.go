package explorer

import (
	"testing"
	"time"
)

func BenchmarkShortRun(b *testing.B) {
	for range b.N {
		_, _, _ = Run(Schedule{Workflow: Create, CancelMode: "honor", TrainingTime: 3 * time.Minute, Timeout: 2 * time.Hour})
	}
}

func BenchmarkHourRun(b *testing.B) {
	for range b.N {
		_, _, _ = Run(Schedule{Workflow: Create, CancelMode: "honor", TrainingTime: time.Hour, Timeout: 2 * time.Hour})
	}
}
