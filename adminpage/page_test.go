package adminpage

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eventguard/eventguard/catalog"
)

var at = time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)

// fleet is a fixed catalog: two features produce two topics, pets has a
// deprecated version 1, two groups consume.
func fleet() *catalog.Snapshot {
	u := func(name string, n uint64) catalog.Usage {
		return catalog.Usage{Name: name, Count: n, FirstSeen: at, LastSeen: at}
	}
	return &catalog.Snapshot{Instance: "pod-a", Since: at.Add(-time.Hour), At: at, Entries: []catalog.Entry{
		{Topic: "orders", Subject: "orders-OrderPlaced", Version: 1, SchemaID: 5,
			Producers: []catalog.Usage{u("checkout", 1200)}, Consumers: []catalog.Usage{u("billing", 1198)}},
		{Topic: "pets", Subject: "pets-value", Version: 1, SchemaID: 1, Deprecated: true, Sunset: "2027-03-31", Replacement: "pets-value v2",
			Producers: []catalog.Usage{u("legacy-import", 4)}, Consumers: []catalog.Usage{u("weight-analytics", 3)}},
		{Topic: "pets", Subject: "pets-value", Version: 2, SchemaID: 2,
			Producers: []catalog.Usage{u("weight-sync", 503)}, Consumers: []catalog.Usage{u("vet-alerts", 12), u("weight-analytics", 499)}},
	}}
}

func recent() *catalog.RecentSnapshot {
	return &catalog.RecentSnapshot{Instance: "pod-a", Size: 200,
		Rejections: []catalog.Rejection{
			{Time: at, Outcome: catalog.OutcomeRejected, Topic: "pets", Subject: "pets-value", Version: 2, Feature: "weight-sync",
				Reason: "schema_violation", Path: "/device_id", Message: `missing required property "device_id"`, Records: 1},
			{Time: at.Add(-time.Second), Outcome: catalog.OutcomeDeadLettered, Topic: "pets", Subject: "pets-value", Version: 1, Group: "weight-analytics", Reason: "rejected_by_app"},
		},
		Counts: []catalog.RejectionCount{
			{Outcome: catalog.OutcomeDeadLettered, Topic: "pets", Subject: "pets-value", Version: 1, Reason: "rejected_by_app", Count: 1},
			{Outcome: catalog.OutcomeRejected, Topic: "pets", Subject: "pets-value", Version: 2, Reason: "rule_violation", Rule: "positive_weight", Count: 4},
			{Outcome: catalog.OutcomeRejected, Topic: "pets", Subject: "pets-value", Version: 2, Reason: "schema_violation", Count: 9},
			{Outcome: catalog.OutcomeRejected, Topic: "secret", Reason: "topic_not_allowed", Count: 2},
		}}
}

func standalone(t *testing.T, p Page) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteStandalone(&b, p); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

var svgRe = regexp.MustCompile(`(?s)<svg id="usage-map".*</svg>`)

// TestMapGolden draws a fixed catalog and its rejection counts and compares
// the SVG with testdata/map.golden.svg. Regenerate it with
// EVENTGUARD_UPDATE_GOLDEN=1 go test -run TestMapGolden ./adminpage.
func TestMapGolden(t *testing.T) {
	out := standalone(t, Page{Title: "t", At: at, Catalog: fleet(), Recent: recent()})
	svg := svgRe.FindString(out)
	if svg == "" {
		t.Fatalf("no map in:\n%s", out)
	}
	path := filepath.Join("testdata", "map.golden.svg")
	if os.Getenv("EVENTGUARD_UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, []byte(svg+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (EVENTGUARD_UPDATE_GOLDEN=1 writes it)", err)
	}
	if svg+"\n" != string(want) {
		t.Errorf("map differs from %s:\n%s", path, svg)
	}
}

// TestLayout checks the map's structure: four columns, one node per
// feature, topic, version and group, edges carrying the counts, the
// deprecated version marked with its sunset and replacement, rejection
// counts per reason and per rule on their version and topic, and no two
// nodes of a column overlapping.
func TestLayout(t *testing.T) {
	m := Layout(fleet(), recent().Counts, at)
	nodes := map[string]*Node{}
	kinds := map[string]int{}
	for _, n := range m.Nodes {
		nodes[n.Key] = n
		kinds[n.Kind]++
	}
	if kinds[KindFeature] != 3 || kinds[KindTopic] != 3 || kinds[KindVersion] != 3 || kinds[KindGroup] != 3 {
		t.Fatalf("nodes per kind: %v", kinds)
	}
	edge := func(from, to string) *Edge {
		for _, e := range m.Edges {
			if e.From.Key == from && e.To.Key == to {
				return e
			}
		}
		return nil
	}
	for _, c := range []struct{ from, to, label, class string }{
		{"checkout", "orders", "1200", "produce"},
		{"weight-sync", "pets", "503", "produce"},
		{"pets", "pets-value v2 (topic pets)", "503", "route"},
		{"pets", "pets-value v1 (topic pets)", "4", "route deprecated"},
		{"pets-value v1 (topic pets)", "weight-analytics", "3", "consume deprecated"},
		{"pets-value v2 (topic pets)", "vet-alerts", "12", "consume"},
		{"secret", "", "", ""},
	} {
		e := edge(c.from, c.to)
		if c.to == "" {
			for _, e := range m.Edges {
				if e.From.Key == c.from || e.To.Key == c.from {
					t.Errorf("%s has an edge: %+v", c.from, e)
				}
			}
			continue
		}
		if e == nil || e.Label != c.label || e.Class != c.class || !strings.HasPrefix(e.D, "M") {
			t.Errorf("edge %s → %s = %+v, want label %s class %q", c.from, c.to, e, c.label, c.class)
		}
	}
	if len(m.Edges) != 10 {
		t.Errorf("%d edges, want 10", len(m.Edges))
	}
	text := func(n *Node) string {
		var s []string
		for _, l := range n.Lines {
			s = append(s, l.Text)
		}
		return strings.Join(s, "|")
	}
	if v1 := nodes["pets-value v1 (topic pets)"]; !v1.Deprecated || text(v1) != "pets-value v1|topic pets · id 1|deprecated · sunset 2027-03-31|→ pets-value v2|✗ DLQ rejected_by_app: 1" {
		t.Errorf("v1: %v %s", v1.Deprecated, text(v1))
	}
	if v2 := nodes["pets-value v2 (topic pets)"]; v2.Deprecated || !v2.Rejected || text(v2) != "pets-value v2|topic pets · id 2|✗ schema_violation: 9|✗ rule positive_weight: 4" {
		t.Errorf("v2: %s", text(v2))
	}
	if s := nodes["secret"]; !s.Rejected || text(s) != "secret|0 in · 0 out|✗ topic_not_allowed: 2" {
		t.Errorf("secret: %s", text(s))
	}
	// After the sunset, the node says it passed.
	late := Layout(fleet(), nil, time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC))
	for _, n := range late.Nodes {
		if n.Deprecated && !strings.Contains(text(n), "sunset passed 2027-03-31") {
			t.Errorf("after the sunset: %s", text(n))
		}
	}
	// Columns left to right, nodes inside the canvas, no overlaps.
	x := map[string]int{}
	for _, n := range m.Nodes {
		x[n.Kind] = n.X
		if n.X < 0 || n.Y < topY || n.X+n.W > m.Width || n.Y+n.H > m.Height {
			t.Errorf("%s outside the %dx%d canvas: %+v", n.Key, m.Width, m.Height, n)
		}
		for _, o := range m.Nodes {
			if o != n && o.Kind == n.Kind && n.Y < o.Y+o.H && o.Y < n.Y+n.H {
				t.Errorf("%s overlaps %s", n.Key, o.Key)
			}
		}
	}
	if !(x[KindFeature] < x[KindTopic] && x[KindTopic] < x[KindVersion] && x[KindVersion] < x[KindGroup]) {
		t.Errorf("columns out of order: %v", x)
	}
}

// TestLayoutBounded: a catalog far past the bounds draws at most
// MaxNodesPerColumn nodes per column (the most used) and MaxEdges edges,
// says what it left out, and the page stays under 1.5 MB.
func TestLayoutBounded(t *testing.T) {
	s := &catalog.Snapshot{}
	for i := range 400 {
		s.Entries = append(s.Entries, catalog.Entry{Topic: fmt.Sprintf("topic-%03d", i), Subject: fmt.Sprintf("topic-%03d-value", i), Version: 1,
			Producers: []catalog.Usage{{Name: fmt.Sprintf("feature-%03d", i), Count: uint64(i + 1)}, {Name: fmt.Sprintf("feature-%03d", (i+1)%400), Count: 1}},
			Consumers: []catalog.Usage{{Name: fmt.Sprintf("group-%03d", i), Count: uint64(i + 1)}}})
	}
	m := Layout(s, nil, at)
	kinds := map[string]int{}
	for _, n := range m.Nodes {
		kinds[n.Kind]++
	}
	for _, k := range []string{KindFeature, KindTopic, KindVersion, KindGroup} {
		if kinds[k] != MaxNodesPerColumn {
			t.Errorf("%s: %d nodes drawn, want %d", k, kinds[k], MaxNodesPerColumn)
		}
	}
	if len(m.Omitted) != 4 || !strings.Contains(m.Omitted[1], "300 of 400 topics") {
		t.Errorf("omitted: %q", m.Omitted)
	}
	for _, n := range m.Nodes {
		if n.Kind == KindTopic && n.Key < "topic-300" {
			t.Errorf("a least used topic was drawn: %s", n.Key)
		}
	}
	if len(m.Edges) > MaxEdges {
		t.Errorf("%d edges", len(m.Edges))
	}
	out := standalone(t, Page{Catalog: s})
	if len(out) > 1500000 || !strings.Contains(out, "not drawn: 300 of 400 topics (the least used)") {
		t.Errorf("page %d bytes; notes present: %v", len(out), strings.Contains(out, "not drawn"))
	}
}

// hostile are names and messages a producer controls.
var hostile = []string{
	`<script>alert(1)</script>`,
	`"><img src=x onerror=alert(2)>`,
	`' onmouseover='alert(3)`,
	`</title><script>alert(4)</script>`,
	`</svg><iframe src=javascript:alert(5)>`,
	`a&b`,
}

// TestHostileNamesEscaped puts script, quotes and closing tags in every
// string the page shows (topic, subject, feature, group, reason, rule,
// path, message, instance, readiness) and checks that each appears only
// escaped: no element or attribute a producer wrote reaches the page,
// live or standalone.
func TestHostileNamesEscaped(t *testing.T) {
	s := &catalog.Snapshot{Instance: hostile[2]}
	r := &catalog.RecentSnapshot{Size: 10}
	for i, h := range hostile {
		s.Entries = append(s.Entries, catalog.Entry{Topic: h, Subject: h, Version: i + 1, Deprecated: true, Sunset: h, Replacement: h,
			Producers: []catalog.Usage{{Name: h, Count: 1}}, Consumers: []catalog.Usage{{Name: h, Count: 1}}})
		r.Rejections = append(r.Rejections, catalog.Rejection{Time: at, Outcome: h, Topic: h, Subject: h, Version: 1, Feature: h, Group: h, Reason: h, Rule: h, Path: h, Message: h, Instance: h})
		r.Counts = append(r.Counts, catalog.RejectionCount{Outcome: h, Topic: h, Subject: h, Version: 1, Reason: h, Rule: h, Count: 1})
	}
	checks := map[string]string{}
	for _, h := range hostile {
		checks[h] = h
	}
	h := Handler(Options{Title: hostile[0], Catalog: CatalogFunc(func() *catalog.Snapshot { return s }),
		Recent:    RecentFunc(func() *catalog.RecentSnapshot { return r }),
		Readiness: ReadinessFunc(func() (map[string]string, bool) { return checks, false }), Now: func() time.Time { return at }})
	pages := map[string]string{
		"standalone": standalone(t, Page{Title: hostile[1], Scope: hostile[3], Catalog: s, Recent: r, Notes: hostile,
			Readiness: []Readiness{ReadinessOf(hostile[0], checks, false), {Instance: hostile[1], Err: hostile[4]}}}),
	}
	for _, path := range []string{"/ui", "/ui/live"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		pages[path] = rec.Body.String()
	}
	for name, out := range pages {
		scripts := 0
		if name == "/ui" {
			scripts = 1 // the page's own, from ui/assets/page.js
		}
		for _, bad := range []string{"<script>", "<img", "<iframe", "</title><script", "</svg><iframe", "onmouseover='", "a&b"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s: raw %q in the page", name, bad)
			}
		}
		if n := strings.Count(out, "<script"); n != scripts {
			t.Errorf("%s: %d script elements, want %d", name, n, scripts)
		}
		if n := strings.Count(out, "<svg"); n != 1 {
			t.Errorf("%s: %d svg elements", name, n)
		}
		for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "a&amp;b", "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: escaped %q missing", name, want)
			}
		}
	}
}

// TestHandler serves the page, its content and its assets with a strict
// Content-Security-Policy; the content has what the page has.
func TestHandler(t *testing.T) {
	h := Handler(Options{Catalog: CatalogFunc(fleet), Recent: RecentFunc(recent), Refresh: 2 * time.Second,
		Readiness: ReadinessFunc(func() (map[string]string, bool) {
			return map[string]string{"kafka": "ok", "registry": "registry http://r: connection refused"}, false
		})})
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(path string) (*http.Response, string) {
		t.Helper()
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, page := get("/ui")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" || resp.Header.Get("Content-Security-Policy") != csp ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("GET /ui: %d %v", resp.StatusCode, resp.Header)
	}
	for _, want := range []string{`data-refresh-ms="2000"`, `<script src="ui/assets/page.js" defer></script>`, `href="ui/assets/page.css"`,
		`data-key="pets-value v1 (topic pets)"`, "deprecated · sunset 2027-03-31", `<tr class="bad" data-check="registry">`,
		"registry http://r: connection refused", "not ready", "schema_violation", "/device_id", "sidecar pod-a", `id="by-rule"`, "positive_weight"} {
		if !strings.Contains(page, want) {
			t.Errorf("GET /ui lacks %q", want)
		}
	}
	resp, live := get("/ui/live")
	if resp.StatusCode != 200 || strings.Contains(live, "<html") || !strings.Contains(live, `<svg id="usage-map"`) || !strings.Contains(live, `id="recent"`) {
		t.Errorf("GET /ui/live: %d %.200s", resp.StatusCode, live)
	}
	if i := strings.Index(page, `<main id="main">`); i < 0 || !strings.Contains(page[i:], strings.TrimSpace(live)) {
		t.Errorf("the live content is not the page's main")
	}
	for path, ct := range map[string]string{"/ui/assets/page.css": "text/css; charset=utf-8", "/ui/assets/page.js": "text/javascript; charset=utf-8", "/ui/assets/favicon.svg": "image/svg+xml"} {
		resp, body := get(path)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ct || len(body) < 150 {
			t.Errorf("GET %s: %d %s %d bytes", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
	}
	if resp, _ := get("/ui/"); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/ui" {
		t.Errorf("GET /ui/: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := get("/ui/assets/other.js"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown asset: %d", resp.StatusCode)
	}
	post, err := http.Post(srv.URL+"/ui", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /ui: %d", post.StatusCode)
	}
}

// TestStandaloneSelfContained: the file has its stylesheet inline and
// refers to nothing outside itself (no script, link, image or URL but the
// SVG namespace and its own arrow marker).
func TestStandaloneSelfContained(t *testing.T) {
	out := standalone(t, Page{Title: "eventguard fleet", Scope: "2 sources", Catalog: fleet(), Recent: recent(),
		Readiness: []Readiness{ReadinessOf("pod-a", map[string]string{"kafka": "ok"}, true)}})
	if !strings.Contains(out, "<style>") || !strings.Contains(out, ".node.deprecated rect") {
		t.Error("stylesheet not inline")
	}
	for _, bad := range []string{"<script", "<link", "<img", "src=", "href=", "@import", "data-refresh-ms"} {
		if strings.Contains(out, bad) {
			t.Errorf("standalone page has %q", bad)
		}
	}
	urls := regexp.MustCompile(`https?://[^"' )<]+|url\([^)]*\)`).FindAllString(out, -1)
	for _, u := range urls {
		if u != "http://www.w3.org/2000/svg" && u != "url(#arrow)" {
			t.Errorf("standalone page refers to %s", u)
		}
	}
	if !strings.Contains(out, "<th>sidecar</th>") || !strings.Contains(out, "snapshot taken") {
		t.Error("a fleet page names the sidecar of each readiness check and says when it was taken")
	}
}

// TestEmptyPage: a sidecar that saw nothing yet gets a page that says so.
func TestEmptyPage(t *testing.T) {
	out := standalone(t, Page{})
	for _, want := range []string{"nothing recorded yet", "<h2>Readiness", "not available"} {
		if !strings.Contains(out, want) {
			t.Errorf("empty page lacks %q", want)
		}
	}
}
