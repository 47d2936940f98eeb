package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/eventguard/eventguard/internal/testutil"
)

// TestContractsCheckNotRegistered: `contracts check --registry` reports a
// subject the registry does not have as not registered, on its schema.json
// line without "(want ...)"; an invalid/ golden that is not JSON is a
// failure naming the file (issue 10, item 16).
func TestContractsCheckNotRegistered(t *testing.T) {
	st := testutil.Start(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"parcels-value/1/schema.json":         `{"type":"object"}`,
		"parcels-value/1/invalid/number.json": `1`,
		"pets-value/1/schema.json":            `{}`,
		"pets-value/1/invalid/trailing.json":  `{"pet_id":"x",}`,
	})
	var out, errb bytes.Buffer
	code := Main([]string{"contracts", "check", "--registry", st.RegistryURL, dir}, &out, &errb)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		`FAIL parcels-value/1/schema.json subject "parcels-value" version 1 is not registered (1 golden payloads not checked): `,
		`FAIL pets-value/1/invalid/trailing.json (want invalid) pets-value/1/invalid/trailing.json is not JSON`,
		`0 passed, 2 failed`,
	}
	if code != 1 || len(lines) != len(want) {
		t.Fatalf("exit %d, output:\n%s\n%s", code, out.String(), errb.String())
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d:\n%s\nwant it to start with\n%s", i, lines[i], w)
		}
	}
}

// TestContractsRegisterHelp: each contracts command describes its own
// --registry (issue 10, item 17).
func TestContractsRegisterHelp(t *testing.T) {
	for cmd, want := range map[string]string{
		"register": "schema registry URL to register the folder with (required)",
		"check":    "check the golden payloads against the schemas registered there",
	} {
		var out, errb bytes.Buffer
		if code := Main([]string{"contracts", cmd, "-h"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), want) {
			t.Errorf("contracts %s -h: exit %d\n%s\nwant it to say %q", cmd, code, errb.String(), want)
		}
	}
	var out, errb bytes.Buffer
	if code := Main([]string{"contracts", "register", "-h"}, &out, &errb); code != 0 || strings.Contains(errb.String(), "check:") {
		t.Errorf("register -h mentions check:\n%s", errb.String())
	}
}
