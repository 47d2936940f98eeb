package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	eventguardv1 "github.com/eventguard/eventguard/api/eventguard/v1"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/contracts"
	"github.com/eventguard/eventguard/examples"
	"github.com/eventguard/eventguard/telemetry"
)

// The secrets of the hygiene test: each is configured somewhere, and none
// may appear in any output the sidecar gives. The wrong ones are what the
// sidecar is given where the test wants a failure; the right ones are what
// Kafka and the registry expect (the sidecar is given them only where they
// are named so).
const (
	kafkaPasswordWrong     = "kafka-sasl-password-WRONG-5d1e7a"
	kafkaPasswordRight     = "kafka-sasl-password-RIGHT-9b2c44"
	kafkaPasswordEnv       = "kafka-sasl-password-ENV-31f0aa"
	registryTokenWrong     = "registry-bearer-WRONG-3a7f91"
	registryTokenFile      = "registry-bearer-FILE-0d42ee"
	registryTokenRight     = "registry-bearer-RIGHT-77c1d0"
	registryPasswordInline = "registry-password-INLINE-5e9b13"
	registryPasswordRight  = "registry-password-RIGHT-c4d8f2"
	listenTokenInline      = "listen-auth-token-INLINE-6e0b21"
	listenTokenFile        = "listen-auth-token-FILE-8f4a3c9d"
	listenTokenEnv         = "listen-auth-token-ENV-2b7e5d10"
	deliverPassword        = "deliver-url-password-1c9e06"
	shortToken             = "tiny-secret-x"
	spacedToken            = "a token with spaces 4417"
)

// secretNeedles are every secret and the encodings a leak could take:
// as it is, base64 (a Basic credential, a header dumped), and base64 of
// user:secret for the user names in use.
func secretNeedles() map[string]string {
	out := map[string]string{}
	for _, s := range []string{kafkaPasswordWrong, kafkaPasswordRight, kafkaPasswordEnv, registryTokenWrong, registryTokenFile, registryTokenRight,
		registryPasswordInline, registryPasswordRight, listenTokenInline, listenTokenFile, listenTokenEnv, deliverPassword, shortToken, spacedToken} {
		out[s] = s
		out[s+" (base64)"] = base64.StdEncoding.EncodeToString([]byte(s))
		for _, user := range []string{"svc", "app", "eventguard"} {
			out[s+" (basic "+user+")"] = base64.StdEncoding.EncodeToString([]byte(user + ":" + s))
		}
	}
	return out
}

// outputs collects what the sidecar gave out, by where it came from.
type outputs map[string]string

func (o outputs) add(where, text string) { o[where] += text + "\n" }

// check fails for every secret found in any output.
func (o outputs) check(t *testing.T) {
	t.Helper()
	if len(o) == 0 {
		t.Fatal("nothing was collected")
	}
	for where, text := range o {
		for name, needle := range secretNeedles() {
			if i := strings.Index(text, needle); i >= 0 {
				t.Errorf("secret %s leaks in %s: ...%s...", name, where, text[max(0, i-120):min(len(text), i+len(needle)+40)])
			}
		}
	}
}

// fetch makes a request and records its status, headers and body.
func (o outputs) fetch(t *testing.T, where, method, url, authorization, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		o.add(where, "error: "+err.Error())
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var hdr strings.Builder
	_ = resp.Header.Write(&hdr)
	o.add(where, fmt.Sprintf("%d\n%s\n%s", resp.StatusCode, hdr.String(), b))
	return resp.StatusCode
}

// saslCluster is a kfake cluster whose only user is eventguard with
// kafkaPasswordRight (SCRAM-SHA-256).
func saslCluster(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "eventguard", kafkaPasswordRight))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// secretFile writes a secret to a file of its own and returns the path.
func secretFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runWith runs the sidecar as `eventguard run` wires it with cfg (defaults
// applied here) until the test ends, and returns it with its log.
func runWith(t *testing.T, cfg *config.Config) (*sidecar, *syncBuffer, func()) {
	t.Helper()
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	logs := &syncBuffer{}
	log, err := telemetry.NewLogger(logs, "json", "debug")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := newSidecar(cfg, log)
	if err != nil {
		t.Fatalf("newSidecar: %v", err)
	}
	lns, err := sc.listen()
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sc.run(ctx, lns) }()
	var stopped bool
	shutdown := func() {
		if stopped {
			return
		}
		stopped = true
		stop()
		select {
		case err := <-done:
			if err != nil {
				logs.Write([]byte("run: " + err.Error() + "\n"))
			}
		case <-time.After(30 * time.Second):
			t.Errorf("sidecar did not stop")
		}
	}
	t.Cleanup(shutdown)
	return sc, logs, shutdown
}

// readyz returns /readyz's checks.
func readyz(t *testing.T, admin string) map[string]string {
	t.Helper()
	resp, err := http.Get(admin + "/readyz")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var body struct{ Checks map[string]string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return body.Checks
}

// TestSecretsNeverLeak configures every secret eventguard takes — Kafka's
// SASL password (inline, from a file, from the environment), the
// registry's bearer token and password (inline and from files), the
// listeners' tokens (inline, from a file, from the environment) and a
// password in a delivery URL — makes the sidecar fail with each (wrong
// Kafka and registry credentials, refused and bad requests carrying a
// token, an app that refuses deliveries, configurations with errors),
// and searches its logs, HTTP and gRPC answers, /readyz, /v1/catalog,
// /v1/recent, /metrics, the admin page, dead-letter records, errors and
// `run --config-test` output for each, as it is and base64-encoded.
func TestSecretsNeverLeak(t *testing.T) {
	out := outputs{}
	t.Run("wrong credentials", func(t *testing.T) { wrongCredentials(t, out) })
	t.Run("working, then refused", func(t *testing.T) { workingThenRefused(t, out) })
	t.Run("config test", func(t *testing.T) { configTest(t, out) })
	out.check(t)
}

// wrongCredentials: Kafka and the registry refuse the sidecar's
// credentials; requests are refused, failed and malformed.
func wrongCredentials(t *testing.T, out outputs) {
	cluster := saslCluster(t)
	reg := srfake.New(srfake.WithAuth("Bearer " + registryTokenRight))
	t.Cleanup(reg.Close)
	cfg := &config.Config{AllowAnyTopic: true, Topics: []config.Topic{{Name: "pets"}}}
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	cfg.Kafka.SASL = config.SASL{Mechanism: "SCRAM-SHA-256", Username: "eventguard", Password: kafkaPasswordWrong}
	cfg.Registry.URL = reg.URL()
	cfg.Registry.BearerToken = registryTokenWrong
	cfg.Listen.HTTP, cfg.Listen.GRPC, cfg.Listen.Admin = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Listen.Auth = config.ListenAuth{Mode: config.AuthToken, Tokens: config.StringList{listenTokenInline}}
	sc, logs, shutdown := runWith(t, cfg)
	ingress, admin := "http://"+sc.addrs["http"], "http://"+sc.addrs["admin"]

	// Wait until both failures show in /readyz.
	deadline := time.Now().Add(20 * time.Second)
	for {
		c := readyz(t, admin)
		if c["kafka"] != "" && c["kafka"] != "ok" && c["registry"] != "" && c["registry"] != "ok" && !strings.Contains(c["registry"], "not reached yet") {
			t.Logf("readyz: %v", c)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kafka and registry failures not in /readyz: %v", c)
		}
		time.Sleep(100 * time.Millisecond)
	}
	bearer := "Bearer " + listenTokenInline
	produce := ingress + "/v1/topics/pets/records"
	if code := out.fetch(t, "answer: produce, Kafka and registry down", "POST", produce, bearer, records(petV2)); code != http.StatusServiceUnavailable {
		t.Errorf("produce with Kafka refusing the sidecar: %d", code)
	}
	out.fetch(t, "answer: another secret as the token", "POST", produce, "Bearer "+registryTokenWrong, records(petV2))
	out.fetch(t, "answer: basic with a secret", "POST", produce, "Basic "+base64.StdEncoding.EncodeToString([]byte("app:"+deliverPassword)), records(petV2))
	out.fetch(t, "answer: malformed body with the token", "POST", produce, bearer, `{"records":[`+listenTokenInline)
	out.fetch(t, "answer: the token without a scheme", "POST", produce, listenTokenInline, records(petV2))
	out.fetch(t, "answer: REST Proxy v2, Kafka down", "POST", ingress+"/topics/pets", bearer, `{"records":[{"value":`+petV2+`}]}`)
	out.fetch(t, "answer: CloudEvent, Kafka down", "POST", ingress+"/v1/topics/pets/cloudevents", bearer, petV2)
	for _, p := range []string{"/readyz", "/healthz", "/metrics", "/v1/catalog", "/v1/recent", "/ui", "/ui/live"} {
		out.fetch(t, "admin "+p, "GET", admin+p, bearer, "")
	}

	conn, err := grpc.NewClient(sc.addrs["grpc"], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	out.add("grpc health", fmt.Sprint(h, err))
	eg := eventguardv1.NewEventguardClient(conn)
	req := &eventguardv1.ProduceRequest{Topic: "pets", Records: []*eventguardv1.Record{{Value: []byte(petV2)}}}
	resp, err := eg.Produce(metadata.AppendToOutgoingContext(ctx, "authorization", bearer), req)
	out.add("grpc produce, Kafka down", fmt.Sprint(resp, err))
	_, err = eg.Produce(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+registryTokenWrong), req)
	out.add("grpc produce, another secret as the token", fmt.Sprint(err))
	shutdown()
	out.add("log, wrong credentials", logs.String())
	if !strings.Contains(logs.String(), "SASL") && !strings.Contains(logs.String(), "sasl") {
		t.Logf("no SASL failure logged")
	}
}

// workingThenRefused: the sidecar works with the secrets from files; the
// app refuses what it is delivered (to a URL with a password), so records
// are dead-lettered with the reason.
func workingThenRefused(t *testing.T, out outputs) {
	dir := t.TempDir()
	cluster := saslCluster(t)
	reg := srfake.New(srfake.WithAuth("Basic " + base64.StdEncoding.EncodeToString([]byte("svc:"+registryPasswordRight))))
	t.Cleanup(reg.Close)
	regcl, err := sr.NewClient(sr.URLs(reg.URL()), sr.BasicAuth("svc", registryPasswordRight))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := fs.Sub(examples.Contracts, "contracts")
	if err != nil {
		t.Fatal(err)
	}
	set, err := contracts.Load(sub)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := set.Register(ctx, regcl); err != nil {
		t.Fatalf("register example contracts: %v", err)
	}
	var sawAuth string
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawAuth = r.Header.Get("Authorization")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, "this app refuses everything")
	}))
	t.Cleanup(app.Close)

	cfg := &config.Config{AllowAnyTopic: true, Topics: []config.Topic{{Name: "pets"}}}
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	cfg.Kafka.AutoCreateTopics = true
	cfg.Kafka.SASL = config.SASL{Mechanism: "SCRAM-SHA-256", Username: "eventguard", PasswordFile: secretFile(t, dir, "kafka-password", kafkaPasswordRight)}
	cfg.Registry.URL = reg.URL()
	cfg.Registry.Username, cfg.Registry.PasswordFile = "svc", secretFile(t, dir, "registry-password", registryPasswordRight)
	cfg.Listen.HTTP, cfg.Listen.GRPC, cfg.Listen.Admin = "127.0.0.1:0", config.ListenerOff, "127.0.0.1:0"
	cfg.Listen.Auth = config.ListenAuth{Mode: config.AuthToken, TokenFiles: config.StringList{secretFile(t, dir, "listen-token", listenTokenFile)}}
	appURL := strings.Replace(app.URL, "http://", "http://app:"+deliverPassword+"@", 1) + "/events"
	cfg.Subscriptions = []config.Subscription{{Name: "pets-app", Topics: []string{"pets"}, Deliver: config.Deliver{URL: appURL}}}
	sc, logs, shutdown := runWith(t, cfg)
	ingress, admin := "http://"+sc.addrs["http"], "http://"+sc.addrs["admin"]
	deadline := time.Now().Add(20 * time.Second)
	for c := readyz(t, admin); c["kafka"] != "ok" || c["registry"] != "ok" || c["subscriptions"] != "ok"; c = readyz(t, admin) {
		if time.Now().After(deadline) {
			t.Fatalf("not ready with the right credentials: %v\n%s", c, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	bearer := "Bearer " + listenTokenFile
	produce := ingress + "/v1/topics/pets/records"
	if code := out.fetch(t, "answer: produce", "POST", produce, bearer, records(petV2)); code != 200 {
		t.Fatalf("produce with the token: %d\n%s", code, out["answer: produce"])
	}
	out.fetch(t, "answer: invalid record", "POST", produce, bearer, records(petV2Bad))
	out.fetch(t, "answer: unknown subject", "POST", ingress+"/v1/topics/no-such-subject/records", bearer, records(petV2))
	out.fetch(t, "answer: the inline token of another run", "POST", produce, "Bearer "+listenTokenInline, records(petV2))
	out.fetch(t, "answer: REST Proxy v3 clusters", "GET", ingress+"/v3/clusters", bearer, "")
	out.fetch(t, "answer: REST Proxy v3 produce", "POST", ingress+"/v3/clusters/any/topics/pets/records", bearer, `{"value":{"type":"JSON","data":`+petV2+`}}`)

	// The app refuses the delivery: it is dead-lettered with the reason.
	dl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ConsumeTopics("pets.dlq"),
		kgo.SASL(scram.Auth{User: "eventguard", Pass: kafkaPasswordRight}.AsSha256Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	var dead *kgo.Record
	for dead == nil && ctx.Err() == nil {
		fetches := dl.PollFetches(ctx)
		fetches.EachRecord(func(r *kgo.Record) { dead = r })
	}
	if dead == nil {
		t.Fatalf("no dead letter: %v\n%s", ctx.Err(), logs.String())
	}
	var dlq strings.Builder
	for _, h := range dead.Headers {
		fmt.Fprintf(&dlq, "%s=%s\n", h.Key, h.Value)
	}
	dlq.Write(dead.Value)
	out.add("dead-letter record", dlq.String())
	if !strings.Contains(dlq.String(), "answered HTTP 400") {
		t.Errorf("the dead letter does not carry the app's answer: %s", dlq.String())
	}
	if sawAuth != "Basic "+base64.StdEncoding.EncodeToString([]byte("app:"+deliverPassword)) {
		t.Errorf("the app was not sent the URL's credentials: %q", sawAuth)
	}
	for _, p := range []string{"/readyz", "/metrics", "/v1/catalog", "/v1/recent", "/ui", "/ui/live"} {
		out.fetch(t, "admin "+p, "GET", admin+p, bearer, "")
	}
	shutdown()
	out.add("log, working", logs.String())
}

// configTest: `run --config-test` and `run` with configurations holding
// every secret, valid and not.
func configTest(t *testing.T, out outputs) {
	dir := t.TempDir()
	write := func(name, yaml string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	registryTokenPath := secretFile(t, dir, "registry-token", registryTokenFile)
	listenTokenPath := secretFile(t, dir, "listen-token", listenTokenFile)
	badTokenPath := secretFile(t, dir, "bad-token", listenTokenFile+"\n"+spacedToken)
	valid := write("valid.yaml", `
kafka:
  sasl: {mechanism: PLAIN, username: eventguard, password: `+kafkaPasswordWrong+`}
registry:
  url: https://registry.example
  bearer_token_file: `+registryTokenPath+`
listen:
  auth: {mode: token, tokens: [`+listenTokenInline+`], token_files: [`+listenTokenPath+`]}
subscriptions:
  - {name: s, topics: [pets], deliver: {url: "http://app:`+deliverPassword+`@127.0.0.1:3000/events"}}
`)
	basic := write("basic.yaml", `
registry: {url: "https://registry.example", username: svc, password: `+registryPasswordInline+`}
`)
	invalid := write("invalid.yaml", `
kafka:
  sasl: {mechanism: PLAIN, username: eventguard, password: `+kafkaPasswordWrong+`, password_file: /run/secrets/kafka}
registry:
  url: "https://svc:`+registryPasswordInline+`@registry.example"
  username: svc
  bearer_token: `+registryTokenWrong+`
listen:
  auth: {mode: none, tokens: ["`+shortToken+`", "`+spacedToken+`", `+listenTokenInline+`]}
subscriptions:
  - {name: s, topics: [pets], deliver: {url: "ftp://app:`+deliverPassword+`@app/events"}}
`)
	notAList := write("not-a-list.yaml", "listen:\n  auth:\n    mode: token\n    tokens: {"+listenTokenInline+": x}\n")
	badFile := write("bad-file.yaml", "listen:\n  auth: {mode: token, token_files: ["+badTokenPath+"]}\n")
	missingFile := write("missing-file.yaml", "listen:\n  auth: {mode: token, token_files: ["+filepath.Join(dir, "absent")+"]}\n")
	tests := []struct {
		name     string
		args     []string
		env      []string
		wantCode int
	}{
		{"valid", []string{"--config", valid, "--config-test"}, nil, 0},
		{"registry basic auth", []string{"--config", basic, "--config-test"}, nil, 0},
		{"secrets from the environment", []string{"--config", basic, "--config-test"}, []string{
			"EVENTGUARD_KAFKA_SASL_MECHANISM=SCRAM-SHA-512", "EVENTGUARD_KAFKA_SASL_USERNAME=eventguard", "EVENTGUARD_KAFKA_SASL_PASSWORD=" + kafkaPasswordEnv,
			"EVENTGUARD_LISTEN_AUTH_MODE=token", "EVENTGUARD_LISTEN_AUTH_TOKENS=" + listenTokenEnv}, 0},
		{"invalid", []string{"--config", invalid, "--config-test"}, nil, 1},
		{"invalid, secrets from the environment", []string{"--config", invalid, "--config-test"}, []string{"EVENTGUARD_KAFKA_SASL_PASSWORD=" + kafkaPasswordEnv, "EVENTGUARD_LISTEN_AUTH_TOKENS=" + shortToken + "," + listenTokenEnv}, 1},
		{"tokens not a list", []string{"--config", notAList, "--config-test"}, nil, 1},
		{"a bad token file", []string{"--config", badFile, "--config-test"}, nil, 1},
		{"a bad token file, run", []string{"--config", badFile}, nil, 1},
		{"a missing token file", []string{"--config", missingFile, "--config-test"}, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, kv := range tt.env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			var stdout, stderr strings.Builder
			code := Main(append([]string{"run"}, tt.args...), &stdout, &stderr)
			out.add("run "+tt.name, stdout.String()+stderr.String())
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d: %s%s", code, tt.wantCode, stdout.String(), stderr.String())
			}
			if tt.wantCode == 0 && !strings.Contains(stdout.String(), "configuration ok") {
				t.Errorf("stdout %q", stdout.String())
			}
			if tt.wantCode != 0 && stderr.Len() == 0 {
				t.Error("no error printed")
			}
		})
	}
	// What the invalid configuration is told, for the record.
	if s := out["run invalid"]; !strings.Contains(s, "registry.url: must not carry credentials") || !strings.Contains(s, "listen.auth.tokens[0]: is shorter") ||
		!strings.Contains(s, "kafka.sasl.password_file: give password or password_file") || !strings.Contains(s, `ftp://app:xxxxx@app/events`) {
		t.Errorf("the invalid configuration's problems: %s", s)
	}
}
