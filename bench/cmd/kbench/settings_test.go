package main

import "testing"

func TestHasSetting(t *testing.T) {
	for path, want := range map[string]bool{
		"listen.http":                  true,
		"telemetry.tracing":            true,
		"subscriptions.deliver.url":    true,
		"kafka.tls.ca_file":            true,
		"listen.nothing":               false,
		"no_such_setting.window":       false,
		"telemetry.tracing.deeper":     false,
		"subscriptions.deliver.nobody": false,
	} {
		if got := hasSetting(path); got != want {
			t.Errorf("hasSetting(%q) = %v, want %v", path, got, want)
		}
	}
}
