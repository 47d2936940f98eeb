package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eventguard/eventguard/test/e2e/harness"
)

// securedListeners are kafka.sh's secured listeners and the files a client
// needs for them.
type securedListeners struct {
	sasl, mtls                []string // SASL_SSL, and SSL with client certificates
	ca, clientCert, clientKey string
}

// secured returns kafka.sh's secured listeners, or skips (fails in CI).
func secured(t *testing.T) securedListeners {
	t.Helper()
	vars := []string{"KAFKA_SASL_SSL_BROKERS", "KAFKA_MTLS_BROKERS", "KAFKA_TLS_CA", "KAFKA_TLS_CLIENT_CERT", "KAFKA_TLS_CLIENT_KEY"}
	for _, v := range vars {
		if os.Getenv(v) == "" {
			unavailable(t, "%s is not set: the broker of test/kafka/kafka.sh has the secured listeners (make test-e2e sets %s)", v, strings.Join(vars, ", "))
		}
	}
	s := securedListeners{
		sasl: strings.Split(os.Getenv("KAFKA_SASL_SSL_BROKERS"), ","), mtls: strings.Split(os.Getenv("KAFKA_MTLS_BROKERS"), ","),
		ca: os.Getenv("KAFKA_TLS_CA"), clientCert: os.Getenv("KAFKA_TLS_CLIENT_CERT"), clientKey: os.Getenv("KAFKA_TLS_CLIENT_KEY"),
	}
	for _, f := range []string{s.ca, s.clientCert, s.clientKey} {
		if _, err := os.Stat(f); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// createSCRAMUser creates (or updates) a SCRAM-SHA-512 user through the
// Admin API on the plaintext listener, as an operator would.
func createSCRAMUser(t *testing.T, brokers []string, user, password string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := kadm.NewClient(cl).AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: user, Mechanism: kadm.ScramSha512, Iterations: 8192, Password: password}})
	if err == nil {
		for _, r := range res {
			if r.Err != nil {
				err = fmt.Errorf("%s: %w (%s)", r.User, r.Err, r.ErrMessage)
			}
		}
	}
	if err != nil {
		t.Fatalf("create SCRAM user %s: %v", user, err)
	}
}

// readiness returns /readyz's status and checks.
func (e *env) readiness() (int, map[string]string) {
	e.t.Helper()
	resp, err := e.hc.Get(e.sc.Admin + "/readyz")
	if err != nil {
		e.t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		Checks map[string]string `json:"checks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		e.t.Fatalf("/readyz body: %v", err)
	}
	return resp.StatusCode, body.Checks
}

// TestSecuredBroker: eventguard produces to listeners secured as
// production clusters are (TLS with a private CA, then SASL PLAIN or
// SCRAM-SHA-512; or mutual TLS with a client certificate) and what it wrote
// is read back; a wrong password, an untrusted certificate or a missing
// client certificate leaves it running but not ready, /readyz naming the
// cause, and produce answers 503 without writing anything.
func TestSecuredBroker(t *testing.T) {
	sl := secured(t)
	ca := sl.ca
	plain := kafkaBrokers(t)
	createSCRAMUser(t, plain, "eventguard-scram", "scram-secret")

	tlsEnv := []string{"EVENTGUARD_KAFKA_TLS_ENABLED=true", "EVENTGUARD_KAFKA_TLS_CA_FILE=" + ca}
	tests := []struct {
		name    string
		brokers []string // default: the SASL_SSL listener
		env     []string
		// cause is what /readyz's kafka check must say; "" when the
		// sidecar must work.
		cause string
	}{
		{"TLS and SASL PLAIN", nil, append(tlsEnv, "EVENTGUARD_KAFKA_SASL_MECHANISM=PLAIN", "EVENTGUARD_KAFKA_SASL_USERNAME=eventguard", "EVENTGUARD_KAFKA_SASL_PASSWORD=eventguard-secret"), ""},
		{"TLS and SCRAM-SHA-512", nil, append(tlsEnv, "EVENTGUARD_KAFKA_SASL_MECHANISM=SCRAM-SHA-512", "EVENTGUARD_KAFKA_SASL_USERNAME=eventguard-scram", "EVENTGUARD_KAFKA_SASL_PASSWORD=scram-secret"), ""},
		{"wrong password", nil, append(tlsEnv, "EVENTGUARD_KAFKA_SASL_MECHANISM=PLAIN", "EVENTGUARD_KAFKA_SASL_USERNAME=eventguard", "EVENTGUARD_KAFKA_SASL_PASSWORD=not-the-secret"), "SASL"},
		{"untrusted certificate", nil, []string{"EVENTGUARD_KAFKA_TLS_ENABLED=true", "EVENTGUARD_KAFKA_SASL_MECHANISM=PLAIN", "EVENTGUARD_KAFKA_SASL_USERNAME=eventguard", "EVENTGUARD_KAFKA_SASL_PASSWORD=eventguard-secret"}, "certificate"},
		{"mutual TLS", sl.mtls, append(tlsEnv, "EVENTGUARD_KAFKA_TLS_CERT_FILE="+sl.clientCert, "EVENTGUARD_KAFKA_TLS_KEY_FILE="+sl.clientKey), ""},
		{"mutual TLS without a client certificate", sl.mtls, tlsEnv, "tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			brokers := tt.brokers
			if brokers == nil {
				brokers = sl.sasl
			}
			e := startWith(t, "", harness.Options{Brokers: brokers, Env: tt.env, AnyReadiness: tt.cause != ""})
			topic, _ := e.topic("e2e-secured", "pets-value", 2)
			recs := []rec{{Key: "pet-1", Value: petEvent("pet-1", 4100)}, {Key: "pet-2", Value: petEvent("pet-2", 4200)}}

			if tt.cause == "" {
				resp := e.mustPost(topic, recs, nil, http.StatusOK)
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				got, err := harness.ConsumeGroup(ctx, plain, topic, harness.UniqueName("e2e-secured"), len(recs))
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(recs) || len(resp.Results) != len(recs) {
					t.Fatalf("read back %d records, answered %d, want %d", len(got), len(resp.Results), len(recs))
				}
				return
			}

			// Not ready, for the reason given; give the client time to try.
			var checks map[string]string
			deadline := time.Now().Add(20 * time.Second)
			for {
				var code int
				code, checks = e.readiness()
				if code != http.StatusServiceUnavailable {
					t.Fatalf("/readyz = %d %v, want 503", code, checks)
				}
				if strings.Contains(strings.ToLower(checks["kafka"]), strings.ToLower(tt.cause)) || time.Now().After(deadline) {
					break
				}
				time.Sleep(250 * time.Millisecond)
			}
			if !strings.Contains(strings.ToLower(checks["kafka"]), strings.ToLower(tt.cause)) {
				t.Errorf("/readyz kafka check %q does not name the cause (%q)", checks["kafka"], tt.cause)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			a, err := e.post(ctx, topic, recs, nil)
			if err != nil {
				t.Fatal(err)
			}
			if a.Status != http.StatusServiceUnavailable || a.Body.Error == nil || a.Body.Error.Code != "kafka_unavailable" {
				t.Errorf("produce while the broker refuses eventguard: %d %s, want 503 kafka_unavailable", a.Status, a.Raw)
			}
			t.Logf("/readyz kafka: %s; produce: %s", checks["kafka"], a.Body.Error.Message)
		})
	}
}
