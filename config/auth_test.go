package config_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eventguard/eventguard/config"
)

func TestListenAuthDefaultsOff(t *testing.T) {
	t.Parallel()
	c := config.Default()
	if c.Listen.Auth.Mode != config.AuthNone || len(c.Listen.Auth.Tokens) != 0 || c.Listen.TLS != (config.ListenTLS{}) {
		t.Errorf("listen.auth/tls defaults: %+v %+v", c.Listen.Auth, c.Listen.TLS)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

func TestStringListYAML(t *testing.T) {
	t.Parallel()
	const secret = "Dw9Hq3yKt7mZx2Lp4Vn8Rb6Cf1Ga5Je0"
	tests := []struct {
		name, yaml string
		want       config.StringList
		err        string
	}{
		{"list", "tokens: [" + secret + ", second-token-0123456789]", config.StringList{secret, "second-token-0123456789"}, ""},
		{"one string", "tokens: " + secret, config.StringList{secret}, ""},
		{"null", "tokens: null", nil, ""},
		{"empty list", "tokens: []", config.StringList{}, ""},
		{"mapping", "tokens: {" + secret + ": x}", nil, "line 4: want a string or a list of strings"},
		{"nested list", "tokens: [[" + secret + "]]", nil, "line 4: want a list of strings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := loadString(t, "listen:\n  auth:\n    mode: token\n    "+tt.yaml+"\n", nil)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one with %q", err, tt.err)
				}
				if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), secret[:7]) {
					t.Errorf("the error quotes the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Listen.Auth.Tokens, tt.want) {
				t.Errorf("tokens %q, want %q", c.Listen.Auth.Tokens, tt.want)
			}
		})
	}
}

func TestListenAuthFromEnv(t *testing.T) {
	t.Parallel()
	c, err := config.Load("", []string{
		"EVENTGUARD_LISTEN_AUTH_MODE=token",
		"EVENTGUARD_LISTEN_AUTH_TOKENS=Dw9Hq3yKt7mZx2Lp4Vn8Rb6Cf1Ga5Je0, second-token-0123456789",
		"EVENTGUARD_LISTEN_AUTH_TOKEN_FILES=/run/secrets/a,/run/secrets/b",
		"EVENTGUARD_LISTEN_TLS_CERT_FILE=/tls/tls.crt",
		"EVENTGUARD_LISTEN_TLS_KEY_FILE=/tls/tls.key",
	})
	if err != nil {
		t.Fatal(err)
	}
	a := c.Listen.Auth
	if a.Mode != config.AuthToken || !slices.Equal(a.Tokens, config.StringList{"Dw9Hq3yKt7mZx2Lp4Vn8Rb6Cf1Ga5Je0", "second-token-0123456789"}) ||
		!slices.Equal(a.TokenFiles, config.StringList{"/run/secrets/a", "/run/secrets/b"}) || c.Listen.TLS.CertFile != "/tls/tls.crt" || c.Listen.TLS.KeyFile != "/tls/tls.key" {
		t.Errorf("from the environment: %+v %+v", a, c.Listen.TLS)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}

// TestValidateQuotesNoSecret: Validate says what is wrong with a token or
// a URL with credentials without quoting the secret.
func TestValidateQuotesNoSecret(t *testing.T) {
	t.Parallel()
	file := filepath.Join("testdata", "invalid_listen_auth.yaml")
	lines := validateFile(t, file)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"registry-password-in-url", "deliver-password-in-url", "short-token", "has spaces in it", "padding=in-the-middle", "Dw9Hq3yKt7mZx2Lp4Vn8Rb6Cf1Ga5Je0", strings.Repeat("a", 64)}
	for _, s := range secrets {
		if !strings.Contains(string(b), s) {
			t.Fatalf("%s does not hold %q", file, s)
		}
		for _, l := range lines {
			if strings.Contains(l, s) {
				t.Errorf("a problem quotes %q: %s", s, l)
			}
		}
	}
}

func TestIsB64Token(t *testing.T) {
	t.Parallel()
	for tok, want := range map[string]bool{
		"abcXYZ019-._~+/": true,
		"abc==":           true,
		"=":               false,
		"":                false,
		"a=b":             false,
		"a b":             false,
		"a,b":             false,
		"a\"b":            false,
		"é":               false,
	} {
		if got := config.IsB64Token(tok); got != want {
			t.Errorf("IsB64Token(%q) = %v, want %v", tok, got, want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://127.0.0.1:8081":              "http://127.0.0.1:8081",
		"https://svc:secret@registry:8081/x": "https://svc:xxxxx@registry:8081/x",
		"https://svc@registry":               "https://svc@registry",
		"http://svc:se cret%zz@host:1/path":  "http://xxxxx@host:1/path",
		"http://a:b@c@host/p@q":              "http://a:xxxxx@host/p@q",
		"not a url":                          "not a url",
	} {
		got := config.RedactURL(in)
		if got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
