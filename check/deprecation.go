package check

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/validate"
)

// Notice tells a producer that the version it used is deprecated.
type Notice struct {
	Subject string
	Version int
	// Since is when the version was deprecated (zero when not declared).
	Since       time.Time
	Sunset      time.Time
	Owner       string
	Replacement *config.SubjectVersion
	// Sunsetted is true once the sunset date has passed.
	Sunsetted bool
}

// ReplacementText names the replacement version in words: "2 of
// pets-value", or "(no replacement declared)".
func (n *Notice) ReplacementText() string {
	if n.Replacement == nil {
		return "(no replacement declared)"
	}
	return fmt.Sprintf("%d of %s", n.Replacement.Version, n.Replacement.Subject)
}

type subjectVersion struct {
	subject string
	version int
}

// Deprecations checks produced versions against the declared deprecations.
// They come from two sources: the config's deprecations, and the registry's
// schema metadata properties (see MetadataSunset); for the same subject
// version the config entry wins.
type Deprecations struct {
	by  map[subjectVersion]config.Deprecation
	now func() time.Time
	log *slog.Logger

	mu     sync.Mutex
	logged map[string]time.Time // subject/version/feature → last logged
	// fromMeta caches what a schema's metadata declares (nil: nothing).
	fromMeta sync.Map // subjectVersion → *config.Deprecation
}

// Schema metadata properties that declare a deprecation in the registry.
// A version is deprecated when its metadata carries MetadataSunset.
const (
	// MetadataSunset is the sunset date, YYYY-MM-DD (UTC). Required.
	MetadataSunset = "eventguard.deprecated.sunset"
	// MetadataSince is the date the version was deprecated, YYYY-MM-DD.
	MetadataSince = "eventguard.deprecated.since"
	// MetadataOwner is who to ask (a team or a channel).
	MetadataOwner = "eventguard.deprecated.owner"
	// MetadataReplacement is the version to move to, as subject:version.
	MetadataReplacement = "eventguard.deprecated.replacement"
	// MetadataAfterSunset is warn (the default) or reject.
	MetadataAfterSunset = "eventguard.deprecated.after_sunset"
)

// FromMetadata reads a deprecation from a schema's metadata properties. It
// returns nil when props do not declare one (no MetadataSunset), and an
// error naming the property when a declared one is malformed.
func FromMetadata(subject string, version int, props map[string]string) (*config.Deprecation, error) {
	sunset, ok := props[MetadataSunset]
	if !ok {
		return nil, nil
	}
	d := &config.Deprecation{Subject: subject, Version: version, Owner: props[MetadataOwner], AfterSunset: "warn"}
	if err := d.Sunset.UnmarshalText([]byte(strings.TrimSpace(sunset))); err != nil {
		return nil, fmt.Errorf("%s version %d metadata %s: %w", subject, version, MetadataSunset, err)
	}
	if v, ok := props[MetadataSince]; ok {
		if err := d.Since.UnmarshalText([]byte(strings.TrimSpace(v))); err != nil {
			return nil, fmt.Errorf("%s version %d metadata %s: %w", subject, version, MetadataSince, err)
		}
	}
	if v, ok := props[MetadataAfterSunset]; ok {
		v = strings.TrimSpace(v)
		if v != "warn" && v != "reject" {
			return nil, fmt.Errorf("%s version %d metadata %s: want warn or reject, got %q", subject, version, MetadataAfterSunset, v)
		}
		d.AfterSunset = v
	}
	if v, ok := props[MetadataReplacement]; ok {
		i := strings.LastIndexByte(v, ':')
		n, err := strconv.Atoi(strings.TrimSpace(v[i+1:]))
		if i <= 0 || err != nil || n < 1 {
			return nil, fmt.Errorf("%s version %d metadata %s: want subject:version, got %q", subject, version, MetadataReplacement, v)
		}
		d.Replacement = &config.SubjectVersion{Subject: strings.TrimSpace(v[:i]), Version: n}
	}
	return d, nil
}

// NewDeprecations indexes ds. now is the clock (nil: time.Now).
func NewDeprecations(ds []config.Deprecation, log *slog.Logger, now func() time.Time) *Deprecations {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	d := &Deprecations{by: map[subjectVersion]config.Deprecation{}, now: now, log: log, logged: map[string]time.Time{}}
	for _, x := range ds {
		d.by[subjectVersion{x.Subject, x.Version}] = x
	}
	return d
}

// Check returns a notice when subject version is deprecated in the config
// (nil when not) and whether to reject it (sunset passed and after_sunset:
// reject). It logs each subject version once per feature and hour.
func (d *Deprecations) Check(subject string, version int, feature string) (*Notice, bool) {
	if d == nil || len(d.by) == 0 {
		return nil, false
	}
	x, ok := d.by[subjectVersion{subject, version}]
	if !ok {
		return nil, false
	}
	return d.notice(x, feature, "produced")
}

// CheckSchema is Check for a resolved schema, with its registry metadata as
// a second source of deprecations (the config wins for the same subject
// version).
func (d *Deprecations) CheckSchema(s *validate.Schema, feature string) (*Notice, bool) {
	x := d.Lookup(s)
	if x == nil {
		return nil, false
	}
	return d.notice(*x, feature, "produced")
}

// Lookup returns the deprecation declared for s, by the config or else by
// its registry metadata, or nil. It does not log.
func (d *Deprecations) Lookup(s *validate.Schema) *config.Deprecation {
	if d == nil || s == nil {
		return nil
	}
	k := subjectVersion{s.Subject, s.Version}
	if x, ok := d.by[k]; ok {
		return declared(x)
	}
	if s.Metadata == nil || len(s.Metadata.Properties) == 0 {
		return nil
	}
	if v, ok := d.fromMeta.Load(k); ok {
		return v.(*config.Deprecation)
	}
	x, err := FromMetadata(s.Subject, s.Version, s.Metadata.Properties)
	if err != nil {
		d.log.Warn("ignoring a malformed deprecation in the registry's schema metadata", "subject", s.Subject, "version", s.Version, "error", err.Error())
		x = nil
	}
	d.fromMeta.Store(k, x)
	return x
}

// LookupVersion returns the deprecation declared for subject version by the
// config, or by the registry metadata of a schema Lookup has seen; nil when
// none. It does not log. The admin page and GET /v1/catalog use it for the
// sunset of the versions in the usage catalog.
func (d *Deprecations) LookupVersion(subject string, version int) *config.Deprecation {
	if d == nil {
		return nil
	}
	k := subjectVersion{subject, version}
	if x, ok := d.by[k]; ok {
		return declared(x)
	}
	if v, ok := d.fromMeta.Load(k); ok {
		return v.(*config.Deprecation)
	}
	return nil
}

// declared returns a copy of x on the heap; allocating only on this path
// keeps the common "not deprecated" lookup allocation-free.
func declared(x config.Deprecation) *config.Deprecation { return &x }

// ConsumedSchema returns the notice for s's version when it is deprecated
// (by the config, or by its registry metadata; see Lookup), and logs its
// use by a consumer group once per group and hour: that is how ghost
// consumers show up. It returns nil when the version is not deprecated.
func (d *Deprecations) ConsumedSchema(s *validate.Schema, group string) *Notice {
	x := d.Lookup(s)
	if x == nil {
		return nil
	}
	n, _ := d.notice(*x, group, "consumed")
	return n
}

// notice builds the notice for x and logs it once per user (feature or
// group) and hour.
func (d *Deprecations) notice(x config.Deprecation, user, verb string) (*Notice, bool) {
	subject, version := x.Subject, x.Version
	now := d.now()
	n := &Notice{Subject: subject, Version: version, Since: x.Since.Time, Sunset: x.Sunset.Time, Owner: x.Owner, Replacement: x.Replacement, Sunsetted: !now.Before(x.Sunset.Time)}
	reject := n.Sunsetted && x.AfterSunset == "reject"

	who := "feature"
	if verb == "consumed" {
		who, reject = "group", false
	}
	key := fmt.Sprintf("%s\x00%d\x00%s\x00%s", subject, version, who, user)
	d.mu.Lock()
	last, seen := d.logged[key]
	if !seen || now.Sub(last) >= time.Hour {
		d.logged[key] = now
		d.mu.Unlock()
		d.log.Warn("deprecated schema version "+verb, "subject", subject, "version", version, who, user,
			"sunset", x.Sunset.Format(time.DateOnly), "owner", x.Owner, "sunset_passed", n.Sunsetted, "rejected", reject)
	} else {
		d.mu.Unlock()
	}
	return n, reject
}
