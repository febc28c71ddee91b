package main

import (
	"testing"
	"time"
)

func TestParseFlagsFromEnvAndFlags(t *testing.T) {
	env := map[string]string{"TEMPORAL_TASK_QUEUE": "q-env", "LOG_LEVEL": "debug", "METRICS_ADDR": "127.0.0.1:9464"}
	cfg, err := parseFlags(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.taskQueue != "q-env" || cfg.logLevel != "debug" || cfg.metricsAddr != "127.0.0.1:9464" || cfg.stopTimeout != 10*time.Second {
		t.Fatalf("cfg = %+v", cfg)
	}
	cfg, err = parseFlags([]string{"-task-queue", "q-flag", "-metrics-addr", ""}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.taskQueue != "q-flag" || cfg.metricsAddr != "" {
		t.Fatalf("flags must win over the environment: %+v", cfg)
	}
	cfg, err = parseFlags(nil, func(string) string { return "" })
	if err != nil || cfg.taskQueue != "issue-models" || cfg.metricsAddr != "" {
		t.Fatalf("defaults: %+v %v", cfg, err)
	}
	if _, err := parseFlags([]string{"-task-queue", ""}, func(string) string { return "" }); err == nil {
		t.Fatal("an empty task queue must be refused")
	}
	if _, err := newLogger("loud", "json"); err == nil {
		t.Fatal("a bad log level must be refused")
	}
}
