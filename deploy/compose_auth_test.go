package deploy

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/ingressauth"
)

// TestComposeIngressToken: the compose stack's ingress listens on the
// compose network, so eventguard asks for a token (listen.auth) read from
// a compose secret, the token file is one eventguard accepts, and the
// producer app mounts the same secret and sends it.
func TestComposeIngressToken(t *testing.T) {
	c := loadCompose(t)
	cfg := eventguardConfig(t, c)
	if cfg.Listen.Auth.Mode != config.AuthToken || len(cfg.Listen.Auth.Tokens) != 0 || len(cfg.Listen.Auth.TokenFiles) == 0 {
		t.Fatalf("listen.auth: %+v; want mode token with token_files only (no token in the config)", cfg.Listen.Auth)
	}
	eg, prod := c.service(t, "eventguard"), c.service(t, "producer")
	// secretFile is the repository file of the compose secret a service
	// mounts at path.
	secretFile := func(svc string, s composeService, path string) string {
		name, ok := strings.CutPrefix(path, "/run/secrets/")
		if !ok || !slices.Contains(s.Secrets, name) {
			t.Errorf("service %s: %s is not one of its compose secrets %v", svc, path, s.Secrets)
			return ""
		}
		sec, ok := c.Secrets[name]
		if !ok || !strings.HasPrefix(sec.File, "./") {
			t.Errorf("secret %s: not a file of the repository (%+v)", name, sec)
			return ""
		}
		return filepath.Join(root, sec.File)
	}
	host := cfg.Listen
	host.Auth.TokenFiles = nil
	for _, p := range cfg.Listen.Auth.TokenFiles {
		if f := secretFile("eventguard", eg, p); f != "" {
			host.Auth.TokenFiles = append(host.Auth.TokenFiles, f)
		}
	}
	// eventguard reads the files as it will in the container.
	if _, err := ingressauth.New(host, ingressauth.Options{}); err != nil {
		t.Errorf("eventguard would not start with the secret: %v", err)
	}
	tf := prod.Environment["SIDECAR_TOKEN_FILE"]
	if f := secretFile("producer", prod, tf); f != "" && !slices.Contains(host.Auth.TokenFiles, f) {
		t.Errorf("producer SIDECAR_TOKEN_FILE=%s is not a secret eventguard accepts (%v)", tf, host.Auth.TokenFiles)
	}
	// The health check asks /readyz, which stays open.
	if hc := eg.Healthcheck; hc == nil || !slices.ContainsFunc(hc.Test, func(s string) bool { return strings.HasSuffix(s, "/readyz") }) {
		t.Errorf("eventguard healthcheck %v: want /readyz (open without a token)", hc)
	}
}
