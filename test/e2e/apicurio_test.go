package e2e

// The suite on a real schema registry: Apicurio Registry, run by
// test/registry/apicurio.sh, which test/run-e2e.sh starts and names in
// APICURIO_URL (its Confluent API, .../apis/ccompat/v7). Everywhere else the
// sidecars use their embedded srfake or an in-process one.
//
// TestApicurio first checks the contracts commands against it (register
// with references, its refusals, check --registry) and the registry's
// behaviours that differ from Confluent's and srfake's, then runs a part of
// the suite again with Apicurio as every sidecar's registry: produce, read
// back, consume, dead-letter, replay, the production command and
// Confluent's Python client. A test run under TestApicurio gets Apicurio
// from start, launch and sharedRegistry (registryOverride).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/examples"
	"github.com/eventguard/eventguard/test/e2e/harness"
	"github.com/eventguard/eventguard/validate"
)

// apicurioURL returns APICURIO_URL, or skips the test (fails it in CI).
func apicurioURL(t *testing.T) string {
	t.Helper()
	u := strings.TrimRight(os.Getenv("APICURIO_URL"), "/")
	if u == "" {
		unavailable(t, `APICURIO_URL is not set: run "make test-e2e" (it starts Apicurio Registry with test/registry/apicurio.sh, which needs Java 21+) or eval "$(test/registry/apicurio.sh up)" first`)
	}
	return u
}

// registryOverride returns the registry every sidecar of t must use
// instead of its embedded one: Apicurio for the suite's tests that
// TestApicurio runs again, and for every test when
// EVENTGUARD_E2E_REGISTRY=apicurio (the whole suite on the real registry,
// `make test-e2e EVENTGUARD_E2E_REGISTRY=apicurio`); "" otherwise.
func registryOverride(t *testing.T) string {
	if strings.HasPrefix(t.Name(), "TestApicurio/") || os.Getenv("EVENTGUARD_E2E_REGISTRY") == "apicurio" {
		return strings.TrimRight(os.Getenv("APICURIO_URL"), "/")
	}
	return ""
}

// onApicurio are the suite's tests TestApicurio runs again on Apicurio:
// together they cover registration with references (contracts register,
// copies of subjects with references, topic_record), produce and read
// back, refusal of invalid records, consume, dead-lettering (an unknown
// schema id answered by Apicurio's 404 40403), replay, the production
// command, Confluent's own Python client talking to Apicurio, and contract
// rules from the sidecar config (Apicurio drops a schema's ruleSet).
var onApicurio = []struct {
	name string
	run  func(*testing.T)
}{
	{"TestValidBatchIsReadBackByConsumerGroup", TestValidBatchIsReadBackByConsumerGroup},
	{"TestInvalidBatchLeavesTopicEmpty", TestInvalidBatchLeavesTopicEmpty},
	{"TestRunProductionConfig", TestRunProductionConfig},
	{"TestConfluentPythonInterop", TestConfluentPythonInterop},
	{"TestConsumeDeliversValidAndDeadLettersPoison", TestConsumeDeliversValidAndDeadLettersPoison},
	{"TestConsumeReplayRejectedRecords", TestConsumeReplayRejectedRecords},
	{"TestRulesOnBroker", TestRulesOnBroker},
}

// TestApicurio runs eventguard against a real registry, Apicurio Registry.
func TestApicurio(t *testing.T) {
	url := apicurioURL(t)
	kafkaBrokers(t)
	if buildErr != nil {
		t.Fatalf("eventguard binary: %v", buildErr)
	}
	t.Logf("Apicurio Registry %s at %s", os.Getenv("APICURIO_VERSION"), url)

	// First, and alone: the example contracts, which every `eventguard dev
	// --registry` below registers again (idempotent once they are there).
	t.Run("ContractsRegisterAndCheck", func(t *testing.T) { testApicurioContracts(t, url) })
	t.Run("Refusals", func(t *testing.T) { testApicurioRefusals(t, url) })
	t.Run("Deprecations", func(t *testing.T) { testApicurioDeprecations(t, url) })
	t.Run("SameSchemaLaterUnderAnotherSubject", func(t *testing.T) { testApicurioSameSchemaLater(t, url) })
	// `eventguard contracts compat --registry` (issue 12) belongs here once
	// it exists: the folder of ContractsRegisterAndCheck is compatible with
	// what Apicurio holds, the breaking version of Refusals is not.
	for _, tc := range onApicurio {
		t.Run(tc.name, tc.run)
	}
}

// cli runs the eventguard binary with args and returns its stdout, stderr
// and exit code (-1 when it could not run or timed out).
func cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = withoutEventguardEnv()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ctx.Err() != nil {
			t.Fatalf("eventguard %s: %v\nstderr:\n%s", strings.Join(args, " "), err, e.Bytes())
		}
		code = ee.ExitCode()
	}
	return o.String(), e.String(), code
}

// mustCLI is cli that fails the test unless eventguard exits 0.
func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := cli(t, args...)
	if code != 0 {
		t.Fatalf("eventguard %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// copyContracts writes the example contracts to a new folder with every
// subject renamed to <subject>-<suffix> (references.json follows), so that
// a test owns its subjects in the shared registry. It returns the folder.
func copyContracts(t *testing.T, suffix string) string {
	t.Helper()
	src, err := fs.Sub(examples.Contracts, "contracts")
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	rename := func(p string) string {
		first, rest, _ := strings.Cut(p, "/")
		return path.Join(first+"-"+suffix, rest)
	}
	err = fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		out := filepath.Join(dst, filepath.FromSlash(rename(p)))
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		b, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		if path.Base(p) == "references.json" {
			var refs []sr.SchemaReference
			if err := json.Unmarshal(b, &refs); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			for i := range refs {
				refs[i].Subject += "-" + suffix
			}
			if b, err = json.Marshal(refs); err != nil {
				return err
			}
		}
		return os.WriteFile(out, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// writeFile writes b to dir/rel, making the folders.
func writeFile(t *testing.T, dir, rel string, b []byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

var registeredLine = regexp.MustCompile(`(?m)^(\S+) version (\d+) id (\d+)`)

// registered parses `contracts register` output into subject → "version N id M".
func registered(out string) map[string]string {
	m := map[string]string{}
	for _, g := range registeredLine.FindAllStringSubmatch(out, -1) {
		m[g[1]] = "version " + g[2] + " id " + g[3]
	}
	return m
}

// testApicurioContracts: `eventguard contracts register` registers a
// contracts folder (schemas with registry references, a subject's two
// versions) into Apicurio, sets the compatibility levels its subject.yaml
// files declare, and registering again changes nothing; `contracts check
// --registry` validates the golden payloads against the schemas Apicurio
// holds, not the folder's.
func testApicurioContracts(t *testing.T, url string) {
	// The examples as they are: what `eventguard dev --registry` does too.
	out := mustCLI(t, "contracts", "register", "--registry", url, filepath.Join(rootDir, "examples", "contracts"))
	subjects, err := fs.ReadDir(examples.Contracts, "contracts")
	if err != nil {
		t.Fatal(err)
	}
	if got := registered(out); len(got) < len(subjects) {
		t.Fatalf("contracts register of the examples printed:\n%s", out)
	}
	for _, d := range subjects {
		if got := registered(out); d.IsDir() && got[d.Name()] == "" {
			t.Errorf("contracts register of the examples did not report %s:\n%s", d.Name(), out)
		}
	}

	sfx := harness.UniqueName("c")
	dir := copyContracts(t, sfx)
	first := mustCLI(t, "contracts", "register", "--registry", url, dir)
	t.Logf("contracts register:\n%s", first)
	regs := registered(first)
	for _, d := range subjects {
		if s := d.Name(); regs[s+"-"+sfx] == "" {
			t.Errorf("contracts register did not report %s-%s:\n%s", s, sfx, first)
		}
	}
	if again := mustCLI(t, "contracts", "register", "--registry", url, dir); again != first {
		t.Errorf("registering the same folder again changed something:\nfirst:\n%s\nagain:\n%s", first, again)
	}

	cl, err := harness.RegistryClient(url)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// References as the folder declares them, renamed subjects included.
	orders, err := cl.SchemaByVersion(ctx, "orders-OrderPlaced-"+sfx, 1)
	if err != nil {
		t.Fatal(err)
	}
	wantRefs := []sr.SchemaReference{{Name: "pos-envelope.json", Subject: "pos-envelope-" + sfx, Version: 1}}
	if fmt.Sprint(orders.References) != fmt.Sprint(wantRefs) {
		t.Errorf("orders-OrderPlaced-%s version 1 references %v, want %v", sfx, orders.References, wantRefs)
	}
	if want := fmt.Sprintf("version 1 id %d", orders.ID); regs["orders-OrderPlaced-"+sfx] != want {
		t.Errorf("contracts register reported %q for orders-OrderPlaced-%s, the registry holds %q", regs["orders-OrderPlaced-"+sfx], sfx, want)
	}
	if pets, err := cl.SchemaByVersion(ctx, "pets-value-"+sfx, 2); err != nil || pets.Version != 2 {
		t.Errorf("pets-value-%s version 2: %+v, %v", sfx, pets, err)
	}
	// Levels from subject.yaml: BACKWARD for the POS subjects, NONE for pets.
	for subject, want := range map[string]sr.CompatibilityLevel{"pos-envelope-" + sfx: sr.CompatBackward, "orders-OrderPlaced-" + sfx: sr.CompatBackward, "pets-value-" + sfx: sr.CompatNone} {
		res := cl.Compatibility(ctx, subject)
		if len(res) != 1 || res[0].Err != nil || res[0].Level != want {
			t.Errorf("compatibility of %s: %+v, want %s", subject, res, want)
		}
	}

	// check --registry validates against what Apicurio holds: a folder
	// whose schema changed locally still passes there, and fails offline.
	// Every golden payload (valid/ and invalid/ folders) is one check.
	goldens, err := fs.Glob(examples.Contracts, "contracts/*/*/*valid/*.json")
	if err != nil {
		t.Fatal(err)
	}
	checkOut := mustCLI(t, "contracts", "check", "--registry", url, dir)
	if !strings.Contains(checkOut, fmt.Sprintf("\n%d passed, 0 failed\n", len(goldens))) {
		t.Errorf("contracts check --registry: want %d passed, 0 failed:\n%s", len(goldens), checkOut)
	}
	stricter := strings.Replace(readFile(t, dir, "pets-value-"+sfx+"/2/schema.json"), `"required": [`, `"required": ["only_in_the_folder", `, 1)
	if !strings.Contains(stricter, "only_in_the_folder") {
		t.Fatal(`pets-value/2/schema.json has no "required": [ to extend`)
	}
	writeFile(t, dir, "pets-value-"+sfx+"/2/schema.json", []byte(stricter))
	if out, _, code := cli(t, "contracts", "check", dir); code != 1 || !strings.Contains(out, "only_in_the_folder") {
		t.Errorf("offline contracts check of the changed folder: exit %d, want 1 naming only_in_the_folder:\n%s", code, out)
	}
	if out := mustCLI(t, "contracts", "check", "--registry", url, dir); !strings.Contains(out, " 0 failed") {
		t.Errorf("contracts check --registry of the changed folder must use the registered schema:\n%s", out)
	}
}

// readFile returns dir/rel.
func readFile(t *testing.T, dir, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// testApicurioRefusals: what Apicurio refuses, as `contracts register`
// reports it. A breaking version of a BACKWARD subject is Apicurio's 409,
// and nothing is registered; a schema without "$schema" or "properties" at
// its top level is not taken as a JSON Schema at all (422 42201, where
// Confluent's registry and srfake accept it), and eventguard says to
// declare the draft; Apicurio's global level is NONE (Confluent's is
// BACKWARD), so only subjects whose level is set get any check.
func testApicurioRefusals(t *testing.T, url string) {
	cl, err := harness.RegistryClient(url)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	sfx := harness.UniqueName("r")
	dir := copyContracts(t, sfx)
	mustCLI(t, "contracts", "register", "--registry", url, dir)
	// Version 2 of OrderPlaced requires a new property: old events lack it.
	// `contracts register` runs eventguard's own compatibility check first
	// and refuses it before the registry sees it; --allow-breaking reaches
	// Apicurio's 409.
	var v1 map[string]any
	if err := json.Unmarshal([]byte(readFile(t, dir, "orders-OrderPlaced-"+sfx+"/1/schema.json")), &v1); err != nil {
		t.Fatal(err)
	}
	v1["properties"].(map[string]any)["channel"] = map[string]any{"type": "string"}
	v1["required"] = append(v1["required"].([]any), "channel")
	v2, _ := json.MarshalIndent(v1, "", "  ")
	writeFile(t, dir, "orders-OrderPlaced-"+sfx+"/2/schema.json", v2)
	writeFile(t, dir, "orders-OrderPlaced-"+sfx+"/2/references.json", []byte(readFile(t, dir, "orders-OrderPlaced-"+sfx+"/1/references.json")))
	out, errOut, code := cli(t, "contracts", "register", "--registry", url, dir)
	if code == 0 || !strings.Contains(out, "orders-OrderPlaced-"+sfx+": version 1 -> 2 (BACKWARD): BREAKING") || !strings.Contains(errOut, "nothing registered") {
		t.Errorf("a breaking version of a BACKWARD subject: exit %d, want eventguard's own check to refuse it:\n%s%s", code, out, errOut)
	}
	out, errOut, code = cli(t, "contracts", "register", "--allow-breaking", "--registry", url, dir)
	t.Logf("contracts register --allow-breaking of a breaking version: exit %d\n%s%s", code, out, errOut)
	if code == 0 || !strings.Contains(errOut, "HTTP 409, error code 409") || !strings.Contains(errOut, "Incompatible") {
		t.Errorf("a breaking version of a BACKWARD subject: exit %d, want a failure quoting Apicurio's 409:\n%s", code, errOut)
	}
	if vs, err := cl.SubjectVersions(ctx, "orders-OrderPlaced-"+sfx); err != nil || len(vs) != 1 {
		t.Errorf("after the refusal orders-OrderPlaced-%s has versions %v (%v), want only 1", sfx, vs, err)
	}

	// A schema that declares neither $schema nor properties.
	bare := t.TempDir()
	writeFile(t, bare, "bare-"+sfx+"/1/schema.json", []byte(`{"type": "object", "required": ["id"]}`))
	out, errOut, code = cli(t, "contracts", "register", "--registry", url, bare)
	t.Logf("contracts register of a schema without $schema: exit %d\n%s%s", code, out, errOut)
	if code == 0 || !strings.Contains(errOut, "HTTP 422, error code 42201") || !strings.Contains(errOut, `declare its draft at the top level, e.g. "$schema"`) {
		t.Errorf("a schema without $schema or properties: exit %d, want Apicurio's 422 42201 with eventguard's hint:\n%s", code, errOut)
	}
	if _, err := cl.SubjectVersions(ctx, "bare-"+sfx); err == nil {
		t.Errorf("bare-%s exists after the refusal", sfx)
	}
	// The same schema with its draft declared is taken.
	writeFile(t, bare, "bare-"+sfx+"/1/schema.json", []byte(`{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "required": ["id"]}`))
	mustCLI(t, "contracts", "register", "--registry", url, bare)

	// Apicurio's global compatibility level.
	global := cl.Compatibility(ctx)
	if len(global) != 1 || global[0].Err != nil || global[0].Level != sr.CompatNone {
		t.Errorf("Apicurio's global compatibility: %+v, want NONE (docs/testing.md says so)", global)
	}
}

// testApicurioDeprecations: a deprecation declared in eventguard's config
// works with Apicurio; one declared in the schema's registry metadata does
// not, because Apicurio accepts the metadata and drops it (Confluent's
// registry keeps it): docs/observability.md says registry-metadata
// deprecations need a registry that keeps metadata.
func testApicurioDeprecations(t *testing.T, url string) {
	cfgTopic := harness.UniqueName("e2e-apicurio-depr-cfg")
	metaTopic := harness.UniqueName("e2e-apicurio-depr-meta")
	cl, err := harness.RegistryClient(url)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pets, err := cl.SchemaByVersion(ctx, "pets-value", 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateSchema(ctx, cfgTopic+"-value", pets.Schema); err != nil {
		t.Fatal(err)
	}
	withMeta := pets.Schema
	withMeta.SchemaMetadata = &sr.SchemaMetadata{Properties: map[string]string{
		"eventguard.deprecated.sunset": "2099-12-31",
		"eventguard.deprecated.owner":  "team-e2e",
	}}
	if _, err := cl.CreateSchema(ctx, metaTopic+"-value", withMeta); err != nil {
		t.Fatalf("register with metadata: %v", err)
	}
	got, err := cl.SchemaByVersion(ctx, metaTopic+"-value", 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.SchemaMetadata != nil {
		t.Errorf("Apicurio kept the schema metadata %+v: registry-metadata deprecations now work with it; update docs/observability.md and this test", got.SchemaMetadata)
	}

	e := start(t, fmt.Sprintf(`deprecations:
  - subject: %s-value
    version: 1
    sunset: 2099-12-31
    owner: team-e2e
`, cfgTopic))
	if e.sc.Registry != url {
		t.Fatalf("the sidecar uses registry %s, want Apicurio at %s", e.sc.Registry, url)
	}
	for topic, deprecated := range map[string]bool{cfgTopic: true, metaTopic: false} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		a, err := e.post(ctx, topic, []rec{{Key: "pet-1", Value: petEvent("pet-1", 4100)}}, nil)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != http.StatusOK {
			t.Fatalf("produce to %s: %d %s", topic, a.Status, a.Raw)
		}
		if has := a.Header.Get("Deprecation") != "" && a.Header.Get("Eventguard-Deprecated") != ""; has != deprecated {
			t.Errorf("produce to %s: deprecation headers %v (Deprecation %q, Eventguard-Deprecated %q), want %v", topic, has, a.Header.Get("Deprecation"), a.Header.Get("Eventguard-Deprecated"), deprecated)
		}
	}
}

// testApicurioSameSchemaLater: a registry gives an identical schema
// registered under a new subject the id it already has. A subscription on
// the new subject's topic delivers records framed with that id even though
// the sidecar cached the id, and where it was registered, before the new
// registration: it asks the registry again rather than dead-lettering them
// as framed with another subject's schema (wrong_subject).
func testApicurioSameSchemaLater(t *testing.T, url string) {
	brokers := kafkaBrokers(t)
	topicA := harness.UniqueName("e2e-apicurio-same-a")
	topicB := harness.UniqueName("e2e-apicurio-same-b")
	createTopic(t, brokers, topicA, 1)
	createTopic(t, brokers, topicB, 1)
	app := newSink(t, always200)
	subA := newSubscription("same-a", topicA, app.url("/a"))
	subB := newSubscription("same-b", topicB, app.url("/b"))
	cfg := subA.yaml() + strings.SplitN(subB.yaml(), "subscriptions:\n", 2)[1]
	e := start(t, cfg)
	if e.sc.Registry != url {
		t.Fatalf("the sidecar uses registry %s, want Apicurio at %s", e.sc.Registry, url)
	}
	prod := newProducer(t, brokers)
	a := e.copySubject(topicA+"-value", "pets-value", 2)
	produceSync(t, prod, &kgo.Record{Topic: topicA, Key: []byte("a-1"), Value: wire(a.ID, petEvent("a-1", 4000))})
	app.waitOK(1, 30*time.Second)

	// Past the resolver's refresh interval, the same schema under B.
	time.Sleep(validate.RegistrationsRefresh + 200*time.Millisecond)
	b := e.copySubject(topicB+"-value", "pets-value", 2)
	if b.ID != a.ID {
		t.Fatalf("Apicurio gave the same schema under %s-value id %d, not %d: the case this test is about is gone", topicB, b.ID, a.ID)
	}
	produceSync(t, prod, &kgo.Record{Topic: topicB, Key: []byte("b-1"), Value: wire(b.ID, petEvent("b-1", 4001))})
	app.waitOK(2, 30*time.Second)
	got := app.delivered()
	if len(got) != 2 || got[1].Key != "b-1" || got[1].Header.Get("Eventguard-Subject") != topicB+"-value" {
		t.Errorf("deliveries %s; want a-1, then b-1 as %s-value", app.summary(), topicB)
	}
	if n := mustCount(t, brokers, topicB+".dlq"); n != 0 {
		t.Errorf("%s.dlq holds %d records: a record of the same schema under a later subject was dead-lettered", topicB, n)
	}
}
