package validate_test

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/validate"
)

// TestRegistryClientAuth: the registry client sends the configured basic
// auth or bearer token, read from the config or from a file (trailing
// newline dropped); the registry refusing them is ErrUnavailable naming
// the credentials.
func TestRegistryClientAuth(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("svc:s3cret"))
	tests := []struct {
		name   string
		expect string // the Authorization header the registry wants
		cfg    config.Registry
		ok     bool
	}{
		{"bearer", "Bearer tok", config.Registry{BearerToken: "tok"}, true},
		{"bearer from a file", "Bearer tok", config.Registry{BearerTokenFile: write("token", "tok\n")}, true},
		{"basic", basic, config.Registry{Username: "svc", Password: "s3cret"}, true},
		{"basic password from a file", basic, config.Registry{Username: "svc", PasswordFile: write("password", "s3cret\r\n")}, true},
		{"wrong token", "Bearer tok", config.Registry{BearerToken: "nope"}, false},
		{"no credentials", "Bearer tok", config.Registry{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := srfake.New(srfake.WithAuth(tt.expect))
			t.Cleanup(reg.Close)
			reg.SeedSchema("pets-value", 1, 1, sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object"}`})
			tt.cfg.URL, tt.cfg.Timeout = reg.URL(), 5*time.Second
			cl, err := validate.NewRegistryClient(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = validate.NewResolver(cl, validate.Options{}).Latest(ctx, "pets-value")
			if tt.ok && err != nil {
				t.Fatalf("Latest: %v", err)
			}
			if !tt.ok && (!errors.Is(err, validate.ErrUnavailable) || !strings.Contains(err.Error(), "credentials")) {
				t.Fatalf("err = %v, want ErrUnavailable about credentials", err)
			}
		})
	}

	_, err := validate.NewRegistryClient(config.Registry{URL: "http://127.0.0.1:1", BearerTokenFile: filepath.Join(dir, "missing")})
	if err == nil || !strings.Contains(err.Error(), "registry.bearer_token_file") {
		t.Errorf("missing token file: err = %v, want it to name registry.bearer_token_file", err)
	}
}
