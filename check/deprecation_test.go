package check_test

import (
	"bytes"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/check"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/internal/testutil"
	"github.com/eventguard/eventguard/validate"
)

func TestDeprecationsCheck(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock(time.Date(2027, 3, 30, 23, 30, 0, 0, time.UTC))
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	d := check.NewDeprecations([]config.Deprecation{
		{Subject: "pets-value", Version: 1, Sunset: config.Date{Time: time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC)}, AfterSunset: "reject",
			Replacement: &config.SubjectVersion{Subject: "pets-value", Version: 2}, Owner: "team-pets"},
		{Subject: "orders-OrderPlaced", Version: 1, Sunset: config.Date{Time: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}, AfterSunset: "warn"},
	}, log, clock.Now)

	if n, reject := d.Check("pets-value", 2, "f"); n != nil || reject {
		t.Errorf("a version not declared: %+v %v", n, reject)
	}
	n, reject := d.Check("pets-value", 1, "f")
	if n == nil || reject || n.Sunsetted || n.Owner != "team-pets" || n.Replacement.Version != 2 {
		t.Errorf("before the sunset: %+v %v", n, reject)
	}
	clock.Advance(30 * time.Minute) // exactly the sunset
	if n, reject := d.Check("pets-value", 1, "f"); n == nil || !n.Sunsetted || !reject {
		t.Errorf("at the sunset: %+v %v, want rejected", n, reject)
	}
	if n, reject := d.Check("orders-OrderPlaced", 1, "f"); n == nil || !n.Sunsetted || reject {
		t.Errorf("after a warn sunset: %+v %v, want a notice only", n, reject)
	}
	// Logged once per subject version and feature per hour.
	if got := strings.Count(logs.String(), "subject=pets-value"); got != 1 {
		t.Errorf("pets-value logged %d times within the hour:\n%s", got, logs.String())
	}
	d.Check("pets-value", 1, "other-feature")
	clock.Advance(time.Hour)
	d.Check("pets-value", 1, "f")
	if got := strings.Count(logs.String(), "subject=pets-value"); got != 3 {
		t.Errorf("pets-value logged %d times, want 3 (a new feature, then an hour later)", got)
	}

	var none *check.Deprecations
	if n, reject := none.Check("pets-value", 1, "f"); n != nil || reject {
		t.Error("a nil Deprecations deprecates")
	}
}

func TestFromMetadata(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		props map[string]string
		want  string // "" means nil; else sunset/after/replacement
		err   string
	}{
		{name: "nothing declared", props: map[string]string{"owner": "x"}},
		{name: "sunset only", props: map[string]string{check.MetadataSunset: "2027-03-31"}, want: "2027-03-31 warn <nil>"},
		{name: "everything", props: map[string]string{check.MetadataSunset: " 2027-03-31 ", check.MetadataAfterSunset: "reject",
			check.MetadataReplacement: "pets-value:2", check.MetadataSince: "2026-10-01", check.MetadataOwner: "team-pets"},
			want: "2027-03-31 reject pets-value:2"},
		{name: "bad sunset", props: map[string]string{check.MetadataSunset: "March"}, err: check.MetadataSunset},
		{name: "bad after_sunset", props: map[string]string{check.MetadataSunset: "2027-03-31", check.MetadataAfterSunset: "explode"}, err: check.MetadataAfterSunset},
		{name: "bad replacement", props: map[string]string{check.MetadataSunset: "2027-03-31", check.MetadataReplacement: "pets-value"}, err: check.MetadataReplacement},
		{name: "bad since", props: map[string]string{check.MetadataSunset: "2027-03-31", check.MetadataSince: "soon"}, err: check.MetadataSince},
	}
	for _, tt := range tests {
		d, err := check.FromMetadata("pets-value", 1, tt.props)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err = %v, want it to name %s", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		got := ""
		if d != nil {
			repl := "<nil>"
			if d.Replacement != nil {
				repl = d.Replacement.Subject + ":" + strconv.Itoa(d.Replacement.Version)
			}
			got = d.Sunset.Format(time.DateOnly) + " " + d.AfterSunset + " " + repl
		}
		if got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestRegistryMetadataDeprecation: a deprecation declared in the registry's
// schema metadata, not in the config, is enforced by the pipeline.

// TestDeprecationsLookupVersion: a version's deprecation by subject and
// version, from the config, or from the registry metadata of a schema
// Lookup has seen; nil otherwise.
func TestDeprecationsLookupVersion(t *testing.T) {
	t.Parallel()
	d := check.NewDeprecations([]config.Deprecation{{Subject: "pets-value", Version: 1, Sunset: config.Date{Time: time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC)}}}, nil, nil)
	if x := d.LookupVersion("pets-value", 1); x == nil || x.Sunset.Format(time.DateOnly) != "2027-03-31" {
		t.Errorf("from the config: %+v", x)
	}
	if x := d.LookupVersion("legacy-value", 1); x != nil {
		t.Errorf("not seen yet: %+v", x)
	}
	s := &validate.Schema{Subject: "legacy-value", Version: 1, Metadata: &sr.SchemaMetadata{Properties: map[string]string{check.MetadataSunset: "2020-01-31"}}}
	d.Lookup(s)
	if x := d.LookupVersion("legacy-value", 1); x == nil || x.Sunset.Format(time.DateOnly) != "2020-01-31" {
		t.Errorf("from the metadata: %+v", x)
	}
	if x := d.LookupVersion("legacy-value", 2); x != nil {
		t.Errorf("another version: %+v", x)
	}
	var none *check.Deprecations
	if none.LookupVersion("pets-value", 1) != nil {
		t.Error("nil Deprecations")
	}
}
