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
                        [--latest=false] [--reframe] [--any-subject] [--all-topics]
                        [--config FILE | --brokers HOST:PORT,... --registry URL]

Replay reads DLQ_TOPIC from its start to its current end, re-validates every
dead-lettered record against the current schemas as a subscription would,
and produces the ones that now pass to TOPIC with their original key,
timestamp and headers (minus eventguard.dlq.*) plus eventguard.replayed_from.
It prints one line per record, naming the schema each replayed record is
framed with, and a summary, and never deletes or changes anything in
DLQ_TOPIC.

A record that broke the schema its id names is also tried against the latest
version of TOPIC-value (--latest, on by default) and re-framed with its id
when it passes. Records that never had a contract eventguard could check
(not_wire_format, unknown_schema, wrong_subject) are tried only with
--reframe: framing bytes no contract vouched for must be asked for.
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
	reframe := fs.Bool("reframe", false, "also try records that were never in wire format, or carry an unknown schema id or another subject's schema, against the latest version of <to>-value, and frame them with its id if they pass")
	anySubject := fs.Bool("any-subject", false, "accept a schema id registered under any subject (as a subscription with subject_strategy: any)")
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
		From:      *from,
		To:        *to,
		Reason:    *reason,
		AllTopics: *allTopics,
		DryRun:    *dryRun,
		Check: check.New(check.Options{Resolver: resolver, Logger: log}).ReplayCheck(check.ReplayOptions{
			Topic: func(name string) config.Topic {
				t, _ := cfg.ConsumePolicy(&config.Subscription{}, name)
				return t
			},
			AnySubject: *anySubject,
			TryLatest:  *latest,
			Reframe:    *reframe,
		}),
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
