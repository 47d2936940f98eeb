package validate

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/sr"
	"golang.org/x/sync/singleflight"

	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/internal/quote"
	"github.com/eventguard/eventguard/validate/fastpath"
)

// Errors a Resolver returns, wrapped with what was being resolved. Test them
// with errors.Is.
var (
	// ErrNotFound: the registry has no such subject, version or schema id.
	ErrNotFound = errors.New("not found in the schema registry")
	// ErrUnavailable: the registry could not be asked (down, timing out,
	// refusing our credentials) and nothing usable was cached.
	ErrUnavailable = errors.New("schema registry unavailable")
	// ErrBadSchema: the registered schema cannot be used to validate (does
	// not compile, or refers to a URL that is not a registry reference).
	ErrBadSchema = errors.New("schema cannot be used")
	// ErrRejected: the registry refused the request itself (an HTTP 4xx
	// other than 401, 403, 404, 408 and 429: a subject name it will not
	// take, a request too large). Asking again cannot help: it is the
	// asker's problem, not an outage.
	ErrRejected = errors.New("schema registry refused the request")
)

// Registry is the part of a schema registry client the resolver uses;
// *sr.Client implements it.
type Registry interface {
	SchemaByID(ctx context.Context, id int) (sr.Schema, error)
	SchemaByVersion(ctx context.Context, subject string, version int) (sr.SubjectSchema, error)
	SchemaVersionsByID(ctx context.Context, id int) ([]sr.SubjectVersion, error)
}

var _ Registry = (*sr.Client)(nil)

// Observer receives cache outcomes; telemetry implements it. kind is "id",
// "version" or "latest"; outcome is "hit", "miss", "stale" (served from cache
// after a failed refresh) or "error".
type Observer interface {
	SchemaLookup(kind, outcome string)
}

// Options configure a Resolver. The zero value means the documented defaults.
type Options struct {
	// LatestTTL is how long a subject's latest version is trusted.
	// Default: 30s.
	LatestTTL time.Duration
	// NotFoundTTL is how long a "not found" answer is remembered, so that a
	// flood of unknown ids or subjects does not flood the registry.
	// Default: 5s.
	NotFoundTTL time.Duration
	// Timeout bounds one registry call. Default: 5s.
	Timeout time.Duration
	// Limits bound the strict JSON decoder. Default: jsonvalue's defaults.
	Limits jsonvalue.Limits
	// Observer, if set, is told every cache outcome.
	Observer Observer
	// Now is the clock, for tests. Default: time.Now.
	Now func() time.Time
	// ReferenceOnly validates with jsonschema v6 alone, without the fast
	// engine (validate/fastpath). For differential tests, and a switch
	// should the fast engine ever be suspected.
	ReferenceOnly bool
}

type latestEntry struct {
	schema  *Schema
	checked time.Time
}

type versionKey struct {
	subject string
	version int
}

type subjectID struct {
	subject string
	id      int
}

// Resolver finds and compiles schemas, caching them: by id and by
// subject/version forever (the registry never changes those), a subject's
// latest version for LatestTTL. One registry call is made per miss, however
// many callers miss at once. When the registry is down, cached entries keep
// serving, stale ones included.
type Resolver struct {
	reg  Registry
	opts Options

	mu           sync.RWMutex
	compiledByID map[int]*Schema // unlabelled, shared by every label of an id
	byID         map[int]*Schema // labelled with a registration, for consume
	byVer        map[versionKey]*Schema
	// bySubjectID finds an id's registration under a given subject.
	bySubjectID map[subjectID]*Schema
	// usages are the registrations of an id, as the registry listed them
	// when ByID loaded it.
	usages map[int][]SubjectVersion
	// regsAsked is when each id's registrations were last listed
	// (RefreshRegistrations), at most maxRegistrationStamps.
	regsAsked map[int]time.Time
	latest    map[string]*latestEntry
	notFound  map[string]time.Time

	flight singleflight.Group
	// compileMu guards compiles: a jsonschema Compiler is not safe for
	// concurrent use and compiles are rare.
	compileMu sync.Mutex
}

// NewResolver returns a Resolver asking reg.
func NewResolver(reg Registry, opts Options) *Resolver {
	if opts.LatestTTL == 0 {
		opts.LatestTTL = 30 * time.Second
	}
	if opts.NotFoundTTL == 0 {
		opts.NotFoundTTL = 5 * time.Second
	}
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Resolver{
		reg:          reg,
		opts:         opts,
		compiledByID: map[int]*Schema{},
		byID:         map[int]*Schema{},
		byVer:        map[versionKey]*Schema{},
		bySubjectID:  map[subjectID]*Schema{},
		usages:       map[int][]SubjectVersion{},
		latest:       map[string]*latestEntry{},
		notFound:     map[string]time.Time{},
	}
}

func (r *Resolver) observe(kind, outcome string) {
	if r.opts.Observer != nil {
		r.opts.Observer.SchemaLookup(kind, outcome)
	}
}

// ByID returns the schema with the given global id, labelled with the subject
// and version of its first registration, or of its registration under
// preferSubject when there is one (pass "" for no preference). When
// preferSubject is not among the id's cached registrations, the registry is
// asked again (RefreshRegistrations), since an identical schema registered
// under another subject later gets the same id.
func (r *Resolver) ByID(ctx context.Context, id int, preferSubject string) (*Schema, error) {
	r.mu.RLock()
	s, ok := r.byID[id]
	r.mu.RUnlock()
	if !ok {
		r.observe("id", "miss")
		var err error
		if s, err = r.loadID(ctx, id); err != nil {
			r.observe("id", "error")
			return nil, fmt.Errorf("resolve schema id %d: %w", id, err)
		}
	} else {
		r.observe("id", "hit")
	}
	if preferSubject != "" && s.Subject != preferSubject {
		r.mu.RLock()
		l, ok := r.bySubjectID[subjectID{preferSubject, id}]
		r.mu.RUnlock()
		if !ok {
			// Registered under preferSubject after the id was cached?
			var err error
			if l, err = r.preferredRegistration(ctx, id, preferSubject); err != nil {
				r.observe("id", "error")
				return nil, fmt.Errorf("resolve schema id %d under subject %q: %w", id, preferSubject, err)
			}
		}
		if l != nil {
			s = l
		}
	}
	return s, nil
}

// Registrations returns the subject versions schema id is registered
// under, as the registry listed them when ByID loaded the id (or when
// RefreshRegistrations last asked); nil when
// ByID has not (or loaded it from a subject version while the registry was
// down). The slice must not be changed.
func (r *Resolver) Registrations(id int) []SubjectVersion {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.usages[id]
}

// ByVersion returns version (1 or more) of subject.
func (r *Resolver) ByVersion(ctx context.Context, subject string, version int) (*Schema, error) {
	k := versionKey{subject, version}
	r.mu.RLock()
	s, ok := r.byVer[k]
	r.mu.RUnlock()
	if ok {
		r.observe("version", "hit")
		return s, nil
	}
	r.observe("version", "miss")
	s, err := r.loadVersion(ctx, subject, version)
	if err != nil {
		r.observe("version", "error")
		return nil, fmt.Errorf("resolve subject %q version %d: %w", subject, version, err)
	}
	return s, nil
}

// Latest returns the latest version of subject, looking it up again once
// LatestTTL has passed. If that lookup fails for want of the registry, the
// cached version keeps serving.
func (r *Resolver) Latest(ctx context.Context, subject string) (*Schema, error) {
	now := r.opts.Now()
	r.mu.RLock()
	e, ok := r.latest[subject]
	r.mu.RUnlock()
	if ok && now.Sub(e.checked) < r.opts.LatestTTL {
		r.observe("latest", "hit")
		return e.schema, nil
	}
	r.observe("latest", "miss")
	s, err := r.loadVersion(ctx, subject, -1)
	if err != nil {
		if ok && errors.Is(err, ErrUnavailable) {
			// Keep serving what we had; try again after another TTL.
			r.observe("latest", "stale")
			r.mu.Lock()
			r.latest[subject] = &latestEntry{schema: e.schema, checked: now}
			r.mu.Unlock()
			return e.schema, nil
		}
		r.observe("latest", "error")
		return nil, fmt.Errorf("resolve latest version of subject %q: %w", subject, err)
	}
	return s, nil
}

// rememberedNotFound reports whether key was recently found missing.
func (r *Resolver) rememberedNotFound(key string) bool {
	r.mu.RLock()
	t, ok := r.notFound[key]
	r.mu.RUnlock()
	return ok && r.opts.Now().Sub(t) < r.opts.NotFoundTTL
}

func (r *Resolver) rememberNotFound(key string, err error) {
	if !errors.Is(err, ErrNotFound) {
		return
	}
	r.mu.Lock()
	if len(r.notFound) > 10000 {
		clear(r.notFound) // bounded: a flood of random ids cannot grow it without limit
	}
	r.notFound[key] = r.opts.Now()
	r.mu.Unlock()
}

func (r *Resolver) loadVersion(ctx context.Context, subject string, version int) (*Schema, error) {
	key := "v\x00" + subject + "\x00" + strconv.Itoa(version)
	if r.rememberedNotFound(key) {
		return nil, ErrNotFound
	}
	v, err, _ := r.flight.Do(key, func() (any, error) {
		// A flight that ended between our cache miss and this one may have
		// filled the cache: use it rather than asking again.
		if s := r.cachedVersion(subject, version); s != nil {
			return s, nil
		}
		if r.rememberedNotFound(key) {
			return nil, ErrNotFound
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.Timeout)
		defer cancel()
		ss, err := r.reg.SchemaByVersion(cctx, subject, version)
		if err != nil {
			err = classify(err)
			r.rememberNotFound(key, err)
			return nil, err
		}
		base, err := r.compiled(cctx, ss.ID, ss.Schema)
		if err != nil {
			return nil, err
		}
		s := base.at(ss.Subject, ss.Version)
		if ss.Schema.SchemaRuleSet != s.RuleSet || ss.Schema.SchemaMetadata != s.Metadata {
			// The registration's own metadata and rules: a registry may
			// give one id to the same schema registered with other ones.
			c := *s
			c.Metadata, c.RuleSet = ss.Schema.SchemaMetadata, ss.Schema.SchemaRuleSet
			s = &c
		}
		r.mu.Lock()
		r.byVer[versionKey{ss.Subject, ss.Version}] = s
		if _, ok := r.bySubjectID[subjectID{ss.Subject, ss.ID}]; !ok {
			r.bySubjectID[subjectID{ss.Subject, ss.ID}] = s
		}
		if version == -1 {
			// Stored inside the flight, so that no caller can miss it
			// between the end of this flight and the start of another.
			r.latest[subject] = &latestEntry{schema: s, checked: r.opts.Now()}
		}
		r.mu.Unlock()
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Schema), nil
}

func (r *Resolver) loadID(ctx context.Context, id int) (*Schema, error) {
	key := "id\x00" + strconv.Itoa(id)
	if r.rememberedNotFound(key) {
		return nil, ErrNotFound
	}
	v, err, _ := r.flight.Do(key, func() (any, error) {
		r.mu.RLock()
		s, ok := r.byID[id]
		r.mu.RUnlock()
		if ok {
			return s, nil // filled by a flight that ended after our cache miss
		}
		if r.rememberedNotFound(key) {
			return nil, ErrNotFound
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.Timeout)
		defer cancel()
		sch, err := r.reg.SchemaByID(cctx, id)
		if err != nil {
			err = classify(err)
			if s := r.registration(id); s != nil && errors.Is(err, ErrUnavailable) {
				// Compiled already through a subject version: cached
				// schemas keep serving while the registry is down.
				r.observe("id", "stale")
				return s, nil
			}
			r.rememberNotFound(key, err)
			return nil, err
		}
		s, err = r.compiled(cctx, id, sch)
		if err != nil {
			return nil, err
		}
		// Label it with where it is registered, for headers and metrics.
		usages, err := r.reg.SchemaVersionsByID(cctx, id)
		if err != nil {
			return nil, classify(err)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		labelled := s
		regs := make([]SubjectVersion, 0, len(usages))
		for i, u := range usages {
			regs = append(regs, SubjectVersion{Subject: u.Subject, Version: u.Version})
			l := s.at(u.Subject, u.Version)
			if i == 0 {
				labelled = l
			}
			if _, ok := r.byVer[versionKey{u.Subject, u.Version}]; !ok {
				r.byVer[versionKey{u.Subject, u.Version}] = l
			}
			if _, ok := r.bySubjectID[subjectID{u.Subject, id}]; !ok {
				r.bySubjectID[subjectID{u.Subject, id}] = l
			}
		}
		r.byID[id] = labelled
		r.usages[id] = regs
		r.stampRegistrations(id, r.opts.Now())
		return labelled, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Schema), nil
}

// cachedVersion returns the cached subject version (-1: the latest, while
// within LatestTTL), or nil.
func (r *Resolver) cachedVersion(subject string, version int) *Schema {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if version != -1 {
		return r.byVer[versionKey{subject, version}]
	}
	if e, ok := r.latest[subject]; ok && r.opts.Now().Sub(e.checked) < r.opts.LatestTTL {
		return e.schema
	}
	return nil
}

// registration returns a cached registration of schema id under any
// subject, or nil. It scans: it is only used while the registry is down.
func (r *Resolver) registration(id int) *Schema {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var found *Schema
	for k, s := range r.bySubjectID {
		if k.id == id && (found == nil || k.subject < found.Subject) {
			found = s
		}
	}
	return found
}

// compiled returns the compiled schema for id, compiling sch on first use.
func (r *Resolver) compiled(ctx context.Context, id int, sch sr.Schema) (*Schema, error) {
	r.mu.RLock()
	s, ok := r.compiledByID[id]
	r.mu.RUnlock()
	if ok {
		return s, nil
	}
	r.compileMu.Lock()
	defer r.compileMu.Unlock()
	switch sch.Type {
	case sr.TypeJSON:
		c, err := r.compile(ctx, id, sch)
		if err != nil {
			return nil, err
		}
		s = &Schema{ID: id, Metadata: sch.SchemaMetadata, RuleSet: sch.SchemaRuleSet, format: sr.TypeJSON, compiled: c, limits: r.opts.Limits}
		if !r.opts.ReferenceOnly {
			// The fast engine is built from the compiled schema itself, so
			// it sees exactly what the reference sees (drafts, references,
			// formats). A schema it does not support (fastpath.ErrUnsupported)
			// keeps s.fast nil: validated by the reference alone.
			s.fast, _ = fastpath.Compile(c)
		}
	case sr.TypeAvro, sr.TypeProtobuf:
		var err error
		if s, err = r.compileOther(ctx, id, sch); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: schema id %d is of type %s, which eventguard does not know", ErrBadSchema, id, sch.Type)
	}
	r.mu.Lock()
	if prev, ok := r.compiledByID[id]; ok {
		s = prev
	} else {
		r.compiledByID[id] = s
	}
	r.mu.Unlock()
	return s, nil
}

// refusingLoader fails every URL: only resources added from the registry exist.
type refusingLoader struct{}

func (refusingLoader) Load(u string) (any, error) {
	return nil, fmt.Errorf("%q is not a registry reference of this schema; eventguard never fetches URLs named in a schema", u)
}

// schemaBase is the base URL the main schema is added under when it has no
// $id; relative reference names resolve against it.
const schemaBase = "mem://registry/schemas/"

func (r *Resolver) compile(ctx context.Context, id int, sch sr.Schema) (*jsonschema.Schema, error) {
	// The same documents, under the same URLs, as compat reads
	// (resources.go): what is checked for compatibility is what validates.
	res, err := LoadResources(ctx, r.reg, id, sch)
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	c, err := res.Compiler()
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	compiled, err := c.Compile(res.Main)
	if err != nil {
		return nil, fmt.Errorf("%w: schema id %d does not compile: %v", ErrBadSchema, id, err)
	}
	if loop := refCycle(compiled); loop != "" {
		return nil, fmt.Errorf("%w: schema id %d has a reference cycle that applies to the same value and never ends: %s", ErrBadSchema, id, loop)
	}
	return compiled, nil
}

// refURLs returns the URLs a $ref naming a reference may resolve to.
func refURLs(base, name string) []string {
	u, err := url.Parse(name)
	if err == nil && u.IsAbs() {
		return []string{name}
	}
	urls := []string{}
	if b, err := url.Parse(base); err == nil {
		urls = append(urls, b.ResolveReference(u).String())
	}
	if b, _ := url.Parse(schemaBase); b != nil && base != schemaBase {
		if s := b.ResolveReference(u).String(); len(urls) == 0 || urls[0] != s {
			urls = append(urls, s)
		}
	}
	return urls
}

// classify maps a registry client error onto ErrNotFound or ErrUnavailable.
func classify(err error) error {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		switch {
		case re.StatusCode == 404:
			return fmt.Errorf("%w: %s", ErrNotFound, quote.Cut(re.Message, 256))
		case re.StatusCode == 422 && re.ErrorCode == 42202:
			return fmt.Errorf("%w: %s", ErrNotFound, quote.Cut(re.Message, 256)) // invalid version
		case re.StatusCode == 401 || re.StatusCode == 403:
			return fmt.Errorf("%w: registry refused our credentials (HTTP %d): %s", ErrUnavailable, re.StatusCode, quote.Cut(re.Message, 256))
		case re.StatusCode >= 400 && re.StatusCode < 500 && re.StatusCode != 408 && re.StatusCode != 429:
			return fmt.Errorf("%w: HTTP %d: %s", ErrRejected, re.StatusCode, quote.Cut(re.Message, 256))
		default:
			return fmt.Errorf("%w: HTTP %d: %s", ErrUnavailable, re.StatusCode, quote.Cut(re.Message, 256))
		}
	}
	return fmt.Errorf("%w: %s", ErrUnavailable, quote.Cut(err.Error(), 512))
}
