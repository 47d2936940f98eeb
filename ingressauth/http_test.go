package ingressauth_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/ingressauth"
	"github.com/eventguard/eventguard/internal/testcerts"
)

const (
	tokenA = "Dw9Hq3yKt7mZx2Lp4Vn8Rb6Cf1Ga5Je0"
	tokenB = "second-token_0123456789~+/abc=="
	tokenC = "third-token-from-a-rotated-secret"
)

// refusals counts Options.Refused calls.
type refusals struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *refusals) add(listener string, why ingressauth.Reason) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string]int{}
	}
	r.n[listener+"/"+string(why)]++
}

func (r *refusals) get(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[key]
}

func tokenAuth(t *testing.T, l config.ListenAuth, o ingressauth.Options) *ingressauth.Auth {
	t.Helper()
	l.Mode = config.AuthToken
	a, err := ingressauth.New(config.Listen{Auth: l}, o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// ok answers 200 "through" to whatever reaches it.
var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "through") })

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestHTTPToken(t *testing.T) {
	t.Parallel()
	var ref refusals
	a := tokenAuth(t, config.ListenAuth{Tokens: config.StringList{tokenA, tokenB}}, ingressauth.Options{Refused: ref.add})
	h := a.HTTP("admin", ok, "/readyz", "/metrics")
	const bearerChallenge = `Bearer realm="eventguard"`
	const invalidChallenge = `Bearer realm="eventguard", error="invalid_token"`
	tests := []struct {
		name      string
		path      string
		auth      []string
		want      int
		challenge string // the Bearer challenge of a 401
		reason    ingressauth.Reason
	}{
		{"no credentials", "/v1/catalog", nil, 401, bearerChallenge, ingressauth.ReasonMissing},
		{"bearer A", "/v1/catalog", []string{"Bearer " + tokenA}, 200, "", ""},
		{"bearer B", "/ui/assets/page.js", []string{"Bearer " + tokenB}, 200, "", ""},
		{"scheme in lower case", "/v1/catalog", []string{"bearer " + tokenA}, 200, "", ""},
		{"spaces after the scheme", "/v1/catalog", []string{"Bearer   " + tokenA}, 200, "", ""},
		{"basic, token as password", "/ui", []string{basic("anyone", tokenA)}, 200, "", ""},
		{"basic, empty user", "/ui", []string{basic("", tokenB)}, 200, "", ""},
		{"wrong token", "/v1/catalog", []string{"Bearer " + tokenC}, 401, invalidChallenge, ingressauth.ReasonInvalid},
		{"a prefix of a token", "/v1/catalog", []string{"Bearer " + tokenA[:20]}, 401, invalidChallenge, ingressauth.ReasonInvalid},
		{"token plus a character", "/v1/catalog", []string{"Bearer " + tokenA + "x"}, 401, invalidChallenge, ingressauth.ReasonInvalid},
		{"empty bearer", "/v1/catalog", []string{"Bearer "}, 401, invalidChallenge, ingressauth.ReasonInvalid},
		{"scheme only", "/v1/catalog", []string{"Bearer"}, 401, invalidChallenge, ingressauth.ReasonInvalid},
		{"token without a scheme", "/v1/catalog", []string{tokenA}, 401, invalidChallenge, ingressauth.ReasonInvalid},
		{"another scheme", "/v1/catalog", []string{"Token " + tokenA}, 401, invalidChallenge, ingressauth.ReasonInvalid},
		{"basic, token as user", "/ui", []string{basic(tokenA, "")}, 401, invalidChallenge, ingressauth.ReasonInvalid},
		{"basic, wrong password", "/ui", []string{basic("u", tokenC)}, 401, invalidChallenge, ingressauth.ReasonInvalid},
		{"basic, not base64", "/ui", []string{"Basic %%%"}, 401, invalidChallenge, ingressauth.ReasonInvalid},
		{"sent twice", "/v1/catalog", []string{"Bearer " + tokenA, "Bearer " + tokenA}, 401, invalidChallenge, ingressauth.ReasonInvalid},
		{"over the length bound", "/v1/catalog", []string{"Bearer " + strings.Repeat("a", config.MaxTokenBytes+1)}, 401, invalidChallenge, ingressauth.ReasonInvalid},
		{"open path", "/readyz", nil, 200, "", ""},
		{"open path, wrong token", "/metrics", []string{"Bearer nope"}, 200, "", ""},
		{"a path below an open one", "/readyz/x", nil, 401, bearerChallenge, ingressauth.ReasonMissing},
		{"an open path's prefix", "/ready", nil, 401, bearerChallenge, ingressauth.ReasonMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ref.get("admin/" + string(tt.reason))
			r := httptest.NewRequest(http.MethodGet, tt.path, nil)
			for _, v := range tt.auth {
				r.Header.Add("Authorization", v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.want, w.Body)
			}
			if tt.want == 200 {
				if w.Body.String() != "through" {
					t.Errorf("body %q", w.Body)
				}
				return
			}
			got := w.Header().Values("WWW-Authenticate")
			if want := []string{tt.challenge, `Basic realm="eventguard", charset="UTF-8"`}; !slices.Equal(got, want) {
				t.Errorf("WWW-Authenticate %q, want %q", got, want)
			}
			var body struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code != "unauthenticated" || body.Error.Message == "" {
				t.Errorf("body %s (%v)", w.Body, err)
			}
			if w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("headers %v", w.Header())
			}
			for _, tok := range []string{tokenA, tokenB, tokenC} {
				if strings.Contains(w.Body.String(), tok) {
					t.Errorf("the answer quotes a token: %s", w.Body)
				}
			}
			if after := ref.get("admin/" + string(tt.reason)); after != before+1 {
				t.Errorf("refusals of reason %s: %d, want %d", tt.reason, after, before+1)
			}
		})
	}
}

func TestModeNoneIsThePlainHandler(t *testing.T) {
	t.Parallel()
	a, err := ingressauth.New(config.Default().Listen, ingressauth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	a.HTTP("http", ok).ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/v1/topics/pets/records", nil))
	if w.Code != 200 || a.TLS() || a.ServerTLS(ingressauth.ProtosHTTP) != nil || len(a.GRPCServerOptions("grpc")) != 0 {
		t.Errorf("mode none: %d, TLS %v", w.Code, a.TLS())
	}
}

func TestNewErrorsNameTheKeyNotTheToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secretLine := "a-secret-token-with-a bad character"
	bad := testcerts.WriteFile(t, dir, "bad", []byte(tokenA+"\n\n"+secretLine+"\n"))
	empty := testcerts.WriteFile(t, dir, "empty", []byte("\n  \n"))
	good := testcerts.WriteFile(t, dir, "good", []byte(tokenA+"\n"))
	many := testcerts.WriteFile(t, dir, "many", bytes.Repeat([]byte(tokenA+"\n"), ingressauth.MaxTokensPerFile+1))
	long := testcerts.WriteFile(t, dir, "long", []byte(strings.Repeat("b", config.MaxTokenBytes+10)+"\n"))
	notPEM := testcerts.WriteFile(t, dir, "ca.pem", []byte("not a certificate"))
	tests := []struct {
		name string
		l    config.Listen
		want string
	}{
		{"missing token file", config.Listen{Auth: config.ListenAuth{Mode: "token", TokenFiles: config.StringList{good, filepath.Join(dir, "absent")}}},
			"listen.auth.token_files[1]: open " + filepath.Join(dir, "absent") + ": no such file or directory"},
		{"bad line", config.Listen{Auth: config.ListenAuth{Mode: "token", TokenFiles: config.StringList{bad}}},
			"listen.auth.token_files[0] (" + bad + ") line 3: has a character outside RFC 6750's b64token"},
		{"no token in the file", config.Listen{Auth: config.ListenAuth{Mode: "token", TokenFiles: config.StringList{empty}}},
			"listen.auth.token_files[0] (" + empty + "): holds no token"},
		{"too many tokens", config.Listen{Auth: config.ListenAuth{Mode: "token", TokenFiles: config.StringList{many}}},
			"more than 64 tokens"},
		{"line too long", config.Listen{Auth: config.ListenAuth{Mode: "token", TokenFiles: config.StringList{long}}},
			"a line is longer than 4096 characters"},
		{"short token", config.Listen{Auth: config.ListenAuth{Mode: "token", Tokens: config.StringList{tokenA, "short-secret"}}},
			"listen.auth.tokens[1]: is shorter than 16 characters"},
		{"no tokens", config.Listen{Auth: config.ListenAuth{Mode: "token"}}, "listen.auth.tokens: mode token needs at least one token"},
		{"missing certificate", config.Listen{TLS: config.ListenTLS{CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key")}},
			"listen.tls.cert_file and key_file"},
		{"mtls without a client CA", config.Listen{Auth: config.ListenAuth{Mode: "mtls"}}, "listen.auth.mode mtls: needs listen.tls.cert_file, key_file and client_ca_file"},
		{"unknown mode", config.Listen{Auth: config.ListenAuth{Mode: "kerberos"}}, `listen.auth.mode: unknown mode "kerberos"`},
	}
	ca := testcerts.NewCA(t, "server CA")
	certPEM, keyPEM := ca.Issue(t, "eventguard", false)
	cert, key := testcerts.WriteFile(t, dir, "tls.crt.ok", certPEM), testcerts.WriteFile(t, dir, "tls.key.ok", keyPEM)
	tests = append(tests, struct {
		name string
		l    config.Listen
		want string
	}{"client CA without a certificate", config.Listen{Auth: config.ListenAuth{Mode: "mtls"}, TLS: config.ListenTLS{CertFile: cert, KeyFile: key, ClientCAFile: notPEM}},
		"listen.tls.client_ca_file (" + notPEM + "): no PEM certificate in it"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ingressauth.New(tt.l, ingressauth.Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one with %q", err, tt.want)
			}
			for _, s := range []string{tokenA, secretLine, "short-secret", "bbbbbbbbbbbbbbbb"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("the error quotes a token: %v", err)
				}
			}
		})
	}
}

// TestTokenFileRotation: a token file replaced as a Kubernetes Secret is
// (renamed over) takes effect at the next check without a restart; a
// replacement without a valid token keeps the previous tokens and warns
// once, without quoting a token.
func TestTokenFileRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := testcerts.WriteFile(t, dir, "token", []byte(tokenA+"\n"))
	var logs syncBuffer
	a := tokenAuth(t, config.ListenAuth{Tokens: config.StringList{tokenB}, TokenFiles: config.StringList{path}},
		ingressauth.Options{CheckEvery: 20 * time.Millisecond, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	h := a.HTTP("http", ok)
	status := func(tok string) int {
		r := httptest.NewRequest(http.MethodPost, "/v1/topics/pets/records", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	// eventually asks until status(tok) is want, for at most 2s.
	eventually := func(tok string, want int) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for status(tok) != want {
			if time.Now().After(deadline) {
				t.Fatalf("token %.8s...: status %d, want %d", tok, status(tok), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if status(tokenA) != 200 || status(tokenB) != 200 || status(tokenC) != 401 {
		t.Fatal("before the rotation")
	}
	// Rotation, step 1: old and new token both in the Secret.
	testcerts.ReplaceFile(t, path, []byte(tokenA+"\n"+tokenC+"\n"))
	eventually(tokenC, 200)
	if status(tokenA) != 200 {
		t.Error("the old token was dropped while the file still holds it")
	}
	// Step 2: the old token removed.
	testcerts.ReplaceFile(t, path, []byte(tokenC+"\n"))
	eventually(tokenA, 401)
	if status(tokenC) != 200 || status(tokenB) != 200 {
		t.Error("the new token, or the config's own, is refused")
	}
	// A broken replacement keeps what was loaded.
	testcerts.ReplaceFile(t, path, []byte("\n"))
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(logs.String(), "reloading token files failed") {
		if time.Now().After(deadline) {
			t.Fatalf("no warning logged: %s", logs.String())
		}
		status(tokenC)
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	status(tokenC)
	if status(tokenC) != 200 {
		t.Error("a broken token file dropped the loaded tokens")
	}
	if n := strings.Count(logs.String(), "reloading token files failed"); n != 1 {
		t.Errorf("warned %d times, want once:\n%s", n, logs.String())
	}
	for _, tok := range []string{tokenA, tokenB, tokenC} {
		if strings.Contains(logs.String(), tok) {
			t.Errorf("the log quotes a token:\n%s", logs.String())
		}
	}
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
