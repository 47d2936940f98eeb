package config_test

import (
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eventguard/eventguard/config"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// withLists is a config with one element in every list of objects, so the
// defaults of their fields show.
const withLists = `
topics: [{name: pets}]
subscriptions: [{name: sub, topics: [pets], deliver: {url: "http://127.0.0.1:3000/events"}}]
deprecations: [{subject: pets-value, version: 1, sunset: 2027-03-31, replacement: {subject: pets-value, version: 2}}]
`

func loadString(t *testing.T, yaml string, env []string) (*config.Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "eventguard.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return config.Load(path, env)
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := loadString(t, withLists, nil)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "eventguard"
	}
	s, d := c.Subscriptions[0], c.Deprecations[0]
	tests := []struct {
		field     string
		got, want any
	}{
		{"feature", c.Feature, "default"},
		{"instance", c.Instance, host},
		{"kafka.brokers", c.Kafka.Brokers, []string{"127.0.0.1:9092"}},
		{"kafka.client_id", c.Kafka.ClientID, "eventguard"},
		{"kafka.compression", c.Kafka.Compression, "snappy"},
		{"kafka.linger", c.Kafka.Linger, time.Duration(0)},
		{"kafka.max_buffered_records", c.Kafka.MaxBufferedRecords, 10000},
		{"kafka.max_buffered_bytes", c.Kafka.MaxBufferedBytes, 16 << 20},
		{"kafka.auto_create_topics", c.Kafka.AutoCreateTopics, false},
		{"kafka.tls.enabled", c.Kafka.TLS.Enabled, false},
		{"kafka.sasl.mechanism", c.Kafka.SASL.Mechanism, ""},
		{"registry.url", c.Registry.URL, "http://127.0.0.1:8081"},
		{"registry.timeout", c.Registry.Timeout, 5 * time.Second},
		{"registry.latest_ttl", c.Registry.LatestTTL, 30 * time.Second},
		{"listen.http", c.Listen.HTTP, "127.0.0.1:8080"},
		{"listen.grpc", c.Listen.GRPC, "127.0.0.1:9090"},
		{"listen.admin", c.Listen.Admin, "0.0.0.0:9464"},
		{"listen.read_timeout", c.Listen.ReadTimeout, 30 * time.Second},
		{"listen.idle_timeout", c.Listen.IdleTimeout, 2 * time.Minute},
		{"listen.max_connections", c.Listen.MaxConnections, 1024},
		{"allow_any_topic", c.AllowAnyTopic, false},
		{"topics[0].subject_strategy", c.Topics[0].SubjectStrategy, config.StrategyTopic},
		{"topics[0].key_required", c.Topics[0].KeyRequired, false},
		{"limits.max_body_bytes", c.Limits.MaxBodyBytes, int64(4 << 20)},
		{"limits.max_records_per_request", c.Limits.MaxRecordsPerRequest, 1000},
		{"limits.max_value_bytes", c.Limits.MaxValueBytes, 1000000},
		{"limits.max_key_bytes", c.Limits.MaxKeyBytes, 4096},
		{"limits.produce_timeout", c.Limits.ProduceTimeout, 10 * time.Second},
		{"subscriptions[0].group", s.Group, "sub"},
		{"subscriptions[0].deliver.timeout", s.Deliver.Timeout, 10 * time.Second},
		{"subscriptions[0].deliver.format", s.Deliver.Format, "eventguard"},
		{"subscriptions[0].dlq_topic", s.DLQTopicFor("pets"), "pets.dlq"},
		{"subscriptions[0].retry.attempts", s.Retry.Attempts, 5},
		{"subscriptions[0].retry.initial_backoff", s.Retry.InitialBackoff, 100 * time.Millisecond},
		{"subscriptions[0].retry.max_backoff", s.Retry.MaxBackoff, 10 * time.Second},
		{"subscriptions[0].max_in_flight", s.MaxInFlight, 256},
		{"subscriptions[0].session_timeout", s.SessionTimeout, 45 * time.Second},
		{"subscriptions[0].start_from", s.StartFrom, "earliest"},
		{"deprecations[0].after_sunset", d.AfterSunset, "warn"},
		{"deprecations[0].since", d.Since.IsZero(), true},
		{"log.level", c.Log.Level, "info"},
		{"log.format", c.Log.Format, "json"},
		{"shutdown.drain_delay", c.Shutdown.DrainDelay, time.Duration(0)},
		{"shutdown.grace_period", c.Shutdown.GracePeriod, 20 * time.Second},
		{"grpc.max_recv_bytes", c.GRPC.MaxRecvBytes, 4 << 20},
		{"grpc.keepalive_time", c.GRPC.KeepaliveTime, 2 * time.Hour},
		{"grpc.keepalive_timeout", c.GRPC.KeepaliveTimeout, 20 * time.Second},
		{"grpc.max_stream_requests_in_flight", c.GRPC.MaxStreamRequestsInFlight, 4},
		{"telemetry.tracing", c.Telemetry.Tracing, false},
		{"telemetry.sample_ratio", c.Telemetry.SampleRatio, 0.01},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.field, tt.got, tt.want)
		}
	}
	if err := c.Validate(); err != nil {
		t.Errorf("the defaults do not validate:\n%v", err)
	}
	// Default() is the same as loading nothing.
	empty, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(empty, config.Default()) {
		t.Errorf("Load(\"\", nil) = %+v\nDefault() = %+v", empty, config.Default())
	}
}

// TestDefaultsKeepSetValues: a value set in the file is never replaced by
// its default.
func TestDefaultsKeepSetValues(t *testing.T) {
	t.Parallel()
	c, err := loadString(t, `
feature: checkout
kafka: {brokers: ["k:1"], compression: zstd, max_buffered_records: 5}
registry: {url: "https://sr.example", timeout: 2s, latest_ttl: 1m}
topics: [{name: orders, subject_strategy: record}]
limits: {max_body_bytes: 10, produce_timeout: 3s}
subscriptions: [{name: s, group: g, topics: [orders], deliver: {grpc: true}, start_from: latest}]
deprecations: [{subject: x, version: 1, sunset: 2027-01-01, after_sunset: reject}]
telemetry: {sample_ratio: 1}
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := []any{c.Feature, c.Kafka.Brokers, c.Kafka.Compression, c.Kafka.MaxBufferedRecords, c.Registry.URL, c.Registry.Timeout,
		c.Registry.LatestTTL, c.Topics[0].SubjectStrategy, c.Limits.MaxBodyBytes, c.Limits.ProduceTimeout,
		c.Subscriptions[0].Group, c.Subscriptions[0].StartFrom, c.Deprecations[0].AfterSunset, c.Telemetry.SampleRatio}
	want := []any{"checkout", []string{"k:1"}, "zstd", 5, "https://sr.example", 2 * time.Second,
		time.Minute, "record", int64(10), 3 * time.Second, "g", "latest", "reject", 1.0}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}

// fieldDocs maps "Type.Field" to the field's doc comment in config.go.
func fieldDocs(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "config.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return false
		}
		for _, fld := range st.Fields.List {
			for _, name := range fld.Names {
				docs[ts.Name.Name+"."+name.Name] = fld.Doc.Text()
			}
		}
		return false
	})
	return docs
}

var defaultRe = regexp.MustCompile(`Default: (.*?)(?:\.\s|\.$|$)`)

// TestDocumentedDefaults reads every setting's doc comment in config.go:
// each states its default (or says it is required), and where the stated
// default is a literal ("x", 10, 5s, false, ["a"]) it is the value the
// defaults really give.
func TestDocumentedDefaults(t *testing.T) {
	t.Parallel()
	docs := fieldDocs(t)
	// One element in every list, with only what cannot default.
	c, err := loadString(t, `
topics: [{name: pets}]
subscriptions: [{name: sub}]
deprecations: [{subject: pets-value, version: 1, sunset: 2027-03-31, replacement: {subject: pets-value, version: 2}}]
rules: {subjects: [{subject: pets-value, rules: []}]}
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		typ := v.Type()
		for i := 0; i < typ.NumField(); i++ {
			sf := typ.Field(i)
			tag, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			p := strings.TrimPrefix(path+"."+tag, ".")
			f := v.Field(i)
			doc := strings.Join(strings.Fields(docs[typ.Name()+"."+sf.Name]), " ")
			switch {
			case f.Kind() == reflect.Struct && f.Type() != reflect.TypeOf(config.Date{}):
				walk(f, p)
				continue
			case f.Kind() == reflect.Pointer:
				if !f.IsNil() {
					walk(f.Elem(), p)
				}
				continue
			case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct:
				if f.Len() == 0 {
					t.Errorf("%s: the test config has no element", p)
					continue
				}
				if !strings.Contains(doc, "Default:") {
					t.Errorf("%s: doc comment %q does not state the default", p, doc)
				}
				walk(f.Index(0), p+"[0]")
				continue
			}
			if typ.Name() == "SubjectVersion" {
				continue // the parts of an optional replacement: required inside it
			}
			m := defaultRe.FindStringSubmatch(doc)
			if m == nil {
				if !strings.Contains(doc, "Required") {
					t.Errorf("%s: doc comment %q states no default and does not say it is required", p, doc)
				}
				continue
			}
			lit := strings.TrimSpace(m[1])
			ok, known := matchesLiteral(f, lit)
			if !known {
				continue // prose, such as "the host name"
			}
			checked++
			if !ok {
				t.Errorf("%s: documented default %q, but the default is %v", p, lit, f.Interface())
			}
		}
	}
	walk(reflect.ValueOf(c).Elem(), "")
	if checked < 35 {
		t.Errorf("only %d documented defaults were literals that could be checked", checked)
	}
}

// matchesLiteral reports whether f holds the documented default lit, and
// whether lit was a literal this test understands at all.
func matchesLiteral(f reflect.Value, lit string) (ok, known bool) {
	if strings.HasPrefix(lit, `"`) {
		s, err := strconv.Unquote(lit[:strings.Index(lit[1:], `"`)+2])
		if err != nil || strings.Contains(s, "<") {
			return false, false
		}
		return f.Kind() == reflect.String && f.String() == s, true
	}
	if strings.HasPrefix(lit, "[") {
		var want []string
		for _, p := range strings.Split(strings.Trim(lit, "[]"), ",") {
			want = append(want, strings.Trim(strings.TrimSpace(p), `"`))
		}
		return f.Kind() == reflect.Slice && reflect.DeepEqual(f.Interface(), want), true
	}
	word, _, _ := strings.Cut(lit, " ")
	switch {
	case f.Type() == reflect.TypeOf(time.Duration(0)):
		d, err := time.ParseDuration(word)
		if err != nil {
			return false, false
		}
		return time.Duration(f.Int()) == d, true
	case f.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(word)
		return err == nil && f.Bool() == b, err == nil
	case f.Kind() == reflect.Int || f.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(word, 10, 64)
		return err == nil && f.Int() == n, err == nil
	case f.Kind() == reflect.Float64:
		x, err := strconv.ParseFloat(word, 64)
		return err == nil && f.Float() == x, err == nil
	}
	return false, false
}

// TestInvalidGolden loads each testdata/invalid*.yaml and compares every
// problem Validate reports, one per line with its field path, with the
// .golden file next to it. Run with -update to rewrite the goldens.
func TestInvalidGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "invalid*.yaml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("testdata/invalid*.yaml: %v %v", files, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			got := validateFile(t, file)
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			b, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -update creates it)", err)
			}
			want := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			if !slices.Equal(got, want) {
				t.Errorf("%s is stale (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", golden, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// validateFile loads file and returns Validate's problems, one line each,
// checking that each is a *FieldError.
func validateFile(t *testing.T, file string) []string {
	t.Helper()
	c, err := config.Load(file, nil)
	if err != nil {
		t.Fatalf("load %s: %v", file, err)
	}
	err = c.Validate()
	if err == nil {
		t.Fatalf("%s validates", file)
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("Validate returned %T, want errors joined", err)
	}
	var lines []string
	for _, e := range joined.Unwrap() {
		var fe *config.FieldError
		if !errors.As(e, &fe) || fe.Path == "" || fe.Msg == "" {
			t.Errorf("problem %q is not a *FieldError with a path and a message", e)
			continue
		}
		if e.Error() != fe.Path+": "+fe.Msg {
			t.Errorf("FieldError renders %q", e.Error())
		}
		lines = append(lines, e.Error())
	}
	if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, lines) {
		t.Errorf("Error() does not list the problems one per line:\n%s", err)
	}
	return lines
}

// TestAllProblemsAtOnce: the big invalid file gets every problem in one
// Validate call, and every message config.Validate can produce appears in
// the goldens (or, for the few the defaults make unreachable from a file,
// in unreachable below), so a new check cannot skip its golden line.
func TestAllProblemsAtOnce(t *testing.T) {
	t.Parallel()
	lines := validateFile(t, filepath.Join("testdata", "invalid.yaml"))
	if len(lines) < 50 {
		t.Errorf("invalid.yaml: %d problems reported at once, want every one of at least 50:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	paths := map[string]bool{}
	for _, l := range lines {
		paths[strings.SplitN(l, ": ", 2)[0]] = true
	}
	for _, p := range []string{"kafka.brokers[1]", "kafka.brokers[2]", "topics[0].subject_strategy", "topics[1].name", "subscriptions[1].name", "subscriptions[2].deliver.url", "deprecations[0].sunset", "telemetry.sample_ratio"} {
		if !paths[p] {
			t.Errorf("no problem reported for %s", p)
		}
	}

	// Messages the defaults make unreachable from a file.
	unreachable := func() []string {
		c := config.Default()
		c.Kafka.Brokers = nil
		c.Registry.URL = ""
		c.Log.Level = ""
		var out []string
		for _, e := range c.Validate().(interface{ Unwrap() []error }).Unwrap() {
			out = append(out, e.Error())
		}
		return out
	}()
	want := []string{
		"kafka.brokers: must name at least one broker",
		`registry.url: must be an http or https URL, got ""`,
		`log.level: must be one of debug, info, warn, error, got ""`,
	}
	if !slices.Equal(unreachable, want) {
		t.Errorf("unreachable cases:\n%s\nwant:\n%s", strings.Join(unreachable, "\n"), strings.Join(want, "\n"))
	}

	var all []string
	files, _ := filepath.Glob(filepath.Join("testdata", "invalid*.golden"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, strings.Split(strings.TrimSpace(string(b)), "\n")...)
	}
	all = append(all, unreachable...)
	for _, re := range validateMessages(t) {
		if !slices.ContainsFunc(all, re.MatchString) {
			t.Errorf("no golden line for the Validate message %s", re)
		}
	}
}

// validateMessages turns every bad(path, format, ...) call in validate.go
// into a regexp matching the problem it reports.
func validateMessages(t *testing.T) []*regexp.Regexp {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "validate.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	verb := regexp.MustCompile(`%[qsdv]`)
	var out []*regexp.Regexp
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		if id, ok := call.Fun.(*ast.Ident); !ok || id.Name != "bad" || len(call.Args) < 2 {
			return true
		}
		path := `.+`
		if lit, ok := call.Args[0].(*ast.BasicLit); ok {
			s, _ := strconv.Unquote(lit.Value)
			path = regexp.QuoteMeta(s)
		} else if be, ok := call.Args[0].(*ast.BinaryExpr); ok {
			if lit, ok := be.Y.(*ast.BasicLit); ok {
				s, _ := strconv.Unquote(lit.Value)
				path = `.+` + regexp.QuoteMeta(s)
			}
		}
		lit, ok := call.Args[1].(*ast.BasicLit)
		if !ok {
			t.Errorf("bad() with a format that is not a literal at %v", call.Pos())
			return true
		}
		format, _ := strconv.Unquote(lit.Value)
		msg := verb.ReplaceAllString(regexp.QuoteMeta(format), `.*`)
		out = append(out, regexp.MustCompile("^"+path+": "+msg+"$"))
		return true
	})
	if len(out) < 50 {
		t.Fatalf("found only %d bad() calls in validate.go", len(out))
	}
	return out
}

func TestUnknownKeyRefusedWithItsLine(t *testing.T) {
	t.Parallel()
	tests := []struct{ yaml, want string }{
		{"feature: x\nkafka:\n  brokerz: [\"a:1\"]\n", "line 3: field brokerz not found"},
		{"featur: x\n", "line 1: field featur not found"},
		{"topics:\n  - name: pets\n    strategy: topic\n", "line 3: field strategy not found"},
		{"limits:\n  produce_timeout: soon\n", "line 2"},
		{"deprecations:\n  - subject: s\n    version: 1\n    sunset: 31/03/2027\n", "want a date as YYYY-MM-DD"},
	}
	for _, tt := range tests {
		_, err := loadString(t, tt.yaml, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err = %v, want it to contain %q", tt.yaml, err, tt.want)
		}
		if err != nil && !strings.Contains(err.Error(), "eventguard.yaml") {
			t.Errorf("%q: err = %v, want it to name the file", tt.yaml, err)
		}
	}
}

func TestEnvOverrides(t *testing.T) {
	t.Parallel()
	file := "kafka:\n  brokers: [\"file:1\"]\nlimits:\n  produce_timeout: 5s\n"
	tests := []struct {
		name  string
		env   []string
		check func(*config.Config) string
		err   string
	}{
		{name: "list", env: []string{"EVENTGUARD_KAFKA_BROKERS=a:1,b:2"},
			check: func(c *config.Config) string { return fmt.Sprint(c.Kafka.Brokers) + "|[a:1 b:2]" }},
		{name: "list with spaces and empties", env: []string{"EVENTGUARD_KAFKA_BROKERS= a:1 ,,b:2,"},
			check: func(c *config.Config) string { return fmt.Sprint(c.Kafka.Brokers) + "|[a:1 b:2]" }},
		{name: "duration over the file", env: []string{"EVENTGUARD_LIMITS_PRODUCE_TIMEOUT=3s"},
			check: func(c *config.Config) string { return c.Limits.ProduceTimeout.String() + "|3s" }},
		{name: "the file when no variable", env: []string{"PATH=/bin"},
			check: func(c *config.Config) string {
				return fmt.Sprint(c.Kafka.Brokers, c.Limits.ProduceTimeout) + "|[file:1] 5s"
			}},
		{name: "string, bool, int, float", env: []string{"EVENTGUARD_REGISTRY_URL=https://sr:8081", "EVENTGUARD_ALLOW_ANY_TOPIC=true",
			"EVENTGUARD_LIMITS_MAX_BODY_BYTES=99", "EVENTGUARD_TELEMETRY_SAMPLE_RATIO=0.5"},
			check: func(c *config.Config) string {
				return fmt.Sprintf("%v %v %v %v", c.Registry.URL, c.AllowAnyTopic, c.Limits.MaxBodyBytes, c.Telemetry.SampleRatio) + "|https://sr:8081 true 99 0.5"
			}},
		{name: "nested secret", env: []string{"EVENTGUARD_KAFKA_SASL_PASSWORD=s3cret"},
			check: func(c *config.Config) string { return c.Kafka.SASL.Password + "|s3cret" }},
		{name: "EVENTGUARD_CONFIG is not a setting but allowed", env: []string{"EVENTGUARD_CONFIG=/etc/eventguard.yaml"},
			check: func(c *config.Config) string { return c.Feature + "|default" }},
		{name: "bad duration", env: []string{"EVENTGUARD_LIMITS_PRODUCE_TIMEOUT=soon"},
			err: `environment EVENTGUARD_LIMITS_PRODUCE_TIMEOUT: want a duration like 10s, got "soon"`},
		{name: "bad bool", env: []string{"EVENTGUARD_ALLOW_ANY_TOPIC=yes please"},
			err: `environment EVENTGUARD_ALLOW_ANY_TOPIC: want true or false, got "yes please"`},
		{name: "bad int", env: []string{"EVENTGUARD_LIMITS_MAX_RECORDS_PER_REQUEST=many"},
			err: `environment EVENTGUARD_LIMITS_MAX_RECORDS_PER_REQUEST: want an integer, got "many"`},
		{name: "unknown variable", env: []string{"EVENTGUARD_KAFKA_BROKER=a:1"},
			err: "environment EVENTGUARD_KAFKA_BROKER: no such setting"},
		{name: "lists of objects are file only", env: []string{"EVENTGUARD_TOPICS=pets"},
			err: "environment EVENTGUARD_TOPICS: no such setting"},
		{name: "every problem at once", env: []string{"EVENTGUARD_LISTEN_HTTPS=1", "EVENTGUARD_LIMITS_PRODUCE_TIMEOUT=soon"},
			err: "EVENTGUARD_LISTEN_HTTPS: no such setting"},
		{name: "not under a setting: not eventguard's, ignored", env: []string{"EVENTGUARD_PYTHON=/usr/bin/python3"},
			check: func(c *config.Config) string { return c.Feature + "|default" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := loadString(t, file, tt.env)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				if tt.name == "every problem at once" && !strings.Contains(err.Error(), "EVENTGUARD_LIMITS_PRODUCE_TIMEOUT") {
					t.Errorf("err = %v, want both problems", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, want, _ := strings.Cut(tt.check(c), "|")
			if got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

func TestEnvNames(t *testing.T) {
	t.Parallel()
	names := config.EnvNames()
	for _, want := range []string{"EVENTGUARD_KAFKA_BROKERS", "EVENTGUARD_REGISTRY_URL", "EVENTGUARD_KAFKA_SASL_PASSWORD",
		"EVENTGUARD_LIMITS_PRODUCE_TIMEOUT", "EVENTGUARD_FEATURE", "EVENTGUARD_KAFKA_TLS_ENABLED"} {
		if !slices.Contains(names, want) {
			t.Errorf("EnvNames lacks %s", want)
		}
	}
	for _, n := range names {
		if !strings.HasPrefix(n, config.EnvPrefix) || n == "EVENTGUARD_TOPICS" || strings.HasPrefix(n, "EVENTGUARD_SUBSCRIPTIONS") || strings.HasPrefix(n, "EVENTGUARD_DEPRECATIONS") {
			t.Errorf("unexpected variable %s", n)
		}
		// Every listed name is accepted.
		if err := config.ApplyEnv(&config.Config{}, []string{n + "=1"}); err != nil && strings.Contains(err.Error(), "no such setting") {
			t.Errorf("%s is listed but refused: %v", n, err)
		}
	}
}

// TestExampleConfigs: every example configuration validates.
func TestExampleConfigs(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "examples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs: %v", err)
	}
	for _, f := range files {
		c, err := config.Load(f, nil)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s:\n%v", f, err)
		}
	}
}

func TestTopicLookup(t *testing.T) {
	t.Parallel()
	c, err := loadString(t, "topics: [{name: a}, {name: b, subject_strategy: record}]", nil)
	if err != nil {
		t.Fatal(err)
	}
	if tp, ok := c.Topic("b"); !ok || tp.SubjectStrategy != "record" {
		t.Errorf("Topic(b) = %+v %v", tp, ok)
	}
	if _, ok := c.Topic("c"); ok {
		t.Error("Topic(c) found")
	}
	s := config.Subscription{DLQTopic: "all.dlq"}
	if got := s.DLQTopicFor("a"); got != "all.dlq" {
		t.Errorf("DLQTopicFor with dlq_topic = %q", got)
	}
}

func TestDateText(t *testing.T) {
	t.Parallel()
	var d config.Date
	if err := d.UnmarshalText([]byte("2027-03-31")); err != nil || d.Format(time.DateOnly) != "2027-03-31" {
		t.Errorf("%v %v", d, err)
	}
	if b, _ := d.MarshalText(); string(b) != "2027-03-31" {
		t.Errorf("MarshalText = %q", b)
	}
	if b, _ := (config.Date{}).MarshalText(); len(b) != 0 {
		t.Errorf("zero date marshals to %q", b)
	}
	if err := d.UnmarshalText([]byte("2027-02-30")); err == nil {
		t.Error("2027-02-30 accepted")
	}
}

// TestConfigDocFresh fails when docs/config.md is not what
// internal/cmd/configdoc generates from the doc comments.
func TestConfigDocFresh(t *testing.T) {
	if _, err := os.Stat(filepath.Join("..", "internal", "cmd", "configdoc")); err != nil {
		t.Skip("internal/cmd/configdoc does not exist yet: nothing generates docs/config.md to compare")
	}
	if testing.Short() {
		t.Skip("builds and runs configdoc")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	cmd := exec.Command(gobin, "run", "./internal/cmd/configdoc")
	cmd.Dir = ".."
	cmd.Stderr = os.Stderr
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("go run ./internal/cmd/configdoc: %v", err)
	}
	want, err := os.ReadFile(filepath.Join("..", "docs", "config.md"))
	if err != nil {
		t.Fatalf("%v (make docs creates it)", err)
	}
	if string(got) != string(want) {
		t.Error("docs/config.md is stale: run make docs")
	}
}
