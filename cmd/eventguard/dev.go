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
	kafkaPort := fs.Int("kafka-port", 9092, "port of the embedded Kafka on 127.0.0.1 (0: any free port)")
	registryAddr := fs.String("registry-addr", "127.0.0.1:8081", "listen address of the embedded registry (port 0: any free port)")
	listen := map[string]*string{
		"http":  fs.String("http", "127.0.0.1:8080", `HTTP ingress address, or "off" (overrides listen.http of --config and EVENTGUARD_LISTEN_HTTP)`),
		"grpc":  fs.String("grpc", "127.0.0.1:9090", `gRPC ingress address, or "off" (overrides listen.grpc)`),
		"admin": fs.String("admin", "127.0.0.1:9464", `admin address (/ui /metrics /readyz /healthz /v1/catalog /v1/recent), or "off"; loopback in dev (overrides listen.admin)`),
	}
	if err := fs.Parse(args); err != nil {
		return err
	}

	cfg, err := devConfig(*cfgPath)
	if err != nil {
		return err
	}
	// A listener flag given wins over the config and the environment.
	fs.Visit(func(f *flag.Flag) {
		if p, ok := listen[f.Name]; ok {
			switch f.Name {
			case "http":
				cfg.Listen.HTTP = *p
			case "grpc":
				cfg.Listen.GRPC = *p
			case "admin":
				cfg.Listen.Admin = *p
			}
		}
	})
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
			flagName := "--kafka-port"
			if se, ok := err.(*devstack.StartError); ok && se.Part == "registry" {
				flagName = "--registry-addr"
			}
			return fmt.Errorf("%w; is another eventguard dev running? set another address with %s", err, flagName)
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
	sc.listenSetting = func(name string) string { return "--" + name }
	lns, err := sc.listen()
	if err != nil {
		return err
	}
	ex := petsExample
	if *contractsDir != "" {
		ex = contractsExample(set, cfg, *contractsDir)
	}
	printDevBanner(stdout, cfg, sc.addrs, ex)
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
	if cfg.Listen.Admin == "" {
		cfg.Listen.Admin = base.Listen.Admin // loopback in dev
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
