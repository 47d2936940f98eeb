package validate

import (
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/config"
)

// NewRegistryClient returns a registry client for cfg.
func NewRegistryClient(cfg config.Registry) (*sr.Client, error) {
	opts := []sr.ClientOpt{
		sr.URLs(cfg.URL),
		sr.HTTPClient(&http.Client{Timeout: cfg.Timeout}),
		sr.UserAgent("eventguard"),
	}
	if cfg.Username != "" {
		pass, err := secret(cfg.Password, cfg.PasswordFile, "registry.password_file")
		if err != nil {
			return nil, err
		}
		opts = append(opts, sr.BasicAuth(cfg.Username, pass))
	}
	if cfg.BearerToken != "" || cfg.BearerTokenFile != "" {
		tok, err := secret(cfg.BearerToken, cfg.BearerTokenFile, "registry.bearer_token_file")
		if err != nil {
			return nil, err
		}
		opts = append(opts, sr.BearerToken(tok))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("create registry client for %s: %w", config.RedactURL(cfg.URL), err)
	}
	return cl, nil
}

func secret(value, file, field string) (string, error) {
	if file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
