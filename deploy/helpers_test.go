package deploy

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/eventguard/eventguard/config"
)

// root is the module root, relative to this package's directory (where go
// test runs the tests).
const root = ".."

// loadConfig loads a configuration the way `eventguard run --config` does:
// config.Load (YAML with unknown keys refused, the EVENTGUARD_* variables in
// env, the defaults), then Validate. It fails the test with every problem.
func loadConfig(t *testing.T, name string, yamlText []byte, env []string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "eventguard.yaml")
	if err := os.WriteFile(path, yamlText, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, env)
	if err != nil {
		t.Fatalf("%s: eventguard refuses the configuration: %v", name, err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("%s: eventguard's validation fails:\n%v", name, err)
	}
	return cfg
}

// checkEnvNames fails the test for an EVENTGUARD_* variable that names no
// setting. eventguard itself ignores such a variable unless it sits under a
// known top-level key, so a typo like EVENTGUARD_LOGLEVEL would otherwise
// be silently dropped.
func checkEnvNames(t *testing.T, where string, env []string) {
	t.Helper()
	known := map[string]bool{config.EnvPrefix + "CONFIG": true}
	for _, n := range config.EnvNames() {
		known[n] = true
	}
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, config.EnvPrefix) && !known[name] {
			t.Errorf("%s: environment %s is not an eventguard setting", where, name)
		}
	}
}

// hostPort splits a host:port listen address, failing the test otherwise.
func hostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("address %q: port: %v", addr, err)
	}
	return host, port
}

// isLoopback reports whether a listen host only accepts connections from
// the same network namespace.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isAllInterfaces reports whether a listen host accepts connections on
// every interface.
func isAllInterfaces(host string) bool {
	return host == "" || host == "0.0.0.0" || host == "::"
}

// secretFiles returns the credential and certificate files a configuration
// reads, by their YAML path.
func secretFiles(cfg *config.Config) map[string]string {
	out := map[string]string{}
	add := func(path, file string) {
		if file != "" {
			out[path] = file
		}
	}
	add("kafka.tls.ca_file", cfg.Kafka.TLS.CAFile)
	add("kafka.tls.cert_file", cfg.Kafka.TLS.CertFile)
	add("kafka.tls.key_file", cfg.Kafka.TLS.KeyFile)
	add("kafka.sasl.password_file", cfg.Kafka.SASL.PasswordFile)
	add("registry.password_file", cfg.Registry.PasswordFile)
	add("registry.bearer_token_file", cfg.Registry.BearerTokenFile)
	return out
}

// imagePinned reports whether an image reference names a tag other than
// latest, or a digest.
func imagePinned(image string) bool {
	if strings.Contains(image, "@sha256:") {
		return true
	}
	slash := strings.LastIndex(image, "/")
	colon := strings.LastIndex(image, ":")
	return colon > slash && image[colon+1:] != "latest" && image[colon+1:] != ""
}
