package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestRegisterApicurio409: against a real registry (Apicurio, APICURIO_URL),
// a breaking version that --allow-breaking lets past eventguard's check is
// refused by the registry itself at the subject's level, and register
// reports the registry's 409 with its message. compat --registry against
// it finds the same break first.
func TestRegisterApicurio409(t *testing.T) {
	url := os.Getenv("APICURIO_URL")
	if url == "" {
		if os.Getenv("EVENTGUARD_NEED_APICURIO") != "" {
			t.Fatal("APICURIO_URL is not set: test/run-e2e.sh runs this against Apicurio (test/registry/apicurio.sh)")
		}
		t.Skip("APICURIO_URL is not set")
	}
	subject := fmt.Sprintf("eg-register-%d", time.Now().UnixNano())
	v1 := writeContracts(t, map[string]string{subject + "/subject.yaml": "compatibility: BACKWARD\n", subject + "/1/schema.json": schemaV1})
	var out, errb bytes.Buffer
	if code := Main([]string{"contracts", "register", "--registry", url, v1}, &out, &errb); code != 0 {
		t.Fatalf("register version 1: exit %d\n%s%s", code, out.String(), errb.String())
	}
	v2 := writeContracts(t, map[string]string{subject + "/subject.yaml": "compatibility: BACKWARD\n", subject + "/1/schema.json": schemaV1, subject + "/2/schema.json": schemaV2})
	out.Reset()
	errb.Reset()
	if code := Main([]string{"contracts", "compat", "--registry", url, v2}, &out, &errb); code != 1 || !strings.Contains(out.String(), "required_added") {
		t.Fatalf("compat --registry: exit %d\n%s%s", code, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := Main([]string{"contracts", "register", "--registry", url, v2}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "nothing registered") {
		t.Fatalf("register without --allow-breaking: exit %d\n%s%s", code, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	code := Main([]string{"contracts", "register", "--allow-breaking", "--registry", url, v2}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "HTTP 409") {
		t.Fatalf("register --allow-breaking: exit %d, want 1 with the registry's 409\n%s%s", code, out.String(), errb.String())
	}
	t.Logf("the registry's refusal: %s", errb.String())
}
