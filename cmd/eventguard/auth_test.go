package main

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	eventguardv1 "github.com/eventguard/eventguard/api/eventguard/v1"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/internal/testcerts"
	"github.com/eventguard/eventguard/telemetry"
)

const (
	// ingressToken is listen.auth's token file's; envToken its inline one.
	ingressToken = "ingress-token_from-a-Secret-0123456789"
	envToken     = "second-ingress-token-during-rotation"
)

// topicRecords is the number of records in topic (the sum of its
// partitions' end offsets).
func topicRecords(t *testing.T, brokers []string, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// call makes an HTTP request with client and returns the status, the
// WWW-Authenticate challenges and the body.
func call(t *testing.T, client *http.Client, method, url, authorization, body string) (int, []string, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Values("WWW-Authenticate"), string(b)
}

// TestSidecarTokenAuth: with listen.auth.mode token the wired sidecar asks
// every HTTP ingress route, every gRPC method but health, and the admin
// listener's data endpoints for a token (from a file or the config), and
// leaves /metrics, /healthz, /readyz and gRPC health open; refused
// requests produce nothing and are counted, and the token is not logged.
func TestSidecarTokenAuth(t *testing.T) {
	tokenFile := testcerts.WriteFile(t, t.TempDir(), "token", []byte(ingressToken+"\n"))
	r := startSidecar(t, nil, func(c *config.Config) {
		c.Listen.GRPC = "127.0.0.1:0"
		c.Listen.Auth = config.ListenAuth{Mode: config.AuthToken, TokenFiles: config.StringList{tokenFile}, Tokens: config.StringList{envToken}}
	})
	bearer := "Bearer " + ingressToken
	c := http.DefaultClient
	body := records(petV2)

	// HTTP ingress: every route, every method.
	for _, tt := range []struct{ method, path, auth string }{
		{"POST", "/v1/topics/pets/records", ""},
		{"POST", "/v1/topics/pets/records", "Bearer " + envToken + "x"},
		{"POST", "/v1/topics/pets/records", "Basic " + base64.StdEncoding.EncodeToString([]byte(ingressToken))},
		{"GET", "/v1/topics/pets/records", ""},
		{"POST", "/no/such/route", ""},
		{"GET", "/", ""},
		// REST Proxy's and CloudEvents' routes, mounted on the same ingress.
		{"POST", "/topics/pets", ""},
		{"POST", "/v3/clusters/any/topics/pets/records", ""},
		{"GET", "/v3/clusters", ""},
		{"POST", "/v1/topics/pets/cloudevents", ""},
	} {
		code, challenges, got := call(t, c, tt.method, r.http+tt.path, tt.auth, body)
		if code != 401 || len(challenges) != 2 || !strings.HasPrefix(challenges[0], `Bearer realm="eventguard"`) || !strings.Contains(got, `"code":"unauthenticated"`) {
			t.Errorf("%s %s (Authorization %q): %d %q %s", tt.method, tt.path, tt.auth, code, challenges, got)
		}
	}
	if n := topicRecords(t, r.stack.Brokers, "pets"); n != 0 {
		t.Fatalf("refused requests produced %d records", n)
	}
	for _, auth := range []string{bearer, "Bearer " + envToken, "bearer " + ingressToken} {
		if code, _, got := call(t, c, "POST", r.http+"/v1/topics/pets/records", auth, body); code != 200 {
			t.Errorf("with %.12s...: %d %s", auth, code, got)
		}
	}
	if code, _, _ := call(t, c, "POST", r.http+"/no/such/route", bearer, body); code != 404 {
		t.Errorf("an unknown route with the token: %d, want 404", code)
	}
	if n := topicRecords(t, r.stack.Brokers, "pets"); n != 3 {
		t.Errorf("%d records in pets, want the 3 authenticated ones", n)
	}

	// A real client: curl with the token, as the docs show it.
	missing := 8.0 // HTTP ingress requests without credentials
	if curl, err := exec.LookPath("curl"); err == nil {
		missing++
		out, err := exec.Command(curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", r.http+"/v1/topics/pets/records",
			"-H", "Content-Type: application/json", "-H", "Authorization: Bearer "+ingressToken, "-d", body).CombinedOutput()
		if err != nil || string(out) != "200" {
			t.Errorf("curl with the token: %s %v", out, err)
		}
		out, _ = exec.Command(curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", r.http+"/v1/topics/pets/records",
			"-H", "Content-Type: application/json", "-d", body).CombinedOutput()
		if string(out) != "401" {
			t.Errorf("curl without the token: %s", out)
		}
	} else {
		t.Log("curl not installed: the curl checks did not run")
	}

	// Admin listener: the data endpoints need the token, probes do not.
	for _, p := range []string{"/metrics", "/healthz", "/readyz"} {
		if code, _, got := call(t, c, "GET", r.admin+p, "", ""); code != 200 {
			t.Errorf("GET %s without a token: %d %s", p, code, got)
		}
	}
	for _, p := range []string{"/v1/catalog", "/v1/recent", "/ui", "/ui/live", "/ui/assets/page.js", "/ui/assets/page.css", "/ui/assets/favicon.svg", "/debug/pprof/", "/nowhere"} {
		if code, _, _ := call(t, c, "GET", r.admin+p, "", ""); code != 401 {
			t.Errorf("GET %s without a token: %d, want 401", p, code)
		}
	}
	for _, p := range []string{"/v1/catalog", "/v1/recent", "/ui/assets/page.js"} {
		if code, _, got := call(t, c, "GET", r.admin+p, bearer, ""); code != 200 {
			t.Errorf("GET %s with the token: %d %s", p, code, got)
		}
	}
	// A browser: asked by the Basic challenge, it sends the token as the
	// password and opens the page and its live part.
	browser := "Basic " + base64.StdEncoding.EncodeToString([]byte("me:"+ingressToken))
	for _, p := range []string{"/ui", "/ui/live"} {
		if code, _, got := call(t, c, "GET", r.admin+p, browser, ""); code != 200 {
			t.Errorf("GET %s with Basic: %d %.200s", p, code, got)
		}
	}

	// gRPC: health open, the service and reflection not.
	conn, err := grpc.NewClient(r.sc.addrs["grpc"], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health without a token: %v", err)
	}
	eg := eventguardv1.NewEventguardClient(conn)
	req := &eventguardv1.ProduceRequest{Topic: "pets", Records: []*eventguardv1.Record{{Value: []byte(petV2)}}}
	if _, err := eg.Produce(ctx, req); status.Code(err) != codes.Unauthenticated {
		t.Errorf("Produce without a token: %v", err)
	}
	sub, err := eg.Subscribe(ctx)
	if err == nil {
		_, err = sub.Recv()
	}
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("Subscribe without a token: %v", err)
	}
	authed := metadata.AppendToOutgoingContext(ctx, "authorization", bearer)
	if resp, err := eg.Produce(authed, req); err != nil || !resp.GetResults()[0].GetProduced() {
		t.Errorf("Produce with the token: %v %v", resp, err)
	}

	fams, err := r.sc.prom.Gather()
	if err != nil {
		t.Fatal(err)
	}
	wantMetric(t, fams, "eventguard_auth_refusals_total", map[string]string{"listener": "http", "reason": "missing"}, missing)
	wantMetric(t, fams, "eventguard_auth_refusals_total", map[string]string{"listener": "http", "reason": "invalid"}, 2)
	wantMetric(t, fams, "eventguard_auth_refusals_total", map[string]string{"listener": "admin", "reason": "missing"}, 9)
	wantMetric(t, fams, "eventguard_auth_refusals_total", map[string]string{"listener": "grpc", "reason": "missing"}, 2)
	for _, tok := range []string{ingressToken, envToken} {
		if strings.Contains(r.logs.String(), tok) {
			t.Errorf("the log holds a token")
		}
	}
}

// TestSidecarMutualTLS: with listen.auth.mode mtls every listener serves
// TLS; a client with a certificate of the client CA is served over HTTP
// (HTTP/2), gRPC and the admin data endpoints, one without is refused
// (401, UNAUTHENTICATED), and probes need no certificate. curl and
// `eventguard healthcheck` are checked too.
func TestSidecarMutualTLS(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA := testcerts.NewCA(t, "eventguard server CA"), testcerts.NewCA(t, "eventguard client CA")
	certFile, keyFile, caFile := testcerts.ServerFiles(t, dir, serverCA, clientCA)
	r := startSidecar(t, nil, func(c *config.Config) {
		c.Listen.GRPC = "127.0.0.1:0"
		c.Listen.Auth.Mode = config.AuthMTLS
		c.Listen.TLS = config.ListenTLS{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile}
	})
	if !strings.HasPrefix(r.http, "https://") {
		t.Fatalf("ingress at %s", r.http)
	}
	clientCert := clientCA.ClientCert(t, "pets-api")
	withCert := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{RootCAs: serverCA.Pool(), Certificates: []tls.Certificate{clientCert}}}}
	noCert := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: serverCA.Pool()}}}
	body := records(petV2)

	if code, challenges, got := call(t, noCert, "POST", r.http+"/v1/topics/pets/records", "", body); code != 401 || len(challenges) != 1 || challenges[0] != `Mutual-TLS realm="eventguard"` {
		t.Errorf("without a client certificate: %d %q %s", code, challenges, got)
	}
	resp, err := withCert.Post(r.http+"/v1/topics/pets/records", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" {
		t.Errorf("with a client certificate: %d %s", resp.StatusCode, resp.Proto)
	}
	for _, p := range []string{"/readyz", "/healthz", "/metrics"} {
		if code, _, _ := call(t, noCert, "GET", r.admin+p, "", ""); code != 200 {
			t.Errorf("GET %s without a client certificate: %d", p, code)
		}
	}
	if code, _, _ := call(t, noCert, "GET", r.admin+"/v1/catalog", "", ""); code != 401 {
		t.Errorf("GET /v1/catalog without a client certificate: %d", code)
	}
	if code, _, _ := call(t, withCert, "GET", r.admin+"/v1/catalog", "", ""); code != 200 {
		t.Errorf("GET /v1/catalog with a client certificate: %d", code)
	}

	// gRPC over TLS.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req := &eventguardv1.ProduceRequest{Topic: "pets", Records: []*eventguardv1.Record{{Value: []byte(petV2)}}}
	good, err := grpc.NewClient(r.sc.addrs["grpc"], grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: serverCA.Pool(), Certificates: []tls.Certificate{clientCert}})))
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if resp, err := eventguardv1.NewEventguardClient(good).Produce(ctx, req); err != nil || !resp.GetResults()[0].GetProduced() {
		t.Errorf("gRPC Produce with a client certificate: %v %v", resp, err)
	}
	bad, err := grpc.NewClient(r.sc.addrs["grpc"], grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: serverCA.Pool()})))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if _, err := eventguardv1.NewEventguardClient(bad).Produce(ctx, req); status.Code(err) != codes.Unauthenticated {
		t.Errorf("gRPC Produce without a client certificate: %v", err)
	}
	if _, err := healthpb.NewHealthClient(bad).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("gRPC health without a client certificate: %v", err)
	}
	if n := topicRecords(t, r.stack.Brokers, "pets"); n != 2 {
		t.Errorf("%d records in pets, want the 2 authenticated ones", n)
	}

	// curl with the client certificate, as the docs show it.
	if curl, err := exec.LookPath("curl"); err == nil {
		cc, ck := clientCA.Issue(t, "curl", true)
		ccf, ckf := testcerts.WriteFile(t, dir, "client.crt", cc), testcerts.WriteFile(t, dir, "client.key", ck)
		sca := testcerts.WriteFile(t, dir, "server-ca.crt", serverCA.PEM)
		out, err := exec.Command(curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", sca, "--cert", ccf, "--key", ckf,
			"-X", "POST", r.http+"/v1/topics/pets/records", "-H", "Content-Type: application/json", "-d", body).CombinedOutput()
		if err != nil || string(out) != "200" {
			t.Errorf("curl with a client certificate: %s %v", out, err)
		}
	} else {
		t.Log("curl not installed: the curl check did not run")
	}

	// eventguard healthcheck finds the admin listener over HTTPS.
	cfgFile := filepath.Join(dir, "eventguard.yaml")
	yaml := "listen:\n  admin: " + strings.TrimPrefix(r.admin, "https://") + "\n  tls: {cert_file: " + certFile + ", key_file: " + keyFile + "}\n"
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	if code := Main([]string{"healthcheck", "--config", cfgFile}, &out, &errb); code != 0 {
		t.Errorf("healthcheck: exit %d: %s %s", code, out.String(), errb.String())
	}
}

// TestExampleProducerWithToken: the compose stack's producer app (Python's
// urllib) sends the token from SIDECAR_TOKEN_FILE, as the stack runs it;
// without the token its events are refused.
func TestExampleProducerWithToken(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed: the example producer cannot run")
	}
	tokenFile := testcerts.WriteFile(t, t.TempDir(), "ingress-token", []byte(ingressToken+"\n"))
	r := startSidecar(t, nil, func(c *config.Config) {
		c.Listen.Auth = config.ListenAuth{Mode: config.AuthToken, TokenFiles: config.StringList{tokenFile}}
	})
	run := func(withToken bool) (string, error) {
		cmd := exec.Command(python, filepath.Join("..", "..", "examples", "apps", "producer.py"))
		cmd.Env = append(os.Environ(), "SIDECAR_URL="+r.http, "SIDECAR_ADMIN_URL="+r.admin, "SIDECAR_TOKEN_FILE=")
		if withToken {
			cmd.Env = append(cmd.Env, "SIDECAR_TOKEN_FILE="+tokenFile)
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(true); err != nil || !strings.Contains(out, "-> HTTP 200") || !strings.Contains(out, "-> HTTP 422") {
		t.Errorf("with the token: %v\n%s", err, out)
	}
	if out, err := run(false); err == nil || !strings.Contains(out, "-> HTTP 401") {
		t.Errorf("without the token: %v\n%s", err, out)
	}
}

func TestBeyondLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": false, "127.1.2.3:8080": false, "[::1]:9090": false, "localhost:8080": false,
		"unix:///var/run/eventguard/http.sock": false, "off": false,
		"0.0.0.0:8080": true, ":8080": true, "[::]:9090": true, "10.0.0.7:8080": true, "eventguard:8080": true,
	} {
		if got := beyondLoopback(addr); got != want {
			t.Errorf("beyondLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestWarnsAboutAnExposedIngress: an ingress beyond loopback without
// listen.auth is named in a warning at start; with a token, or on
// loopback, nothing is said.
func TestWarnsAboutAnExposedIngress(t *testing.T) {
	for _, tt := range []struct {
		name      string
		edit      func(*config.Config)
		wantWarns int
	}{
		{"defaults", func(*config.Config) {}, 0},
		{"http on every interface", func(c *config.Config) { c.Listen.HTTP = "0.0.0.0:8080" }, 1},
		{"both on every interface", func(c *config.Config) { c.Listen.HTTP, c.Listen.GRPC = "0.0.0.0:8080", "[::]:9090" }, 2},
		{"with a token", func(c *config.Config) {
			c.Listen.HTTP = "0.0.0.0:8080"
			c.Listen.Auth = config.ListenAuth{Mode: config.AuthToken, Tokens: config.StringList{ingressToken}}
		}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			tt.edit(cfg)
			logs := &syncBuffer{}
			log, _ := telemetry.NewLogger(logs, "json", "info")
			s := &sidecar{cfg: cfg, log: log, prom: prometheus.NewRegistry()}
			if err := s.setupAuth(); err != nil {
				t.Fatal(err)
			}
			if got := len(logs.lines(t, "the ingress is reachable beyond loopback and listen.auth is off: whoever reaches it can produce; set listen.auth (docs/deploy.md)")); got != tt.wantWarns {
				t.Errorf("%d warnings, want %d:\n%s", got, tt.wantWarns, logs.String())
			}
		})
	}
}
