package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/eventguard/eventguard/catalog"
	"github.com/eventguard/eventguard/compat"
	avrocompat "github.com/eventguard/eventguard/compat/avro"
	protocompat "github.com/eventguard/eventguard/compat/protobuf"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/contracts"
	"github.com/eventguard/eventguard/validate"
	vprotobuf "github.com/eventguard/eventguard/validate/protobuf"
)

const compatUsage = `usage: eventguard contracts compat [--registry URL] [--level LEVEL] [--lenient]
       [--catalog URL ...] [--config FILE ...] [--format text|json|github|junit] DIR

Without --registry, compares each subject's newest version in DIR with the one
before it (every earlier one for a *_TRANSITIVE level). With --registry,
compares each version in DIR the registry does not hold yet with what the
registry holds for that subject. The level is subject.yaml's compatibility,
else --level, else BACKWARD. Exit 0 compatible, 1 breaking, 2 usage or input
error.
`

// compatFlags are the flags contracts compat and register share.
type compatFlags struct {
	level    *string
	lenient  *bool
	catalogs stringList
	configs  stringList
	timeout  *time.Duration
}

func addCompatFlags(fs *flag.FlagSet) *compatFlags {
	f := &compatFlags{
		level:   fs.String("level", "", "compatibility level for subjects whose subject.yaml sets none (default BACKWARD)"),
		lenient: fs.Bool("lenient", false, "treat adding an optional property to an open content model as compatible"),
		timeout: fs.Duration("timeout", 10*time.Second, "timeout for each catalog fetch"),
	}
	fs.Var(&f.catalogs, "catalog", "a running sidecar's admin URL or /v1/catalog URL, or a saved catalog file: its consumers (repeatable)")
	fs.Var(&f.configs, "config", "a sidecar config file: its subscriptions are consumers (repeatable)")
	return f
}

// compatRun is one compatibility check of a contracts folder.
type compatRun struct {
	set     *contracts.Set
	dir     string
	results []*compat.Result
	// single lists subjects with one version only (nothing to compare).
	single []string
	// folderVersion maps (subject, version as compared) to the folder's
	// version number, for file names; registry-only versions are absent.
	folderVersion map[svKey]int
	lenient       bool
	consumers     *consumerIndex
}

type svKey struct {
	subject string
	version int
}

func (r *compatRun) breaking() bool {
	for _, res := range r.results {
		if !res.Compatible {
			return true
		}
	}
	return false
}

// checkFolder compares the folder's versions with each other (reg nil) or
// with what registry cl holds.
func checkFolder(ctx context.Context, set *contracts.Set, dir string, cl *sr.Client, f *compatFlags) (*compatRun, error) {
	def, err := compat.ParseLevel(*f.level)
	if err != nil {
		return nil, err
	}
	run := &compatRun{set: set, dir: dir, lenient: *f.lenient, folderVersion: map[svKey]int{}}
	run.consumers, err = loadConsumers(ctx, set, f)
	if err != nil {
		return nil, err
	}
	var reg validate.Registry
	type todo struct {
		subject string
		to      int
		level   compat.Level
	}
	var plan []todo
	levelOf := func(sub *contracts.Subject) compat.Level {
		if sub.Compatibility != "" {
			l, _ := compat.ParseLevel(sub.Compatibility)
			return l
		}
		return def
	}
	if cl == nil {
		local, err := set.Local()
		if err != nil {
			return nil, err
		}
		reg = local
		for _, sub := range set.Subjects {
			n := len(sub.Versions)
			for _, v := range sub.Versions {
				run.folderVersion[svKey{sub.Name, v.Version}] = v.Version
			}
			if n < 2 {
				run.single = append(run.single, sub.Name)
				continue
			}
			plan = append(plan, todo{sub.Name, n, levelOf(sub)})
		}
	} else {
		ov, err := newOverlay(ctx, cl, set)
		if err != nil {
			return nil, err
		}
		reg = ov
		for k, v := range ov.folder {
			run.folderVersion[svKey{k.subject, v}] = k.version
		}
		for _, sub := range set.Subjects {
			for _, to := range ov.added[sub.Name] {
				plan = append(plan, todo{sub.Name, to, levelOf(sub)})
			}
			if len(ov.added[sub.Name]) == 0 {
				run.single = append(run.single, sub.Name+" (the registry holds every version)")
			} else if ov.added[sub.Name][0] == 1 && len(ov.added[sub.Name]) == 1 {
				run.single = append(run.single, sub.Name+" (new subject)")
			}
		}
	}
	checker := &compat.Checker{Registry: reg, Lenient: *f.lenient, Engines: map[sr.SchemaType]compat.Engine{
		sr.TypeJSON: compat.JSONSchema{},
		sr.TypeAvro: avrocompat.Engine{},
		// The validator's own compiler: buf/validate and the well-known
		// types are built in, as they are when eventguard validates.
		sr.TypeProtobuf: protocompat.Engine{Compile: func(ctx context.Context, schema string, refs map[string]string) (protoreflect.FileDescriptor, error) {
			s, err := vprotobuf.Compile(ctx, schema, refs)
			if err != nil {
				return nil, err
			}
			return s.File(), nil
		}},
	}}
	for _, t := range plan {
		for _, p := range compat.Plan(t.level, t.to) {
			res, err := checker.Compare(ctx, t.subject, p[0], p[1], t.level)
			if err != nil {
				var files []string
				for _, v := range p {
					if f := run.schemaFile(t.subject, v); f != "" {
						files = append(files, f)
					}
				}
				if len(files) > 0 {
					return nil, fmt.Errorf("%s: %w", strings.Join(files, ", "), err)
				}
				return nil, err
			}
			for i := range res.Findings {
				res.Findings[i].Consumers = run.consumers.of(t.subject, res.Findings[i].BreaksVersion)
			}
			run.results = append(run.results, res)
		}
	}
	return run, nil
}

func cmdContractsCompat(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("contracts compat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, compatUsage); fs.PrintDefaults() }
	registry := fs.String("registry", "", "schema registry URL: check the versions it does not hold yet against what it holds")
	format := fs.String("format", "text", "output: text, json, github or junit")
	f := addCompatFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return exitCode(2)
	}
	if fs.NArg() > 1 {
		fmt.Fprint(stderr, compatUsage)
		return exitCode(2)
	}
	switch *format {
	case "text", "json", "github", "junit":
	default:
		fmt.Fprintf(stderr, "eventguard: --format %q: want text, json, github or junit\n", *format)
		return exitCode(2)
	}
	fail := func(err error) error {
		fmt.Fprintf(stderr, "eventguard: %v\n", err)
		return exitCode(2)
	}
	dir := fs.Arg(0)
	set, err := loadContracts(dir)
	if err != nil {
		return fail(err)
	}
	var cl *sr.Client
	if *registry != "" {
		if cl, err = validate.NewRegistryClient(registryConfig(*registry)); err != nil {
			return fail(err)
		}
	}
	run, err := checkFolder(ctx, set, dir, cl, f)
	if err != nil {
		return fail(err)
	}
	if err := writeCompat(stdout, run, *format); err != nil {
		return fail(err)
	}
	if run.breaking() {
		return exitCode(1)
	}
	return nil
}

// overlay serves a registry's versions with a folder's new versions added
// after them, so that the new versions compile (references included) and
// compare as if registered.
type overlay struct {
	base  validate.Registry
	extra map[string][]sr.SubjectSchema // subject → versions after the registry's
	held  map[string]int                // subject → the registry's version count
	byID  map[int]sr.SubjectSchema
	// folder maps a folder version to its number in the overlay.
	folder map[svKey]int
	// added lists each subject's new versions, in the overlay's numbers.
	added map[string][]int
}

var _ validate.Registry = (*overlay)(nil)

// overlayIDs start far above any real registry id.
const overlayIDs = 1 << 30

func newOverlay(ctx context.Context, cl *sr.Client, set *contracts.Set) (*overlay, error) {
	o := &overlay{base: cl, extra: map[string][]sr.SubjectSchema{}, held: map[string]int{}, byID: map[int]sr.SubjectSchema{}, folder: map[svKey]int{}, added: map[string][]int{}}
	ordered, err := set.Ordered()
	if err != nil {
		return nil, err
	}
	// The folder's own registry view knows each version's schema type.
	local, err := set.Local()
	if err != nil {
		return nil, err
	}
	for _, sub := range set.Subjects {
		vs, err := cl.SubjectVersions(ctx, sub.Name)
		if err != nil {
			var re *sr.ResponseError
			if !errors.As(err, &re) || re.StatusCode != http.StatusNotFound {
				return nil, fmt.Errorf("read versions of subject %q from the registry: %w", sub.Name, err)
			}
			vs = nil
		}
		o.held[sub.Name] = len(vs)
		if len(vs) > 0 {
			o.held[sub.Name] = vs[len(vs)-1]
		}
	}
	for _, v := range ordered {
		refs := make([]sr.SchemaReference, len(v.References))
		for i, r := range v.References {
			refs[i] = r
			if n, ok := o.folder[svKey{r.Subject, r.Version}]; ok {
				refs[i].Version = n
			}
		}
		own, err := local.SchemaByVersion(ctx, v.Subject, v.Version)
		if err != nil {
			return nil, err
		}
		sch := sr.Schema{Schema: own.Schema.Schema, Type: own.Schema.Type, References: refs}
		if o.held[v.Subject] > 0 {
			ss, err := cl.LookupSchema(ctx, v.Subject, sch)
			if err == nil {
				o.folder[svKey{v.Subject, v.Version}] = ss.Version
				continue
			}
			var re *sr.ResponseError
			if !errors.As(err, &re) || re.StatusCode != http.StatusNotFound {
				return nil, fmt.Errorf("look up subject %q version %d in the registry: %w", v.Subject, v.Version, err)
			}
		}
		n := o.held[v.Subject] + len(o.extra[v.Subject]) + 1
		ss := sr.SubjectSchema{Subject: v.Subject, Version: n, ID: overlayIDs + len(o.byID), Schema: sch}
		o.extra[v.Subject] = append(o.extra[v.Subject], ss)
		o.byID[ss.ID] = ss
		o.folder[svKey{v.Subject, v.Version}] = n
		o.added[v.Subject] = append(o.added[v.Subject], n)
	}
	return o, nil
}

func (o *overlay) SchemaByID(ctx context.Context, id int) (sr.Schema, error) {
	if ss, ok := o.byID[id]; ok {
		return ss.Schema, nil
	}
	return o.base.SchemaByID(ctx, id)
}

func (o *overlay) SchemaByVersion(ctx context.Context, subject string, version int) (sr.SubjectSchema, error) {
	extra := o.extra[subject]
	if version == -1 && len(extra) > 0 {
		return extra[len(extra)-1], nil
	}
	if h := o.held[subject]; version > h && version-h <= len(extra) {
		return extra[version-h-1], nil
	}
	return o.base.SchemaByVersion(ctx, subject, version)
}

func (o *overlay) SchemaVersionsByID(ctx context.Context, id int) ([]sr.SubjectVersion, error) {
	if ss, ok := o.byID[id]; ok {
		return []sr.SubjectVersion{{Subject: ss.Subject, Version: ss.Version}}, nil
	}
	return o.base.SchemaVersionsByID(ctx, id)
}

// consumerIndex knows who reads which subject version, from subject.yaml,
// sidecar configs and live catalogs.
type consumerIndex struct {
	registered map[string][]contracts.Consumer
	// topics maps a subject to the config subscriptions reading its topic.
	subscriptions []subscriptionRef
	catalog       *catalog.Snapshot
	now           time.Time
}

type subscriptionRef struct {
	name, group, topic, file string
}

// compatNow is the clock for "seen ... ago"; tests set it.
var compatNow = time.Now

func loadConsumers(ctx context.Context, set *contracts.Set, f *compatFlags) (*consumerIndex, error) {
	ci := &consumerIndex{registered: map[string][]contracts.Consumer{}, now: compatNow()}
	for _, sub := range set.Subjects {
		ci.registered[sub.Name] = sub.Consumers
	}
	for _, file := range f.configs {
		cfg, err := config.Load(file, nil)
		if err != nil {
			return nil, fmt.Errorf("read sidecar config %s: %w", file, err)
		}
		for _, s := range cfg.Subscriptions {
			group := s.Group
			if group == "" {
				group = s.Name
			}
			for _, t := range s.Topics {
				ci.subscriptions = append(ci.subscriptions, subscriptionRef{name: s.Name, group: group, topic: t, file: file})
			}
		}
	}
	var snaps []*catalog.Snapshot
	for _, src := range f.catalogs {
		s, err := fetchCatalog(ctx, src, *f.timeout)
		if err != nil {
			return nil, err
		}
		snaps = append(snaps, s)
	}
	if len(snaps) > 0 {
		ci.catalog = catalog.Merge(snaps...)
	}
	return ci, nil
}

// subjectReadsTopic reports whether records of subject travel on topic under
// the topic or topic_record strategies.
func subjectReadsTopic(subject, topic string) bool {
	return subject == topic+"-value" || strings.HasPrefix(subject, topic+"-")
}

// of lists the consumers that read version v of subject, each described
// with where it is known from.
func (ci *consumerIndex) of(subject string, v int) []string {
	out := []string{}
	if ci == nil {
		return out
	}
	seen := map[string]bool{}
	add := func(name, desc string) {
		if seen[name] {
			return
		}
		seen[name] = true
		out = append(out, name+" ("+desc+")")
	}
	for _, c := range ci.registered[subject] {
		if c.Reads(v) {
			desc := fmt.Sprintf("reads version %d", v)
			if c.Owner != "" {
				desc = c.Owner + ", " + desc
			}
			add(c.Name, desc)
		}
	}
	if ci.catalog != nil {
		for _, e := range ci.catalog.Entries {
			if e.Subject != subject || e.Version != v {
				continue
			}
			for _, u := range e.Consumers {
				add(u.Name, seenText(v, u.LastSeen, ci.now))
			}
		}
	}
	for _, s := range ci.subscriptions {
		if subjectReadsTopic(subject, s.topic) {
			add(s.group, fmt.Sprintf("subscription %s in %s reads topic %s, every version", s.name, s.file, s.topic))
		}
	}
	return out
}

func seenText(v int, last, now time.Time) string {
	if last.IsZero() {
		return fmt.Sprintf("seen consuming version %d", v)
	}
	ago := now.Sub(last)
	switch {
	case ago <= 24*time.Hour:
		return fmt.Sprintf("seen consuming version %d in the last 24 h", v)
	case ago <= 7*24*time.Hour:
		return fmt.Sprintf("seen consuming version %d in the last 7 days", v)
	default:
		return fmt.Sprintf("seen consuming version %d, last on %s", v, last.UTC().Format("2006-01-02"))
	}
}

// lastConsumed returns the consumer groups a catalog saw reading subject
// version v, with when they were last seen (zero: unknown).
func (ci *consumerIndex) lastConsumed(subject string, v int) map[string]time.Time {
	out := map[string]time.Time{}
	if ci == nil || ci.catalog == nil {
		return out
	}
	for _, e := range ci.catalog.Entries {
		if e.Subject != subject || e.Version != v {
			continue
		}
		for _, u := range e.Consumers {
			if t, ok := out[u.Name]; !ok || u.LastSeen.After(t) {
				out[u.Name] = u.LastSeen
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
