package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/eventguard/eventguard/config"
)

// cmdHealthcheck asks a running sidecar's admin endpoint and exits 0 when it
// answers 200: a health check for images without a shell or an HTTP client
// (distroless), e.g. a docker-compose healthcheck. It finds the admin
// address as run does: listen.admin of the config file (--config or
// EVENTGUARD_CONFIG), EVENTGUARD_LISTEN_ADMIN over it, over HTTPS when
// listen.tls is set; --url overrides all.
func cmdHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", os.Getenv("EVENTGUARD_CONFIG"), "config file (YAML) whose listen.admin to ask; default $EVENTGUARD_CONFIG")
	url := fs.String("url", "", "endpoint to ask (/readyz: ready to serve; /healthz: alive); default http://<listen.admin>/readyz, listen.admin found as run finds it (--config, EVENTGUARD_LISTEN_ADMIN)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	client := http.DefaultClient
	if *url == "" {
		u, err := readyzURL(*path, os.Environ())
		if err != nil {
			return fmt.Errorf("healthcheck: %w", err)
		}
		*url = u
		if strings.HasPrefix(u, "https://") {
			// The sidecar's own admin listener on loopback, whose
			// certificate names the host others reach it by: it is not
			// verified (as the kubelet's HTTPS probes do not), and /readyz
			// asks for no credentials.
			client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // see above
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", *url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", *url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Fprintf(stdout, "%s %s\n", resp.Status, body)
	if resp.StatusCode != http.StatusOK {
		return exitCode(1)
	}
	return nil
}

// readyzURL is the /readyz URL of the admin listener configured by the
// file at path (none when "") and env, with defaults, as run loads it
// (https:// when listen.tls is set). An
// address on every interface (0.0.0.0, ::, or no host) is asked on
// loopback.
func readyzURL(path string, env []string) (string, error) {
	cfg, err := config.Load(path, env)
	if err != nil {
		return "", err
	}
	addr := cfg.Listen.Admin
	if addr == config.ListenerOff {
		return "", errors.New(`listen.admin is "off": there is no admin endpoint to ask (turn it on, or give --url)`)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("listen.admin %q: %w", addr, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	scheme := "http://"
	if cfg.Listen.TLS.CertFile != "" {
		scheme = "https://"
	}
	return scheme + net.JoinHostPort(host, port) + "/readyz", nil
}
