package contracts_test

import (
	"context"
	"io/fs"
	"testing"

	"github.com/eventguard/eventguard/contracts"
	"github.com/eventguard/eventguard/examples"
	"github.com/eventguard/eventguard/validate"
)

func exampleSet(t *testing.T) *contracts.Set {
	t.Helper()
	sub, err := fs.Sub(examples.Contracts, "contracts")
	if err != nil {
		t.Fatal(err)
	}
	set, err := contracts.Load(sub)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestExampleGoldens checks every golden payload of the example contracts
// offline: valid/ passes, invalid/ fails.
func TestExampleGoldens(t *testing.T) {
	set := exampleSet(t)
	local, err := set.Local()
	if err != nil {
		t.Fatal(err)
	}
	res := validate.NewResolver(local, validate.Options{})
	outcomes := set.Check(context.Background(), res)
	if len(outcomes) < 10 {
		t.Fatalf("only %d golden payloads checked", len(outcomes))
	}
	for _, o := range outcomes {
		if !o.OK() {
			t.Errorf("%s: want valid=%v, got failure=%v err=%v", o.File, o.WantValid, o.Failure, o.Err)
		} else if o.Failure != nil {
			t.Logf("%s: %s", o.File, o.Failure.Message)
		}
	}
}
