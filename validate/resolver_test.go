package validate_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/internal/testutil"
	"github.com/eventguard/eventguard/validate"
)

var ctx = context.Background()

// lookups records the resolver's cache outcomes.
type lookups struct {
	mu  sync.Mutex
	got []string
}

func (l *lookups) SchemaLookup(kind, outcome string) {
	l.mu.Lock()
	l.got = append(l.got, kind+":"+outcome)
	l.mu.Unlock()
}

func (l *lookups) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.got
	l.got = nil
	return g
}

// callsDuring returns how many registry requests fn made.
func callsDuring(st *testutil.Stack, fn func()) int64 {
	before := st.RegistryCalls()
	fn()
	return st.RegistryCalls() - before
}

func TestResolve(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	avroID := 90001
	st.Registry.SeedSchema("avro-value", 1, avroID, sr.Schema{Type: sr.TypeAvro, Schema: `{"type":"record","name":"A","fields":[]}`})
	st.Registry.SeedSchema("avro-broken", 1, avroID+1, sr.Schema{Type: sr.TypeAvro, Schema: `{"type":"record","name":"A","fields":[{"name":"x","type":"Nope"}]}`})
	st.Registry.SeedSchema("proto-common", 1, avroID+2, sr.Schema{Type: sr.TypeProtobuf, Schema: `syntax = "proto3"; package c; message M { int64 v = 1; }`})
	st.Registry.SeedSchema("proto-value", 1, avroID+3, sr.Schema{Type: sr.TypeProtobuf,
		Schema:     `syntax = "proto3"; import "c/m.proto"; import "buf/validate/validate.proto"; message A { c.M m = 1 [(buf.validate.field).required = true]; }`,
		References: []sr.SchemaReference{{Name: "c/m.proto", Subject: "proto-common", Version: 1}}})
	st.Registry.SeedSchema("proto-missing-ref", 1, avroID+4, sr.Schema{Type: sr.TypeProtobuf,
		Schema: `syntax = "proto3"; import "c/m.proto"; message A { c.M m = 1; }`})
	st.Register(t, "broken-value", `{"type":12}`)
	// The same schema text under a second subject gets the same id.
	b, _ := os.ReadFile(filepath.Join("..", "examples", "contracts", "pets-value", "1", "schema.json"))
	aliasID, _ := st.Register(t, "alias-value", string(b))
	if aliasID != st.ID(t, "pets-value", 1) {
		t.Fatalf("srfake gave the alias id %d, want pets-value v1's %d", aliasID, st.ID(t, "pets-value", 1))
	}

	type call func(*validate.Resolver) (*validate.Schema, error)
	tests := []struct {
		name    string
		call    call
		subject string
		version int
		id      int
		err     error
		msg     []string // substrings of the error
	}{
		{name: "latest", call: func(r *validate.Resolver) (*validate.Schema, error) { return r.Latest(ctx, "pets-value") },
			subject: "pets-value", version: 2, id: st.ID(t, "pets-value", 2)},
		{name: "pinned version", call: func(r *validate.Resolver) (*validate.Schema, error) { return r.ByVersion(ctx, "pets-value", 1) },
			subject: "pets-value", version: 1, id: st.ID(t, "pets-value", 1)},
		{name: "pinned id", call: func(r *validate.Resolver) (*validate.Schema, error) {
			return r.ByID(ctx, st.ID(t, "pets-value", 2), "")
		}, subject: "pets-value", version: 2, id: st.ID(t, "pets-value", 2)},
		{name: "pinned id, preferred subject", call: func(r *validate.Resolver) (*validate.Schema, error) {
			return r.ByID(ctx, aliasID, "alias-value")
		}, subject: "alias-value", version: 1, id: aliasID},
		{name: "pinned id, preferred subject pets-value", call: func(r *validate.Resolver) (*validate.Schema, error) {
			return r.ByID(ctx, aliasID, "pets-value")
		}, subject: "pets-value", version: 1, id: aliasID},
		// Without a registration under the preferred subject, either
		// registration is a right label.
		{name: "pinned id, preferred subject not registered", call: func(r *validate.Resolver) (*validate.Schema, error) {
			return r.ByID(ctx, aliasID, "orders-OrderPlaced")
		}, subject: "pets-value|alias-value", version: 1, id: aliasID},
		{name: "pinned id, no preference", call: func(r *validate.Resolver) (*validate.Schema, error) {
			return r.ByID(ctx, aliasID, "")
		}, subject: "pets-value|alias-value", version: 1, id: aliasID},
		{name: "registry references", call: func(r *validate.Resolver) (*validate.Schema, error) { return r.Latest(ctx, "orders-OrderPlaced") },
			subject: "orders-OrderPlaced", version: 1, id: st.ID(t, "orders-OrderPlaced", 1)},
		{name: "unknown subject", call: func(r *validate.Resolver) (*validate.Schema, error) { return r.Latest(ctx, "nope-value") },
			err: validate.ErrNotFound, msg: []string{`subject "nope-value"`}},
		{name: "unknown version", call: func(r *validate.Resolver) (*validate.Schema, error) { return r.ByVersion(ctx, "pets-value", 9) },
			err: validate.ErrNotFound, msg: []string{`subject "pets-value" version 9`}},
		{name: "unknown id", call: func(r *validate.Resolver) (*validate.Schema, error) { return r.ByID(ctx, 77777, "") },
			err: validate.ErrNotFound, msg: []string{"schema id 77777"}},
		{name: "AVRO", call: func(r *validate.Resolver) (*validate.Schema, error) { return r.Latest(ctx, "avro-value") },
			subject: "avro-value", version: 1, id: avroID},
		{name: "AVRO by id", call: func(r *validate.Resolver) (*validate.Schema, error) { return r.ByID(ctx, avroID, "") },
			subject: "avro-value", version: 1, id: avroID},
		{name: "AVRO that does not compile", call: func(r *validate.Resolver) (*validate.Schema, error) { return r.Latest(ctx, "avro-broken") },
			err: validate.ErrBadSchema, msg: []string{fmt.Sprintf("Avro schema id %d does not compile", avroID+1), "Nope"}},
		{name: "PROTOBUF with a reference and buf.validate", call: func(r *validate.Resolver) (*validate.Schema, error) { return r.Latest(ctx, "proto-value") },
			subject: "proto-value", version: 1, id: avroID + 3},
		{name: "PROTOBUF without its reference", call: func(r *validate.Resolver) (*validate.Schema, error) { return r.Latest(ctx, "proto-missing-ref") },
			err: validate.ErrBadSchema, msg: []string{"does not compile", "c/m.proto"}},
		{name: "schema that does not compile", call: func(r *validate.Resolver) (*validate.Schema, error) { return r.Latest(ctx, "broken-value") },
			err: validate.ErrBadSchema, msg: []string{"does not compile"}},
	}
	res := st.Resolver(t, validate.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := tt.call(res)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				for _, m := range tt.msg {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("err = %q, want it to contain %q", err, m)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains("|"+tt.subject+"|", "|"+s.Subject+"|") || s.Version != tt.version || s.ID != tt.id {
				t.Errorf("got %s v%d id %d, want %s v%d id %d", s.Subject, s.Version, s.ID, tt.subject, tt.version, tt.id)
			}
		})
	}
}

// TestRegistryReferences: orders-OrderPlaced takes its envelope from the
// pos-envelope subject through a registry reference, so a payload without
// the envelope's tenant_id fails on a keyword that lives in pos-envelope.
func TestRegistryReferences(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	s, err := st.Resolver(t, validate.Options{}).Latest(ctx, "orders-OrderPlaced")
	if err != nil {
		t.Fatal(err)
	}
	valid, err := os.ReadFile(filepath.Join("..", "examples", "contracts", "orders-OrderPlaced", "1", "valid", "typical.json"))
	if err != nil {
		t.Fatal(err)
	}
	if f := s.Validate(valid); f != nil {
		t.Fatalf("typical order: %+v", f)
	}
	// When the envelope fails, its properties count as unevaluated too
	// (JSON Schema drops a failed subschema's annotations), so the
	// unevaluatedProperties: false of orders-OrderPlaced reports them.
	noTenant := strings.Replace(string(valid), `"tenant_id":"cafe-12",`, "", 1)
	f := s.Validate([]byte(noTenant))
	if f == nil {
		t.Fatal("without tenant_id: valid")
	}
	want := "[{/event_id unevaluatedProperties} {/occurred_at unevaluatedProperties} {/tenant_id required} {/version unevaluatedProperties}]"
	if got := fmt.Sprint(pathsKeywords(f.Violations)); got != want {
		t.Errorf("without tenant_id: %s, want %s", got, want)
	}
	// A property neither schema declares.
	f = s.Validate([]byte(strings.Replace(string(valid), `{`, `{"coupon":"X",`, 1)))
	if got := fmt.Sprint(pathsKeywords(f.Violations)); got != "[{/coupon unevaluatedProperties}]" {
		t.Errorf("with an undeclared property: %s", got)
	}

	// A reference the registry does not have is a schema that cannot be used.
	st.Register(t, "dangling-value", `{"$ref":"missing.json"}`)
	_, err = st.Resolver(t, validate.Options{}).Latest(ctx, "dangling-value")
	if !errors.Is(err, validate.ErrBadSchema) || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("dangling reference: err = %v, want ErrBadSchema naming missing.json", err)
	}
}

// TestRemoteRefRefused: a $ref to a URL that is not a registry reference
// fails the compile with ErrBadSchema naming the URL, and nothing is fetched:
// the referenced documents are real and valid, so a fetch would have made
// the compile succeed, and the HTTP server counts every request it gets.
func TestRemoteRefRefused(t *testing.T) {
	t.Parallel()
	var fetched atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		w.Header().Set("Content-Type", "application/schema+json")
		fmt.Fprint(w, `{"type":"string"}`)
	}))
	t.Cleanup(srv.Close)
	file := filepath.Join(t.TempDir(), "x.json")
	if err := os.WriteFile(file, []byte(`{"type":"string"}`), 0o644); err != nil {
		t.Fatal(err)
	}

	st := testutil.Start(t)
	tests := []struct{ subject, url string }{
		{"remote-https-value", "https://example.com/x.json"},
		{"remote-http-value", srv.URL + "/x.json"},
		{"remote-file-value", "file://" + filepath.ToSlash(file)},
		{"remote-nested-value", srv.URL + "/nested.json#/definitions/a"},
	}
	res := st.Resolver(t, validate.Options{})
	for _, tt := range tests {
		t.Run(tt.subject, func(t *testing.T) {
			schema := fmt.Sprintf(`{"type":"object","properties":{"a":{"$ref":%q}}}`, tt.url)
			st.Register(t, tt.subject, schema)
			_, err := res.Latest(ctx, tt.subject)
			if !errors.Is(err, validate.ErrBadSchema) {
				t.Fatalf("err = %v, want ErrBadSchema", err)
			}
			base, _, _ := strings.Cut(tt.url, "#")
			if !strings.Contains(err.Error(), base) {
				t.Errorf("err = %q, want it to name %s", err, base)
			}
			if !strings.Contains(err.Error(), "never fetches") {
				t.Errorf("err = %q, want it to say eventguard never fetches URLs", err)
			}
		})
	}
	if n := fetched.Load(); n != 0 {
		t.Errorf("the schema server was asked %d times; eventguard must never fetch a $ref", n)
	}
}

func TestRegistryDown(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	res := st.Resolver(t, validate.Options{})
	v1 := st.ID(t, "pets-value", 1)
	// Warm: latest, a pinned version and a pinned id.
	for _, f := range []func() (*validate.Schema, error){
		func() (*validate.Schema, error) { return res.Latest(ctx, "pets-value") },
		func() (*validate.Schema, error) { return res.ByVersion(ctx, "pets-value", 1) },
		func() (*validate.Schema, error) { return res.ByID(ctx, v1, "") },
	} {
		if _, err := f(); err != nil {
			t.Fatal(err)
		}
	}
	st.SetRegistryDown(true)

	t.Run("warm cache serves", func(t *testing.T) {
		if s, err := res.Latest(ctx, "pets-value"); err != nil || s.Version != 2 {
			t.Errorf("latest: %v %v", s, err)
		}
		if s, err := res.ByVersion(ctx, "pets-value", 1); err != nil || s.ID != v1 {
			t.Errorf("version 1: %v %v", s, err)
		}
		if s, err := res.ByID(ctx, v1, ""); err != nil || s.Version != 1 {
			t.Errorf("id %d: %v %v", v1, s, err)
		}
	})
	t.Run("an id compiled through its latest version serves", func(t *testing.T) {
		s, err := res.ByID(ctx, st.ID(t, "pets-value", 2), "pets-value")
		if err != nil || s.Subject != "pets-value" || s.Version != 2 {
			t.Errorf("id of pets-value v2: %v %v", s, err)
		}
	})
	t.Run("cold cache is unavailable, never a pass", func(t *testing.T) {
		payment := st.ID(t, "orders-PaymentCompleted", 1)
		for name, f := range map[string]func() (*validate.Schema, error){
			"latest":  func() (*validate.Schema, error) { return res.Latest(ctx, "orders-OrderPlaced") },
			"version": func() (*validate.Schema, error) { return res.ByVersion(ctx, "orders-PaymentCompleted", 1) },
			"id":      func() (*validate.Schema, error) { return res.ByID(ctx, payment, "") },
		} {
			s, err := f()
			if !errors.Is(err, validate.ErrUnavailable) || s != nil {
				t.Errorf("%s: got %v, %v; want ErrUnavailable", name, s, err)
			}
			if errors.Is(err, validate.ErrNotFound) {
				t.Errorf("%s: a registry outage must not read as not found: %v", name, err)
			}
		}
	})
	t.Run("unavailable is not remembered", func(t *testing.T) {
		st.SetRegistryDown(false)
		if _, err := res.Latest(ctx, "orders-OrderPlaced"); err != nil {
			t.Errorf("after the registry came back: %v", err)
		}
	})
}

func TestRegistryUnreachable(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1: connection refused.
	cl, err := validate.NewRegistryClient(config.Registry{URL: "http://127.0.0.1:1", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	res := validate.NewResolver(cl, validate.Options{})
	_, err = res.Latest(ctx, "pets-value")
	if !errors.Is(err, validate.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), `resolve latest version of subject "pets-value"`) {
		t.Errorf("err = %q, want it to say what was being resolved", err)
	}
}

func TestRegistryRefusesCredentials(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	st.Registry.Intercept(func(w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error_code":40101,"message":"bad credentials"}`)
		return true
	})
	_, err := st.Resolver(t, validate.Options{}).Latest(ctx, "pets-value")
	if !errors.Is(err, validate.ErrUnavailable) || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("err = %v, want ErrUnavailable about credentials", err)
	}
}

func TestLatestTTL(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	clock := testutil.NewClock(time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC))
	obs := &lookups{}
	res := st.Resolver(t, validate.Options{LatestTTL: 30 * time.Second, Now: clock.Now, Observer: obs})
	st.Register(t, "ttl-value", `{"type":"object"}`)

	latest := func() int {
		t.Helper()
		s, err := res.Latest(ctx, "ttl-value")
		if err != nil {
			t.Fatal(err)
		}
		return s.Version
	}
	if v := latest(); v != 1 {
		t.Fatalf("latest = %d, want 1", v)
	}
	st.Register(t, "ttl-value", `{"type":"object","required":["a"]}`)

	clock.Advance(29 * time.Second)
	if n := callsDuring(st, func() {
		if v := latest(); v != 1 {
			t.Errorf("within the TTL: latest = %d, want the cached 1", v)
		}
	}); n != 0 {
		t.Errorf("within the TTL: %d registry calls, want 0", n)
	}
	clock.Advance(time.Second)
	if n := callsDuring(st, func() {
		if v := latest(); v != 2 {
			t.Errorf("after the TTL: latest = %d, want 2", v)
		}
	}); n != 1 {
		t.Errorf("after the TTL: %d registry calls, want 1", n)
	}
	if got, want := strings.Join(obs.take(), " "), "latest:miss latest:hit latest:miss"; got != want {
		t.Errorf("observed %q, want %q", got, want)
	}
}

func TestStaleLatestKeptWhenRegistryDown(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	clock := testutil.NewClock(time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC))
	obs := &lookups{}
	res := st.Resolver(t, validate.Options{LatestTTL: 10 * time.Second, Now: clock.Now, Observer: obs})
	if _, err := res.Latest(ctx, "pets-value"); err != nil {
		t.Fatal(err)
	}
	st.SetRegistryDown(true)
	clock.Advance(time.Minute)
	if n := callsDuring(st, func() {
		s, err := res.Latest(ctx, "pets-value")
		if err != nil || s.Version != 2 {
			t.Errorf("stale latest: %v %v, want version 2 served from cache", s, err)
		}
	}); n != 1 {
		t.Errorf("refresh attempt made %d registry calls, want 1", n)
	}
	// The failed refresh counts as a check: no call again until the TTL passes.
	clock.Advance(5 * time.Second)
	if n := callsDuring(st, func() {
		if _, err := res.Latest(ctx, "pets-value"); err != nil {
			t.Error(err)
		}
	}); n != 0 {
		t.Errorf("right after a failed refresh: %d registry calls, want 0", n)
	}
	if got, want := strings.Join(obs.take(), " "), "latest:miss latest:miss latest:stale latest:hit"; got != want {
		t.Errorf("observed %q, want %q", got, want)
	}
}

func TestNotFoundRemembered(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	clock := testutil.NewClock(time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC))
	res := st.Resolver(t, validate.Options{NotFoundTTL: 5 * time.Second, Now: clock.Now})

	ask := func() error { _, err := res.Latest(ctx, "late-value"); return err }
	if n := callsDuring(st, func() {
		if err := ask(); !errors.Is(err, validate.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	}); n != 1 {
		t.Errorf("first miss: %d calls, want 1", n)
	}
	st.Register(t, "late-value", `{}`)
	clock.Advance(4 * time.Second)
	if n := callsDuring(st, func() {
		for i := 0; i < 10; i++ {
			if err := ask(); !errors.Is(err, validate.ErrNotFound) {
				t.Errorf("within NotFoundTTL: err = %v, want the remembered ErrNotFound", err)
			}
		}
	}); n != 0 {
		t.Errorf("within NotFoundTTL: %d calls, want 0", n)
	}
	clock.Advance(time.Second)
	if n := callsDuring(st, func() {
		if err := ask(); err != nil {
			t.Errorf("after NotFoundTTL: %v", err)
		}
	}); n != 1 {
		t.Errorf("after NotFoundTTL: %d calls, want 1", n)
	}

	// Unknown ids are remembered too.
	if n := callsDuring(st, func() {
		for i := 0; i < 5; i++ {
			if _, err := res.ByID(ctx, 123456, ""); !errors.Is(err, validate.ErrNotFound) {
				t.Errorf("unknown id: %v", err)
			}
		}
	}); n != 1 {
		t.Errorf("unknown id asked 5 times: %d calls, want 1", n)
	}
}

// TestSingleflight: 50 goroutines missing the same entry at once make one
// registry call. The registry holds its answer until every goroutine has
// been started, so without singleflight each of them would call.
func TestSingleflight(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		calls int64 // registry requests one miss costs
		call  func(*validate.Resolver, *testutil.Stack) (*validate.Schema, error)
	}{
		{"latest", 1, func(r *validate.Resolver, _ *testutil.Stack) (*validate.Schema, error) {
			return r.Latest(ctx, "pets-value")
		}},
		{"version", 1, func(r *validate.Resolver, _ *testutil.Stack) (*validate.Schema, error) {
			return r.ByVersion(ctx, "pets-value", 1)
		}},
		// By id: the schema, then where it is registered.
		{"id", 2, func(r *validate.Resolver, st *testutil.Stack) (*validate.Schema, error) {
			return r.ByID(ctx, st.ID(t, "pets-value", 2), "")
		}},
		// By version with a reference: the schema, then pos-envelope.
		{"references", 2, func(r *validate.Resolver, _ *testutil.Stack) (*validate.Schema, error) {
			return r.ByVersion(ctx, "orders-OrderPlaced", 1)
		}},
		{"not found", 1, func(r *validate.Resolver, _ *testutil.Stack) (*validate.Schema, error) {
			return r.Latest(ctx, "nobody-value")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := testutil.Start(t)
			const n = 50
			var launched sync.WaitGroup
			launched.Add(n)
			release := make(chan struct{})
			var once sync.Once
			st.Registry.Intercept(func(http.ResponseWriter, *http.Request) bool {
				once.Do(func() { go func() { launched.Wait(); close(release) }() })
				<-release
				return false
			})
			res := st.Resolver(t, validate.Options{})
			var wg sync.WaitGroup
			errs := make([]error, n)
			before := st.RegistryCalls()
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					launched.Done()
					_, errs[i] = tt.call(res, st)
				}()
			}
			wg.Wait()
			if got := st.RegistryCalls() - before; got != tt.calls {
				t.Errorf("%d goroutines missing at once made %d registry calls, want %d", n, got, tt.calls)
			}
			for i := 1; i < n; i++ {
				if (errs[i] == nil) != (errs[0] == nil) || errs[0] != nil && !errors.Is(errs[i], validate.ErrNotFound) {
					t.Fatalf("goroutine %d got %v, goroutine 0 got %v", i, errs[i], errs[0])
				}
			}
		})
	}
}

// TestWarmPathNoRegistryCalls: once resolved, latest (within its TTL),
// versions and ids are served, and values validated, without a registry call.
func TestWarmPathNoRegistryCalls(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	res := st.Resolver(t, validate.Options{})
	id2 := st.ID(t, "pets-value", 2)
	ops := func() {
		for _, f := range []func() (*validate.Schema, error){
			func() (*validate.Schema, error) { return res.Latest(ctx, "pets-value") },
			func() (*validate.Schema, error) { return res.Latest(ctx, "orders-OrderPlaced") },
			func() (*validate.Schema, error) { return res.ByVersion(ctx, "pets-value", 1) },
			func() (*validate.Schema, error) { return res.ByID(ctx, id2, "pets-value") },
		} {
			s, err := f()
			if err != nil {
				t.Fatal(err)
			}
			s.Validate([]byte(`{"pet_id":"p"}`))
		}
	}
	if n := callsDuring(st, ops); n == 0 {
		t.Fatal("the cold pass made no registry call: the counter does not count")
	}
	if n := callsDuring(st, func() {
		for i := 0; i < 200; i++ {
			ops()
		}
	}); n != 0 {
		t.Errorf("warm path made %d registry calls, want 0", n)
	}
}

// TestRegistryClientErrors: a registry 4xx that is not "not found" is the
// asker's problem (ErrRejected: retrying cannot help), except 401/403
// (our credentials), 408 and 429 (transient), which are ErrUnavailable;
// 5xx are ErrUnavailable (issue 10, item 8: a 2 MB type made the registry
// answer 431, and eventguard answered 503 forever).
func TestRegistryClientErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		want   error
	}{
		{http.StatusRequestHeaderFieldsTooLarge, validate.ErrRejected},
		{http.StatusRequestURITooLong, validate.ErrRejected},
		{http.StatusBadRequest, validate.ErrRejected},
		{http.StatusRequestEntityTooLarge, validate.ErrRejected},
		{http.StatusRequestTimeout, validate.ErrUnavailable},
		{http.StatusTooManyRequests, validate.ErrUnavailable},
		{http.StatusForbidden, validate.ErrUnavailable},
		{http.StatusInternalServerError, validate.ErrUnavailable},
		{http.StatusBadGateway, validate.ErrUnavailable},
		{http.StatusNotFound, validate.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			t.Parallel()
			st := testutil.Start(t)
			st.Registry.Intercept(func(w http.ResponseWriter, _ *http.Request) bool {
				w.WriteHeader(tt.status)
				fmt.Fprintf(w, `{"error_code":%d,"message":"%s"}`, tt.status*100, strings.Repeat("m", 2000))
				return true
			})
			_, err := st.Resolver(t, validate.Options{}).Latest(ctx, "pets-value")
			if !errors.Is(err, tt.want) {
				t.Fatalf("HTTP %d: err = %v, want %v", tt.status, err, tt.want)
			}
			if len(err.Error()) > 600 {
				t.Errorf("HTTP %d: the error quotes the registry's whole answer (%d bytes)", tt.status, len(err.Error()))
			}
		})
	}
}
