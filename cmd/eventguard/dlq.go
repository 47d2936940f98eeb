package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/eventguard/eventguard/check"
	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/dlq"
	"github.com/eventguard/eventguard/kafka"
	"github.com/eventguard/eventguard/telemetry"
	"github.com/eventguard/eventguard/validate"
)

const dlqUsage = `Usage:
  eventguard dlq replay --from DLQ_TOPIC --to TOPIC [--reason REASON] [--dry-run]
                        [--latest=false] [--all-topics]
                        [--config FILE | --brokers HOST:PORT,... --registry URL]

Replay reads DLQ_TOPIC from its start to its current end, re-validates every
dead-lettered record against the current schemas, and produces the ones that
now pass to TOPIC with their original key, timestamp and headers (minus
eventguard.dlq.*) plus eventguard.replayed_from. It prints one line per
record and a summary, and never deletes or changes anything in DLQ_TOPIC.
`

// cmdDLQ runs `eventguard dlq SUBCOMMAND`.
func cmdDLQ(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "replay" {
		fmt.Fprint(stderr, dlqUsage)
		return exitCode(2)
	}
	return cmdDLQReplay(ctx, args[1:], stdout, stderr)
}

func cmdDLQReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dlq replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, dlqUsage, "\nFlags:\n"); fs.PrintDefaults() }
	from := fs.String("from", "", "dead-letter topic to read (required)")
	to := fs.String("to", "", "topic to produce the records that now pass to (required)")
	reason := fs.String("reason", "", "replay only records dead-lettered for this reason: "+strings.Join(dlq.Reasons, ", "))
	dryRun := fs.Bool("dry-run", false, "check and report, produce nothing")
	latest := fs.Bool("latest", true, "when a value fails the schema its id names, try the latest version of <to>-value and re-frame the value with its id if it passes")
	allTopics := fs.Bool("all-topics", false, "also replay records that were consumed from a topic other than --to")
	cfgPath := fs.String("config", os.Getenv("EVENTGUARD_CONFIG"), "config file for the kafka and registry settings; default $EVENTGUARD_CONFIG")
	brokers := fs.String("brokers", "", "Kafka brokers, comma-separated (overrides the config)")
	registry := fs.String("registry", "", "schema registry URL (overrides the config)")
	idle := fs.Duration("idle-timeout", 10*time.Second, "stop reading when no record arrives for this long before the end is reached")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var bad []string
	if *from == "" || *to == "" {
		bad = append(bad, "--from and --to are required")
	} else if *from == *to {
		bad = append(bad, "--from and --to must differ")
	}
	if *reason != "" && !slices.Contains(dlq.Reasons, *reason) {
		bad = append(bad, fmt.Sprintf("--reason %q is not one of %s", *reason, strings.Join(dlq.Reasons, ", ")))
	}
	if fs.NArg() > 0 {
		bad = append(bad, fmt.Sprintf("unexpected arguments %q", fs.Args()))
	}
	if len(bad) > 0 {
		fmt.Fprintf(stderr, "eventguard dlq replay: %s\n\n", strings.Join(bad, "; "))
		fs.Usage()
		return exitCode(2)
	}

	cfg, err := config.Load(*cfgPath, os.Environ())
	if err != nil {
		return err
	}
	if *brokers != "" {
		cfg.Kafka.Brokers = strings.Split(*brokers, ",")
	}
	if *registry != "" {
		cfg.Registry.URL = strings.TrimRight(*registry, "/")
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	log, err := telemetry.NewLogger(stderr, "text", "warn")
	if err != nil {
		return err
	}
	opts, err := kafka.Options(cfg.Kafka, log)
	if err != nil {
		return err
	}
	regcl, err := validate.NewRegistryClient(cfg.Registry)
	if err != nil {
		return err
	}
	resolver := validate.NewResolver(regcl, validate.Options{Timeout: cfg.Registry.Timeout})

	sum, err := dlq.Replay(ctx, opts, dlq.ReplayOptions{
		From:        *from,
		To:          *to,
		Reason:      *reason,
		AllTopics:   *allTopics,
		DryRun:      *dryRun,
		Check:       check.New(check.Options{Resolver: resolver, Logger: log}).ReplayCheck(*latest),
		IdleTimeout: *idle,
		Out:         stdout,
	})
	if sum != nil {
		fmt.Fprintln(stdout, sum)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted; records already produced stay produced: %w", err)
	}
	return err
}
