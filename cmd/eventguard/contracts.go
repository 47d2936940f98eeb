package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/validate"
)

func cmdContracts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: eventguard contracts check|register [--registry URL] [DIR]")
		return exitCode(2)
	}
	fs := flag.NewFlagSet("contracts "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	registry := fs.String("registry", "", "schema registry URL (check: validate against what is registered there instead of the folder's own schemas)")
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
		regs, err := set.Register(ctx, cl)
		for _, r := range regs {
			note := ""
			if r.Version != r.Local {
				note = fmt.Sprintf(" (folder version %d)", r.Local)
			}
			fmt.Fprintf(stdout, "%s version %d id %d%s\n", r.Subject, r.Version, r.ID, note)
		}
		return err
	default:
		return fmt.Errorf("unknown contracts command %q (want check or register)", args[0])
	}
}

func registryConfig(url string) config.Registry {
	c := config.Default().Registry
	c.URL = strings.TrimRight(url, "/")
	return c
}
