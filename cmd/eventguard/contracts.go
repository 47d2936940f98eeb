package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/validate"
)

func cmdContracts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: eventguard contracts check|register|compat|retire [flags] [DIR]")
		return exitCode(2)
	}
	switch args[0] {
	case "compat":
		return cmdContractsCompat(ctx, args[1:], stdout, stderr)
	case "retire":
		return cmdContractsRetire(ctx, args[1:], stdout, stderr)
	}
	var synopsis, about, registryUsage string
	switch args[0] {
	case "check":
		synopsis = "eventguard contracts check [--registry URL] [DIR]"
		about = "Check every golden payload of a contracts folder (default: the example contracts): valid/ must pass, invalid/ must fail, each must be JSON."
		registryUsage = "schema registry URL: check the golden payloads against the schemas registered there (by subject and folder version) instead of the folder's own schemas"
	case "register":
		synopsis = "eventguard contracts register --registry URL [--allow-breaking] [--level LEVEL] [DIR]"
		about = "Register a contracts folder with a schema registry: every subject's versions in order, referenced subjects first, each subject's compatibility (subject.yaml) set first. The versions the registry does not hold yet are checked first as `contracts compat --registry` checks them; breaking ones are refused unless --allow-breaking."
		registryUsage = "schema registry URL to register the folder with (required)"
	default:
		return fmt.Errorf("unknown contracts command %q (want check, register, compat or retire)", args[0])
	}
	fs := flag.NewFlagSet("contracts "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s\n\n%s\n\n", synopsis, about)
		fs.PrintDefaults()
	}
	registry := fs.String("registry", "", registryUsage)
	var allowBreaking *bool
	var cf *compatFlags
	if args[0] == "register" {
		allowBreaking = fs.Bool("allow-breaking", false, "register versions the compatibility check finds breaking")
		cf = addCompatFlags(fs)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	dir := fs.Arg(0)
	set, err := loadContracts(dir)
	if err != nil {
		return err
	}
	switch args[0] {
	case "check":
		var reg validate.Registry
		if *registry != "" {
			cl, err := validate.NewRegistryClient(registryConfig(*registry))
			if err != nil {
				return err
			}
			reg = cl
		} else {
			local, err := set.Local()
			if err != nil {
				return err
			}
			reg = local
		}
		outcomes := set.Check(ctx, validate.NewResolver(reg, validate.Options{}))
		failed := 0
		for _, o := range outcomes {
			status := "ok  "
			if !o.OK() {
				status = "FAIL"
				failed++
			}
			want := "valid"
			if !o.WantValid {
				want = "invalid"
			}
			detail := ""
			switch {
			case o.Err != nil:
				detail = o.Err.Error()
			case o.Failure != nil:
				detail = o.Failure.Message
			}
			if o.Schema {
				fmt.Fprintf(stdout, "%s %s %s\n", status, o.File, detail)
				continue
			}
			fmt.Fprintf(stdout, "%s %s (want %s) %s\n", status, o.File, want, detail)
		}
		fmt.Fprintf(stdout, "%d passed, %d failed\n", len(outcomes)-failed, failed)
		if failed > 0 {
			return exitCode(1)
		}
		return nil
	case "register":
		if *registry == "" {
			return fmt.Errorf("contracts register needs --registry URL")
		}
		cl, err := validate.NewRegistryClient(registryConfig(*registry))
		if err != nil {
			return err
		}
		// The same check as contracts compat --registry, first.
		run, err := checkFolder(ctx, set, dir, cl, cf)
		if err != nil {
			return err
		}
		if run.breaking() {
			if err := writeCompatText(stdout, run); err != nil {
				return err
			}
			if !*allowBreaking {
				fmt.Fprintln(stderr, "eventguard: nothing registered: the folder has breaking versions (see above); --allow-breaking registers them anyway")
				return exitCode(1)
			}
			fmt.Fprintln(stderr, "eventguard: registering breaking versions (--allow-breaking)")
		}
		regs, err := set.Register(ctx, cl)
		for _, r := range regs {
			note := ""
			if r.Version != r.Local {
				note = fmt.Sprintf(" (folder version %d)", r.Local)
			}
			fmt.Fprintf(stdout, "%s version %d id %d%s\n", r.Subject, r.Version, r.ID, note)
		}
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusConflict {
			fmt.Fprintf(stderr, "eventguard: %v\neventguard: the registry refused it as incompatible with the subject's level (HTTP 409, error code %d)\n", err, re.ErrorCode)
			return exitCode(1)
		}
		return err
	default:
		return fmt.Errorf("unknown contracts command %q (want check, register, compat or retire)", args[0])
	}
}

func registryConfig(url string) config.Registry {
	c := config.Default().Registry
	c.URL = strings.TrimRight(url, "/")
	return c
}
