package check

import (
	"context"
	"log/slog"

	"github.com/eventguard/eventguard/rules"
	"github.com/eventguard/eventguard/validate"
)

// Resolver finds schemas; *validate.Resolver implements it.
type Resolver interface {
	// ByID returns the schema with a global id, labelled with its
	// registration under preferSubject when there is one.
	ByID(ctx context.Context, id int, preferSubject string) (*validate.Schema, error)
	// ByVersion returns version (1 or more) of subject.
	ByVersion(ctx context.Context, subject string, version int) (*validate.Schema, error)
	// Latest returns the latest version of subject.
	Latest(ctx context.Context, subject string) (*validate.Schema, error)
	// Registrations returns the subject versions schema id is registered
	// under, once ByID has loaded it; nil when unknown.
	Registrations(id int) []validate.SubjectVersion
	// RefreshRegistrations lists them again from the registry (at most
	// once a second per id): an identical schema registered under a new
	// subject gets the id it already had.
	RefreshRegistrations(ctx context.Context, id int) ([]validate.SubjectVersion, error)
}

var _ Resolver = (*validate.Resolver)(nil)

// Options wire a Checker.
type Options struct {
	// Resolver finds schemas. Required.
	Resolver Resolver
	// Deprecations are looked up for every resolved schema; nil means
	// none are declared.
	Deprecations *Deprecations
	// Logger receives what the check logs on its own (malformed
	// deprecations in registry metadata). Default: slog.Default().
	Logger *slog.Logger
	// Rules are domain rules the config adds to subjects (see
	// SubjectRules); each schema version also runs its registry ruleSet's.
	Rules []SubjectRules
	// RuleOptions bound the rules (expression length, CEL cost). Zero
	// fields take package rules' defaults.
	RuleOptions rules.Options
}

// Checker runs the contract check. It is safe for concurrent use; one
// Checker serves every path of a sidecar.
type Checker struct {
	r     Resolver
	deps  *Deprecations
	log   *slog.Logger
	rules ruleSets
}

// New returns a Checker. Compile the config's rules with
// CompileConfigRules first: a rule that does not compile is then refused
// at start rather than at the first record of its subject.
func New(o Options) *Checker {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Checker{r: o.Resolver, deps: o.Deprecations, log: o.Logger, rules: ruleSets{config: o.Rules, opts: o.RuleOptions}}
}

// Deprecations returns the deprecations the checker looks up (nil when
// none are declared).
func (c *Checker) Deprecations() *Deprecations { return c.deps }
