// Package adminpage renders eventguard's admin page: the usage map drawn as
// SVG on the server (producing features → topics → subject versions →
// consumer groups, deprecated versions marked with their sunset, rejection
// counts per reason and rule), the latest rejected and dead-lettered
// records with counts per topic and reason, and the readiness checks.
//
// The page is read-only and self-contained: its stylesheet and its small
// refresh script are embedded in the binary, it makes no request outside
// the listener that served it, and every string from the catalog (topic
// names, features, messages: they come from producers) is escaped by
// html/template. Handler serves it live on the admin listener;
// WriteStandalone writes it as one file (a fleet's merged catalogs, for
// `eventguard catalog graph --format html`).
package adminpage

import (
	"bytes"
	"cmp"
	"embed"
	"fmt"
	"html/template"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/eventguard/eventguard/catalog"
)

//go:embed assets/page.css assets/page.js assets/favicon.svg page.html.tmpl
var assets embed.FS

var (
	css  = mustRead("assets/page.css")
	js   = mustRead("assets/page.js")
	icon = mustRead("assets/favicon.svg")
	tmpl = template.Must(template.New("page.html.tmpl").Funcs(template.FuncMap{
		"clock":      func(t time.Time) string { return t.UTC().Format("15:04:05") },
		"stamp":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
		"millis":     func(d time.Duration) int64 { return d.Milliseconds() },
		"maxMessage": func() int { return catalog.MaxMessageBytes },
		"maxCounts":  func() int { return catalog.MaxRecentCounts },
	}).ParseFS(assets, "page.html.tmpl"))
)

func mustRead(name string) []byte {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic(fmt.Sprintf("adminpage: embedded %s: %v", name, err))
	}
	return b
}

// CatalogSource gives the usage catalog to draw; *catalog.Catalog's
// Snapshot has this shape through CatalogFunc.
type CatalogSource interface {
	Catalog() *catalog.Snapshot
}

// RecentSource gives the latest rejections and their counts.
type RecentSource interface {
	Recent() *catalog.RecentSnapshot
}

// ReadinessSource gives the readiness checks (name → "ok" or the reason)
// and whether all pass, as GET /readyz reports them.
type ReadinessSource interface {
	Readiness() (checks map[string]string, ready bool)
}

// CatalogFunc adapts a function to a CatalogSource.
type CatalogFunc func() *catalog.Snapshot

// Catalog calls f.
func (f CatalogFunc) Catalog() *catalog.Snapshot { return f() }

// RecentFunc adapts a function to a RecentSource.
type RecentFunc func() *catalog.RecentSnapshot

// Recent calls f.
func (f RecentFunc) Recent() *catalog.RecentSnapshot { return f() }

// ReadinessFunc adapts a function to a ReadinessSource.
type ReadinessFunc func() (map[string]string, bool)

// Readiness calls f.
func (f ReadinessFunc) Readiness() (map[string]string, bool) { return f() }

// DefaultRefresh is how often the live page refreshes itself.
const DefaultRefresh = 5 * time.Second

// Options configure Handler.
type Options struct {
	// Title heads the page. Default "eventguard".
	Title string
	// Catalog is required; Recent and Readiness may be nil (their
	// sections then say so).
	Catalog   CatalogSource
	Recent    RecentSource
	Readiness ReadinessSource
	// Refresh is how often the page fetches its content again. Default
	// DefaultRefresh.
	Refresh time.Duration
	// Now is the clock (sunsets passed or not). Default time.Now.
	Now func() time.Time
}

// Page is what one rendering shows.
type Page struct {
	// Title heads the page; Scope says whose it is ("sidecar pod-a",
	// "3 sidecars").
	Title, Scope string
	// At is when the data was taken.
	At      time.Time
	Catalog *catalog.Snapshot
	// Recent is nil when rejections are not available.
	Recent *catalog.RecentSnapshot
	// Readiness has one entry per sidecar; empty when not available.
	Readiness []Readiness
	// Notes are shown above the map (sources that could not be read).
	Notes []string
}

// Readiness is one sidecar's readiness.
type Readiness struct {
	Instance string
	Ready    bool
	Checks   []Check
	// Err is set when the sidecar's readiness could not be read.
	Err string
}

// Check is one readiness check: Status is "ok" or why not.
type Check struct {
	Name, Status string
	OK           bool
}

// ReadinessOf turns /readyz's checks into a Readiness, checks sorted by
// name.
func ReadinessOf(instance string, checks map[string]string, ready bool) Readiness {
	r := Readiness{Instance: instance, Ready: ready}
	for _, name := range slices.Sorted(maps.Keys(checks)) {
		r.Checks = append(r.Checks, Check{Name: name, Status: checks[name], OK: checks[name] == "ok"})
	}
	return r
}

// Handler serves the live page: GET /ui (the page), GET /ui/live (its
// content, which the page fetches every Refresh), and its stylesheet,
// script and icon under GET /ui/assets/. Mount it on "/ui" and "/ui/". Every answer
// carries a Content-Security-Policy that allows nothing but this listener.
func Handler(o Options) http.Handler {
	if o.Title == "" {
		o.Title = "eventguard"
	}
	if o.Refresh <= 0 {
		o.Refresh = DefaultRefresh
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	h := &handler{o: o}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ui", h.page)
	mux.HandleFunc("GET /ui/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "../ui", http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /ui/live", h.live)
	mux.HandleFunc("GET /ui/assets/page.css", asset(css, "text/css; charset=utf-8"))
	mux.HandleFunc("GET /ui/assets/page.js", asset(js, "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /ui/assets/favicon.svg", asset(icon, "image/svg+xml"))
	return secure(mux)
}

// csp allows the page its own stylesheet, script and content fetches,
// and nothing else: no other origin, no inline script, no frames, no
// forms.
const csp = "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

func asset(b []byte, contentType string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	}
}

type handler struct{ o Options }

// snapshot gathers one Page from the sources.
func (h *handler) snapshot() Page {
	p := Page{Title: h.o.Title, At: h.o.Now().UTC(), Catalog: h.o.Catalog.Catalog()}
	p.Scope = "sidecar"
	if p.Catalog != nil && p.Catalog.Instance != "" {
		p.Scope = "sidecar " + p.Catalog.Instance
	}
	if h.o.Recent != nil {
		p.Recent = h.o.Recent.Recent()
	}
	if h.o.Readiness != nil {
		checks, ok := h.o.Readiness.Readiness()
		inst := ""
		if p.Catalog != nil {
			inst = p.Catalog.Instance
		}
		p.Readiness = []Readiness{ReadinessOf(inst, checks, ok)}
	}
	return p
}

func (h *handler) page(w http.ResponseWriter, r *http.Request) {
	h.write(w, "page", view(h.snapshot(), &liveOptions{Refresh: h.o.Refresh}))
}

func (h *handler) live(w http.ResponseWriter, r *http.Request) {
	h.write(w, "main", view(h.snapshot(), &liveOptions{Refresh: h.o.Refresh}))
}

// write renders into a buffer first, so a template error is a clean 500
// rather than half a page.
func (h *handler) write(w http.ResponseWriter, name string, v *pageView) {
	var b bytes.Buffer
	if err := tmpl.ExecuteTemplate(&b, name, v); err != nil {
		http.Error(w, "render admin page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	_, _ = w.Write(b.Bytes())
}

// WriteStandalone writes p as one self-contained HTML file: the stylesheet
// inline, no script, no reference to anything outside the file.
func WriteStandalone(w io.Writer, p Page) error {
	if p.Title == "" {
		p.Title = "eventguard"
	}
	if p.At.IsZero() {
		p.At = time.Now().UTC()
	}
	var b bytes.Buffer
	if err := tmpl.ExecuteTemplate(&b, "page", view(p, nil)); err != nil {
		return fmt.Errorf("render admin page: %w", err)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write admin page: %w", err)
	}
	return nil
}

type liveOptions struct{ Refresh time.Duration }

// pageView is what the template reads.
type pageView struct {
	Page
	// Live is set when the page refreshes itself (served by Handler);
	// nil for a standalone file, which inlines its stylesheet instead.
	Live *liveOptions
	CSS  template.CSS
	Map  *Map
	// Ready is true when every sidecar is ready.
	Ready bool
	// Records counts the catalog's records in and out.
	Produced, Consumed uint64
	Since              time.Time
	// ByReason is the rejection counts per outcome, topic and reason;
	// ByRule per rule (when rules refused records).
	ByReason, ByRule []catalog.RejectionCount
	Rows             []row
	// ShowInstance adds a sidecar column to the rows (merged rejections).
	ShowInstance bool
}

type row struct {
	catalog.Rejection
	Schema, Who string
}

func view(p Page, live *liveOptions) *pageView {
	if p.Catalog == nil {
		p.Catalog = &catalog.Snapshot{}
	}
	v := &pageView{Page: p, Live: live, Since: p.Catalog.Since, Ready: len(p.Readiness) > 0}
	if live == nil {
		v.CSS = template.CSS(css)
	}
	for _, r := range p.Readiness {
		v.Ready = v.Ready && r.Ready
	}
	for _, e := range p.Catalog.Entries {
		v.Produced += sum(e.Producers)
		v.Consumed += sum(e.Consumers)
	}
	var counts []catalog.RejectionCount
	if p.Recent != nil {
		counts = p.Recent.Counts
		v.ByReason, v.ByRule = byReason(counts)
		for _, r := range p.Recent.Rejections {
			x := row{Rejection: r, Who: cmp.Or(r.Feature, r.Group)}
			v.ShowInstance = v.ShowInstance || r.Instance != ""
			if r.Subject != "" {
				x.Schema = fmt.Sprintf("%s v%d", r.Subject, r.Version)
			}
			v.Rows = append(v.Rows, x)
		}
	}
	v.Map = Layout(p.Catalog, counts, p.At)
	return v
}

// byReason sums counts per outcome, topic and reason, and per outcome,
// topic and rule for those a rule refused; largest first.
func byReason(cs []catalog.RejectionCount) (reasons, rules []catalog.RejectionCount) {
	type key struct{ outcome, topic, reason, rule string }
	sums := map[key]uint64{}
	for _, c := range cs {
		sums[key{c.Outcome, c.Topic, c.Reason, ""}] += c.Count
		if c.Rule != "" {
			sums[key{c.Outcome, c.Topic, c.Reason, c.Rule}] += c.Count
		}
	}
	for k, n := range sums {
		c := catalog.RejectionCount{Outcome: k.outcome, Topic: k.topic, Reason: k.reason, Rule: k.rule, Count: n}
		if k.rule != "" {
			rules = append(rules, c)
		} else {
			reasons = append(reasons, c)
		}
	}
	order := func(a, b catalog.RejectionCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Outcome, b.Outcome),
			cmp.Compare(a.Reason, b.Reason), cmp.Compare(a.Rule, b.Rule))
	}
	slices.SortFunc(reasons, order)
	slices.SortFunc(rules, order)
	return reasons, rules
}
