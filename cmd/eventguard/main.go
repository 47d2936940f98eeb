// Command eventguard is a Kafka sidecar that makes event contracts
// executable: it validates events against a schema registry on the way to
// Kafka and on the way back, stamps trace and feature headers, and
// dead-letters what does not pass.
//
// Usage:
//
//	eventguard run --config FILE      the sidecar
//	eventguard run --config-test ...  validate the config and exit
//	eventguard dev                    embedded Kafka and registry, example contracts
//	eventguard contracts check DIR    golden payloads against their schemas
//	eventguard contracts register DIR register a contracts folder
//	eventguard contracts compat DIR   may each version follow the one before?
//	eventguard contracts retire S V   retire a version nobody reads
//	eventguard catalog graph --from URL  merge sidecars' usage catalogs into a graph
//	eventguard dlq replay --from T --to T  re-validate dead-lettered records, replay what passes
//	eventguard healthcheck            exit 0 when the local sidecar is ready (its listen.admin)
//	eventguard version                version, commit, Go version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

const usage = `eventguard: event contracts, executable, next to every service.

Usage:
  eventguard run [--config FILE] [--config-test]
  eventguard dev [--brokers HOST:PORT,...] [--registry URL] [--config FILE] [--contracts DIR]
                 [--http ADDR] [--grpc ADDR] [--admin ADDR] [--kafka-port N] [--registry-addr ADDR]
  eventguard contracts check [--registry URL] [DIR]
  eventguard contracts register --registry URL [--allow-breaking] [DIR]
  eventguard contracts compat [--registry URL] [--level LEVEL] [--lenient] [--catalog URL ...] [--config FILE ...] [--format text|json|github|junit] [DIR]
  eventguard contracts retire SUBJECT VERSION [--contracts DIR] [--catalog URL ...] [--config FILE ...] [--since 7d]
  eventguard catalog graph --from URL [--from URL ...] [--format mermaid|dot]
  eventguard dlq replay --from DLQ_TOPIC --to TOPIC [--reason REASON] [--dry-run] [--config FILE | --brokers ... --registry URL]
  eventguard healthcheck [--config FILE] [--url URL]
  eventguard version

Run 'eventguard COMMAND -h' for a command's flags.
`

func main() {
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

// exitCode carries a process exit status through an error.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

// Main runs the command line and returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signalContext()
	defer stop()
	return mainContext(ctx, args, stdout, stderr)
}

// mainContext runs the command line until ctx is done (a signal).
func mainContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, args[1:], stdout, stderr)
	case "dev":
		err = cmdDev(ctx, args[1:], stdout, stderr)
	case "contracts":
		err = cmdContracts(ctx, args[1:], stdout, stderr)
	case "catalog":
		err = cmdCatalog(ctx, args[1:], stdout, stderr)
	case "dlq":
		err = cmdDLQ(ctx, args[1:], stdout, stderr)
	case "healthcheck":
		err = cmdHealthcheck(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		printVersion(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "eventguard: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var code exitCode
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	case errors.Is(err, flag.ErrHelp):
		return 0
	default:
		fmt.Fprintf(stderr, "eventguard: %v\n", err)
		return 1
	}
}

// signalContext is cancelled by the first SIGINT or SIGTERM; a second one,
// a second or more later, exits at once with status 1. (Signals closer
// together are one signal delivered twice, as `timeout` and some process
// managers do by signalling both the process and its group.)
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
			return
		}
		first := time.Now()
		for range ch {
			if time.Since(first) >= time.Second {
				break
			}
		}
		fmt.Fprintln(os.Stderr, "eventguard: second signal, exiting now")
		os.Exit(1)
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}
