package check

import (
	"testing"

	"github.com/eventguard/eventguard/internal/jsonvalue"
)

func TestLookupString(t *testing.T) {
	t.Parallel()
	doc, err := jsonvalue.ParseDoc([]byte(`{"event_type":"OrderPlaced","items":[{"sku":"A"}],"n":7}`), jsonvalue.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for ptr, want := range map[string]string{"/event_type": "OrderPlaced", "/items/0/sku": "A", "/items": "", "/n": "", "/missing": ""} {
		if got := lookupString(doc, ptr); got != want {
			t.Errorf("lookupString(%q) = %q, want %q", ptr, got, want)
		}
	}
}
