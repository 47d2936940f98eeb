package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/ingressauth"
	"github.com/eventguard/eventguard/telemetry"
)

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", os.Getenv("EVENTGUARD_CONFIG"), "config file (YAML); default $EVENTGUARD_CONFIG")
	test := fs.Bool("config-test", false, "validate the configuration and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	if *test {
		fmt.Fprintln(stdout, "configuration ok")
		return nil
	}
	log, err := telemetry.NewLogger(stderr, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		return err
	}
	sc, err := newSidecar(cfg, log)
	if err != nil {
		return err
	}
	lns, err := sc.listen()
	if err != nil {
		return err
	}
	return sc.run(ctx, lns)
}

// loadConfig loads, defaults and validates, reporting every problem.
func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path, os.Environ())
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	if _, _, err := configRules(cfg); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	// The token and TLS files are read as the sidecar reads them, so
	// --config-test finds a missing or bad one (never quoting a token).
	if _, err := ingressauth.New(cfg.Listen, ingressauth.Options{Logger: slog.New(slog.DiscardHandler)}); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}
