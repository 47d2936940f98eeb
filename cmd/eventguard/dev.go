package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/contracts"
	"github.com/eventguard/eventguard/devstack"
	"github.com/eventguard/eventguard/examples"
	"github.com/eventguard/eventguard/telemetry"
	"github.com/eventguard/eventguard/validate"
)

func cmdDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	brokers := fs.String("brokers", "", "use these Kafka brokers (comma-separated) instead of the embedded one")
	registry := fs.String("registry", "", "use this schema registry URL instead of the embedded one")
	cfgPath := fs.String("config", "", "config file adding topics, subscriptions and deprecations to the dev defaults")
	contractsDir := fs.String("contracts", "", "contracts folder to register (default: the embedded examples/contracts)")
	kafkaPort := fs.Int("kafka-port", 9092, "port of the embedded Kafka on 127.0.0.1")
	registryAddr := fs.String("registry-addr", "127.0.0.1:8081", "listen address of the embedded registry")
	if err := fs.Parse(args); err != nil {
		return err
	}

	cfg, err := devConfig(*cfgPath)
	if err != nil {
		return err
	}
	log, err := telemetry.NewLogger(stderr, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		return err
	}

	var stack *devstack.Stack
	if *brokers == "" || *registry == "" {
		o := devstack.Options{Logger: log}
		if *brokers == "" {
			o.KafkaPort = *kafkaPort
		}
		if *registry == "" {
			o.RegistryAddr = *registryAddr
		}
		stack, err = devstack.Start(o)
		if err != nil {
			return fmt.Errorf("%w (is another eventguard dev running? use --kafka-port/--registry-addr)", err)
		}
		defer stack.Close()
	}
	if *brokers != "" {
		cfg.Kafka.Brokers = strings.Split(*brokers, ",")
	} else {
		cfg.Kafka.Brokers = stack.Brokers
	}
	if *registry != "" {
		cfg.Registry.URL = strings.TrimRight(*registry, "/")
	} else {
		cfg.Registry.URL = stack.RegistryURL
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}

	set, err := loadContracts(*contractsDir)
	if err != nil {
		return err
	}
	regcl, err := validate.NewRegistryClient(cfg.Registry)
	if err != nil {
		return err
	}
	registered, err := set.Register(ctx, regcl)
	if err != nil {
		return fmt.Errorf("register contracts with %s: %w", cfg.Registry.URL, err)
	}
	for _, r := range registered {
		log.Info("contract registered", "subject", r.Subject, "version", r.Version, "id", r.ID)
	}

	sc, err := newSidecar(cfg, log)
	if err != nil {
		return err
	}
	lns, err := sc.listen()
	if err != nil {
		return err
	}
	printDevBanner(stdout, cfg, sc.addrs["http"], cfg.Listen.Admin)
	return sc.run(ctx, lns)
}

// devConfig is the embedded dev configuration, plus the topics,
// subscriptions and deprecations of the file at path.
func devConfig(path string) (*config.Config, error) {
	base := &config.Config{}
	if err := config.Parse(examples.DevConfig, base); err != nil {
		return nil, fmt.Errorf("embedded dev config: %w", err)
	}
	if path == "" {
		cfg := base
		if err := config.ApplyEnv(cfg, os.Environ()); err != nil {
			return nil, err
		}
		cfg.ApplyDefaults()
		return cfg, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg := &config.Config{}
	if err := config.Parse(b, cfg); err != nil {
		return nil, fmt.Errorf("parse config %s: %w", path, err)
	}
	if err := config.ApplyEnv(cfg, os.Environ()); err != nil {
		return nil, err
	}
	cfg.AllowAnyTopic = true
	cfg.Kafka.AutoCreateTopics = true
	if cfg.Feature == "" {
		cfg.Feature = base.Feature
	}
	if cfg.Log.Format == "" {
		cfg.Log.Format = base.Log.Format
	}
	for _, t := range base.Topics {
		if _, ok := cfg.Topic(t.Name); !ok {
			cfg.Topics = append(cfg.Topics, t)
		}
	}
	if len(cfg.Deprecations) == 0 {
		cfg.Deprecations = base.Deprecations
	}
	cfg.ApplyDefaults()
	return cfg, nil
}

func loadContracts(dir string) (*contracts.Set, error) {
	var fsys fs.FS
	if dir == "" {
		sub, err := fs.Sub(examples.Contracts, "contracts")
		if err != nil {
			return nil, err
		}
		fsys = sub
	} else {
		fsys = os.DirFS(dir)
	}
	set, err := contracts.Load(fsys)
	if err != nil {
		return nil, fmt.Errorf("contracts %s: %w", dirName(dir), err)
	}
	return set, nil
}

func dirName(dir string) string {
	if dir == "" {
		return "(embedded examples)"
	}
	return dir
}

func printDevBanner(w io.Writer, cfg *config.Config, httpAddr, adminAddr string) {
	fmt.Fprintf(w, `
eventguard dev is up.
  Kafka brokers   %s
  registry        %s
  HTTP ingress    http://%s
  admin           http://%s  (/ui /metrics /readyz /healthz /v1/catalog /v1/recent)

Produce a valid event:
  curl -sS -X POST http://%[3]s/v1/topics/pets/records \
    -H 'Content-Type: application/json' -H 'Eventguard-Feature: weight-sync' \
    -d '{"records":[{"key":"pet-42","value":{"event_type":"pet.weight.updated.v2","pet_id":"pet-42","device_id":"bowl-7f3a","net_weight_grams":4210,"tare_weight_grams":380,"measured_at":"2026-11-02T08:15:00Z","source":"sensor"}}]}'

Watch an invalid one be refused (422, nothing produced):
  curl -sS -X POST http://%[3]s/v1/topics/pets/records \
    -H 'Content-Type: application/json' \
    -d '{"records":[{"key":"pet-42","value":{"event_type":"pet.weight.updated.v2","pet_id":"pet-42","net_weight_grams":"4210"}}]}'

Read it back:
  kcat -C -b %[1]s -t pets -e -f '%%k %%h\n'

Ctrl-C stops.
`, strings.Join(cfg.Kafka.Brokers, ","), cfg.Registry.URL, httpAddr, adminAddr)
}
