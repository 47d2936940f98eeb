package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/examples"
)

// TestCompatGolden runs contracts compat over testdata/compat (a breaking
// BACKWARD subject, a breaking FORWARD subject, a BACKWARD_TRANSITIVE
// subject with registry references, a compatible FULL one, a single
// version) in every format and compares the output with the golden files.
// Regenerate them with EVENTGUARD_UPDATE_GOLDEN=1.
func TestCompatGolden(t *testing.T) {
	for _, format := range []string{"text", "json", "github", "junit"} {
		t.Run(format, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main([]string{"contracts", "compat", "--format", format, "--config", "testdata/compat/sidecar.yaml", "testdata/compat"}, &out, &errb)
			if code != 1 {
				t.Fatalf("exit %d, want 1 (breaking): %s", code, errb.String())
			}
			golden := filepath.Join("testdata", "compat-golden."+format)
			if os.Getenv("EVENTGUARD_UPDATE_GOLDEN") != "" {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (EVENTGUARD_UPDATE_GOLDEN=1 writes it)", err)
			}
			if out.String() != string(want) {
				t.Errorf("output differs from %s:\n%s", golden, out.String())
			}
		})
	}
}

// TestCompatGitHubLines: each annotation points at the line of the change in
// the schema file.
func TestCompatGitHubLines(t *testing.T) {
	for ptr, want := range map[string]int{"": 1, "/properties/amount": 6, "/properties/currency": 7, "/required": 9, "/nope": 1} {
		if got := pointerLine("testdata/compat/payments-value/2/schema.json", ptr); got != want {
			t.Errorf("line of %q: %d, want %d", ptr, got, want)
		}
	}
}

// writeContracts writes a contracts folder: files maps a path to its text.
func writeContracts(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, text := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const (
	schemaV1 = `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`
	schemaV2 = `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["a","b"]}`
)

func TestCompatExitCodes(t *testing.T) {
	compatible := writeContracts(t, map[string]string{"s/1/schema.json": schemaV1, "s/2/schema.json": schemaV1})
	breaking := writeContracts(t, map[string]string{"s/1/schema.json": schemaV1, "s/2/schema.json": schemaV2})
	broken := writeContracts(t, map[string]string{"s/1/schema.json": schemaV1, "s/2/schema.json": `{"type":"object","properties":{"a":{"$ref":"#/definitions/missing"}}}`})
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  string // a substring of stdout+stderr
	}{
		{"compatible", []string{compatible}, 0, "1 compatible, 0 breaking"},
		{"breaking", []string{breaking}, 1, "required_added"},
		{"breaking under NONE", []string{"--level", "NONE", breaking}, 0, "(NONE): compatible"},
		{"forward only", []string{"--level", "FORWARD", breaking}, 0, "(FORWARD): compatible"},
		{"bad format", []string{"--format", "xml", breaking}, 2, "--format"},
		{"bad level", []string{"--level", "SIDEWAYS", breaking}, 2, "compatibility level"},
		{"bad flag", []string{"--nope", breaking}, 2, "flag provided but not defined"},
		{"two folders", []string{breaking, compatible}, 2, "usage"},
		{"missing folder", []string{filepath.Join(breaking, "nope")}, 2, "nope"},
		{"schema does not compile", []string{broken}, 2, "s/2/schema.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(append([]string{"contracts", "compat"}, tc.args...), &out, &errb)
			if code != tc.code || !strings.Contains(out.String()+errb.String(), tc.out) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s%s", code, tc.code, tc.out, out.String(), errb.String())
			}
		})
	}
}

// TestCompatLenient: --lenient passes an optional property added to an open
// model, and says so.
func TestCompatLenient(t *testing.T) {
	dir := writeContracts(t, map[string]string{"s/1/schema.json": schemaV1,
		"s/2/schema.json": `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["a"]}`})
	var out, errb bytes.Buffer
	if code := Main([]string{"contracts", "compat", dir}, &out, &errb); code != 1 || !strings.Contains(out.String(), "property_added_open_model at /b") {
		t.Fatalf("strict: exit %d\n%s%s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := Main([]string{"contracts", "compat", "--lenient", dir}, &out, &errb); code != 0 || !strings.Contains(out.String(), "lenient: adding an optional property to an open content model was treated as compatible") {
		t.Fatalf("lenient: exit %d\n%s%s", code, out.String(), errb.String())
	}
}

// petsContracts is the example pets-value subject (version 2 breaks version
// 1 both ways) at level FULL, with registered consumers.
func petsContracts(t *testing.T, consumers string) string {
	t.Helper()
	v1, err := examples.Contracts.ReadFile("contracts/pets-value/1/schema.json")
	if err != nil {
		t.Fatal(err)
	}
	v2, err := examples.Contracts.ReadFile("contracts/pets-value/2/schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return writeContracts(t, map[string]string{
		"pets-value/subject.yaml":   "owner: team-pets\ncompatibility: FULL\n" + consumers,
		"pets-value/1/schema.json":  string(v1),
		"pets-value/2/schema.json":  string(v2),
		"other-value/1/schema.json": schemaV1,
	})
}

// TestCompatConsumersFromAllSources: the consumers a break hits come from
// subject.yaml, from a sidecar config's subscriptions, and from the live
// catalog of a running sidecar (kfake, srfake) that consumed version 1.
func TestCompatConsumersFromAllSources(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer app.Close()
	r := startSidecar(t, nil, func(c *config.Config) {
		c.Subscriptions = []config.Subscription{{Name: "analytics", Topics: []string{"pets"}, Group: "weight-analytics", Deliver: config.Deliver{URL: app.URL}}}
	})
	if resp, body := r.produce(t, "pets", nil, `{"records":[{"key":"pet-42","schema_version":1,"value":`+petV1+`}]}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("produce: %d %s", resp.StatusCode, body)
	}
	waitCatalogConsumer(t, r, "pets-value", 1, "weight-analytics")

	dir := petsContracts(t, "consumers:\n  - {name: billing, owner: team-billing, versions: [1]}\n  - {name: reporting, owner: team-bi, versions: [2]}\n")
	cfg := filepath.Join(dir, "..", "sidecar.yaml")
	if err := os.WriteFile(cfg, []byte("kafka: {brokers: [\"127.0.0.1:9092\"]}\nregistry: {url: \"http://127.0.0.1:8081\"}\nsubscriptions:\n  - {name: alerts, topics: [pets], group: vet-alerts, deliver: {url: \"http://127.0.0.1:3000/e\"}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := Main([]string{"contracts", "compat", "--format", "json", "--catalog", r.admin, "--config", cfg, dir}, &out, &errb)
	if code != 1 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errb.String())
	}
	var res compatJSON
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	byVersion := map[int]string{}
	for _, r := range res.Results {
		for _, f := range r.Findings {
			byVersion[f.BreaksVersion] = strings.Join(f.Consumers, "; ")
		}
	}
	for v, want := range map[int][]string{
		1: {"billing (team-billing, reads version 1)", "weight-analytics (seen consuming version 1 in the last 24 h)", "vet-alerts (subscription alerts in " + cfg + " reads topic pets, every version)"},
		2: {"reporting (team-bi, reads version 2)", "vet-alerts (subscription alerts"},
	} {
		for _, w := range want {
			if !strings.Contains(byVersion[v], w) {
				t.Errorf("consumers of version %d: %q lacks %q", v, byVersion[v], w)
			}
		}
	}
	if strings.Contains(byVersion[2], "billing") || strings.Contains(byVersion[2], "weight-analytics") {
		t.Errorf("consumers of version 2 name readers of version 1: %q", byVersion[2])
	}
	out.Reset()
	Main([]string{"contracts", "compat", "--catalog", r.admin, "--config", cfg, dir}, &out, &errb)
	if !strings.Contains(out.String(), "this change breaks: ") || !strings.Contains(out.String(), "weight-analytics (seen consuming version 1 in the last 24 h)") {
		t.Errorf("text output lacks the closing line:\n%s", out.String())
	}
}

func waitCatalogConsumer(t *testing.T, r *running, subject string, version int, group string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b := r.get(t, "/v1/catalog")
		if strings.Contains(string(b), `"subject":"`+subject+`","version":`+itoa(version)) && strings.Contains(string(b), `"name":"`+group+`"`) {
			var s struct {
				Entries []struct {
					Subject   string
					Version   int
					Consumers []struct{ Name string }
				}
			}
			_ = json.Unmarshal(b, &s)
			for _, e := range s.Entries {
				for _, c := range e.Consumers {
					if e.Subject == subject && e.Version == version && c.Name == group {
						return
					}
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the catalog never showed %s consuming %s version %d: %s", group, subject, version, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestRegisterRefusesBreaking: contracts register checks against what the
// registry holds and refuses a breaking version unless --allow-breaking;
// the subject's level is set from subject.yaml.
func TestRegisterRefusesBreaking(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	first := writeContracts(t, map[string]string{"s/subject.yaml": "compatibility: BACKWARD\n", "s/1/schema.json": schemaV1})
	var out, errb bytes.Buffer
	if code := Main([]string{"contracts", "register", "--registry", reg.URL(), first}, &out, &errb); code != 0 {
		t.Fatalf("first registration: exit %d %s%s", code, out.String(), errb.String())
	}
	next := writeContracts(t, map[string]string{"s/subject.yaml": "compatibility: BACKWARD\n", "s/1/schema.json": schemaV1, "s/2/schema.json": schemaV2})
	out.Reset()
	errb.Reset()
	code := Main([]string{"contracts", "register", "--registry", reg.URL(), next}, &out, &errb)
	if code != 1 || !strings.Contains(out.String(), "required_added") || !strings.Contains(errb.String(), "nothing registered") {
		t.Fatalf("breaking registration: exit %d\n%s%s", code, out.String(), errb.String())
	}
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	if vs, err := cl.SubjectVersions(t.Context(), "s"); err != nil || len(vs) != 1 {
		t.Fatalf("versions after a refused registration: %v %v", vs, err)
	}
	// compat --registry asks the same question: version 2 is new, version 1 held.
	out.Reset()
	if code := Main([]string{"contracts", "compat", "--registry", reg.URL(), next}, &out, &errb); code != 1 || !strings.Contains(out.String(), "s: version 1 -> 2 (BACKWARD): BREAKING") {
		t.Fatalf("compat --registry: exit %d\n%s", code, out.String())
	}
	out.Reset()
	if code := Main([]string{"contracts", "compat", "--registry", reg.URL(), first}, &out, &errb); code != 0 || !strings.Contains(out.String(), "the registry holds every version") {
		t.Fatalf("compat --registry, nothing new: exit %d\n%s", code, out.String())
	}
	out.Reset()
	errb.Reset()
	if code := Main([]string{"contracts", "register", "--allow-breaking", "--registry", reg.URL(), next}, &out, &errb); code != 0 || !strings.Contains(out.String(), "s version 2") {
		t.Fatalf("--allow-breaking: exit %d\n%s%s", code, out.String(), errb.String())
	}
	lv := cl.Compatibility(t.Context(), "s")
	if len(lv) != 1 || lv[0].Err != nil || lv[0].Level != sr.CompatBackward {
		t.Errorf("subject level: %+v", lv)
	}
}

// TestRegisterReports409: a registry's own refusal is reported with its
// message (a registry answering 409 as Confluent's and Apicurio's do).
func TestRegisterReports409(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/versions") && r.Method == http.MethodGet:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error_code":40401,"message":"Subject 's' not found."}`))
		case r.Method == http.MethodPut:
			_, _ = w.Write([]byte(`{"compatibility":"BACKWARD"}`))
		default:
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"error_code":409,"message":"Incompatible schema: the registry says no"}`))
		}
	}))
	defer srv.Close()
	dir := writeContracts(t, map[string]string{"s/subject.yaml": "compatibility: BACKWARD\n", "s/1/schema.json": schemaV1})
	var out, errb bytes.Buffer
	code := Main([]string{"contracts", "register", "--registry", srv.URL, dir}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "HTTP 409") || !strings.Contains(errb.String(), "the registry says no") {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
}

// TestRetire: retire refuses while a registered consumer reads the version or
// a running sidecar's catalog saw it consumed, and prints the deprecation
// entry once neither holds.
func TestRetire(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer app.Close()
	r := startSidecar(t, nil, func(c *config.Config) {
		c.Subscriptions = []config.Subscription{{Name: "analytics", Topics: []string{"pets"}, Group: "weight-analytics", Deliver: config.Deliver{URL: app.URL}}}
	})
	if resp, body := r.produce(t, "pets", nil, `{"records":[{"key":"pet-42","schema_version":1,"value":`+petV1+`}]}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("produce: %d %s", resp.StatusCode, body)
	}
	waitCatalogConsumer(t, r, "pets-value", 1, "weight-analytics")

	registered := petsContracts(t, "consumers:\n  - {name: billing, owner: team-billing, versions: [1]}\n")
	unregistered := petsContracts(t, "consumers:\n  - {name: billing, owner: team-billing, versions: [2]}\n")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"registered consumer", []string{"pets-value", "1", "--contracts", registered}, 1, []string{"cannot be retired", "billing (team-billing, registered in subject.yaml as reading version 1)"}},
		{"catalog consumer", []string{"pets-value", "1", "--contracts", unregistered, "--catalog", r.admin}, 1, []string{"cannot be retired", "weight-analytics (seen consuming version 1 at"}},
		{"catalog consumer outside --since", []string{"pets-value", "1", "--contracts", unregistered, "--catalog", r.admin, "--since", "0s"}, 0, []string{"may be retired", "sunset: ", "replacement: {subject: pets-value, version: 2}", `"eventguard.deprecated.replacement":"pets-value:2"`}},
		{"nobody reads it", []string{"pets-value", "1", "--contracts", unregistered, "--sunset", "2027-03-31"}, 0, []string{"may be retired", "no --catalog was given", "sunset: 2027-03-31", "owner: team-pets"}},
		{"unknown version", []string{"pets-value", "9", "--contracts", unregistered}, 2, []string{"no version 9"}},
		{"bad since", []string{"pets-value", "1", "--since", "soon", "--contracts", unregistered}, 2, []string{"--since"}},
		{"usage", []string{"pets-value"}, 2, []string{"usage"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(append([]string{"contracts", "retire"}, tc.args...), &out, &errb)
			all := out.String() + errb.String()
			if code != tc.code {
				t.Errorf("exit %d, want %d:\n%s", code, tc.code, all)
			}
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("output lacks %q:\n%s", w, all)
				}
			}
		})
	}
}
