package produce

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/eventguard/eventguard/config"
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

func (n *Notice) replacementText() string {
	if n.Replacement == nil {
		return "(no replacement declared)"
	}
	return fmt.Sprintf("%d of %s", n.Replacement.Version, n.Replacement.Subject)
}

func (r *Response) addNotice(n Notice) {
	for _, m := range r.Deprecations {
		if m.Subject == n.Subject && m.Version == n.Version {
			return
		}
	}
	r.Deprecations = append(r.Deprecations, n)
}

type subjectVersion struct {
	subject string
	version int
}

// Deprecations checks produced versions against the declared deprecations.
type Deprecations struct {
	by  map[subjectVersion]config.Deprecation
	now func() time.Time
	log *slog.Logger

	mu     sync.Mutex
	logged map[string]time.Time // subject/version/feature → last logged
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

// Check returns a notice when subject version is deprecated (nil when not)
// and whether to reject it (sunset passed and after_sunset: reject). It logs
// each subject version once per feature and hour.
func (d *Deprecations) Check(subject string, version int, feature string) (*Notice, bool) {
	if d == nil || len(d.by) == 0 {
		return nil, false
	}
	x, ok := d.by[subjectVersion{subject, version}]
	if !ok {
		return nil, false
	}
	now := d.now()
	n := &Notice{Subject: subject, Version: version, Since: x.Since.Time, Sunset: x.Sunset.Time, Owner: x.Owner, Replacement: x.Replacement, Sunsetted: !now.Before(x.Sunset.Time)}
	reject := n.Sunsetted && x.AfterSunset == "reject"

	key := fmt.Sprintf("%s\x00%d\x00%s", subject, version, feature)
	d.mu.Lock()
	last, seen := d.logged[key]
	if !seen || now.Sub(last) >= time.Hour {
		d.logged[key] = now
		d.mu.Unlock()
		d.log.Warn("deprecated schema version produced", "subject", subject, "version", version, "feature", feature,
			"sunset", x.Sunset.Format(time.DateOnly), "owner", x.Owner, "sunset_passed", n.Sunsetted, "rejected", reject)
	} else {
		d.mu.Unlock()
	}
	return n, reject
}
