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

func TestParseRateLimits(t *testing.T) {
	none := func(string) string { return "" }
	cfg, err := parseFlags(nil, none)
	if err != nil || cfg.taskQueueActivitiesPerSecond != 10 || cfg.pollsPerSecond != 30 || !cfg.registerSearchAttributes {
		t.Fatalf("defaults: %+v %v", cfg, err)
	}
	env := map[string]string{"TASK_QUEUE_ACTIVITIES_PER_SECOND": "2.5", "POLLS_PER_SECOND": "12", "REGISTER_SEARCH_ATTRIBUTES": "false"}
	cfg, err = parseFlags(nil, func(k string) string { return env[k] })
	if err != nil || cfg.taskQueueActivitiesPerSecond != 2.5 || cfg.pollsPerSecond != 12 || cfg.registerSearchAttributes {
		t.Fatalf("from the environment: %+v %v", cfg, err)
	}
	cfg, err = parseFlags([]string{"-polls-per-second", "7"}, func(k string) string { return env[k] })
	if err != nil || cfg.pollsPerSecond != 7 {
		t.Fatalf("flags must win over the environment: %+v %v", cfg, err)
	}
	for _, bad := range []string{"0", "-1", "fast", "NaN", "+Inf"} {
		if _, err := parseFlags([]string{"-polls-per-second", bad}, none); err == nil {
			t.Errorf("-polls-per-second %q accepted", bad)
		}
		if _, err := parseFlags(nil, func(k string) string { return map[string]string{"TASK_QUEUE_ACTIVITIES_PER_SECOND": bad}[k] }); err == nil {
			t.Errorf("TASK_QUEUE_ACTIVITIES_PER_SECOND=%q accepted", bad)
		}
	}
}

func TestParsePollers(t *testing.T) {
	none := func(string) string { return "" }
	cfg, err := parseFlags(nil, none)
	if err != nil || cfg.pollers != 0 {
		t.Fatalf("default must be autoscaling (0): %+v %v", cfg.pollers, err)
	}
	cfg, err = parseFlags(nil, func(k string) string { return map[string]string{"WORKER_POLLERS": "8"}[k] })
	if err != nil || cfg.pollers != 8 {
		t.Fatalf("WORKER_POLLERS=8: %v %v", cfg.pollers, err)
	}
	cfg, err = parseFlags([]string{"-pollers", "autoscaling"}, func(k string) string { return map[string]string{"WORKER_POLLERS": "8"}[k] })
	if err != nil || cfg.pollers != 0 {
		t.Fatalf("flags must win over the environment: %v %v", cfg.pollers, err)
	}
	for _, bad := range []string{"1", "0", "many", "-3", "5000"} {
		if _, err := parseFlags([]string{"-pollers", bad}, none); err == nil {
			t.Errorf("-pollers %q accepted", bad)
		}
	}
	if _, err := parseFlags(nil, func(k string) string { return map[string]string{"WORKER_POLLERS": "auto"}[k] }); err == nil {
		t.Error("WORKER_POLLERS=auto accepted")
	}
}
