package fastpath_test

import (
	"os"
	"strings"
	"testing"
)

// mirroredVersion is the jsonschema release whose validator.go, util.go
// (equals), compiler.go (what a schema's own keywords evaluate) and
// format.go the fast engine mirrors.
const mirroredVersion = "github.com/santhosh-tekuri/jsonschema/v6 v6.0.3"

// TestMirroredVersion fails when go.mod moves to another jsonschema
// release: the fast engine must then be reviewed against the new
// validator.go, util.go, compiler.go and format.go (and the differential
// tests and fuzzers run again) before the pin here is moved.
func TestMirroredVersion(t *testing.T) {
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mod), "\n") {
		if strings.TrimSpace(line) == mirroredVersion {
			return
		}
	}
	t.Fatalf("go.mod does not require %s: review validate/fastpath against the new release, then update mirroredVersion", mirroredVersion)
}
