package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCatalogGraphGolden merges two sidecars' fixed catalogs and compares
// the Mermaid and DOT output with the golden files. Regenerate them with
// EVENTGUARD_UPDATE_GOLDEN=1 go test -run TestCatalogGraphGolden ./cmd/eventguard.
func TestCatalogGraphGolden(t *testing.T) {
	for _, tc := range []struct{ format, golden string }{
		{"", "catalog-graph.mmd"},
		{"mermaid", "catalog-graph.mmd"},
		{"dot", "catalog-graph.dot"},
	} {
		t.Run(tc.golden+"/"+tc.format, func(t *testing.T) {
			args := []string{"catalog", "graph", "--from", "testdata/catalog-checkout.json", "--from", "testdata/catalog-analytics.json"}
			if tc.format != "" {
				args = append(args, "--format", tc.format)
			}
			var out, errb bytes.Buffer
			if code := Main(args, &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			path := filepath.Join("testdata", tc.golden)
			if os.Getenv("EVENTGUARD_UPDATE_GOLDEN") != "" {
				if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (EVENTGUARD_UPDATE_GOLDEN=1 writes it)", err)
			}
			if out.String() != string(want) {
				t.Errorf("graph differs from %s:\n%s", path, out.String())
			}
		})
	}
}

// TestCatalogGraphFromURL fetches catalogs over HTTP from admin base URLs
// and full /v1/catalog URLs, the way it is used against running sidecars.
func TestCatalogGraphFromURL(t *testing.T) {
	serve := func(file string) *httptest.Server {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/v1/catalog" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b)
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	a, b := serve("catalog-checkout.json"), serve("catalog-analytics.json")
	var out, errb bytes.Buffer
	if code := Main([]string{"catalog", "graph", "--from", a.URL, "--from", b.URL + "/v1/catalog", "--format", "dot"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	want, err := os.ReadFile(filepath.Join("testdata", "catalog-graph.dot"))
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Errorf("graph from URLs differs from the golden file:\n%s", out.String())
	}

	// A /metrics URL is read as a Prometheus scrape.
	m, err := os.ReadFile(filepath.Join("testdata", "metrics-analytics.txt"))
	if err != nil {
		t.Fatal(err)
	}
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write(m)
	}))
	defer prom.Close()
	out.Reset()
	if code := Main([]string{"catalog", "graph", "--from", prom.URL + "/metrics", "--from", "testdata/catalog-checkout.json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	golden := filepath.Join("testdata", "catalog-graph-metrics.mmd")
	if os.Getenv("EVENTGUARD_UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want, err := os.ReadFile(golden); err != nil || out.String() != string(want) {
		t.Errorf("graph from a metrics scrape differs from %s (%v):\n%s", golden, err, out.String())
	}

	// Failures name the source.
	errb.Reset()
	if code := Main([]string{"catalog", "graph", "--from", a.URL + "/nope"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "HTTP 404") {
		t.Errorf("bad URL: exit %d, %s", code, errb.String())
	}
	errb.Reset()
	if code := Main([]string{"catalog", "graph"}, &out, &errb); code != 2 {
		t.Errorf("no --from: exit %d", code)
	}
	if code := Main([]string{"catalog", "graph", "--from", "testdata/catalog-checkout.json", "--format", "svg"}, &out, &errb); code != 1 {
		t.Errorf("bad format: exit %d", code)
	}
}
