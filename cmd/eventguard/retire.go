package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/eventguard/eventguard/check"
)

const retireUsage = `usage: eventguard contracts retire SUBJECT VERSION [--contracts DIR] [--catalog URL ...]
       [--config FILE ...] [--since 7d] [--sunset YYYY-MM-DD] [--replacement SUBJECT:VERSION]

Refuses (exit 1, naming them) while a consumer registered in subject.yaml reads
the version, or a catalog saw it consumed within --since; otherwise prints the
deprecation entry to add to the sidecar config or to the registry's metadata.
`

// parseSince reads a Go duration or a number of days ("7d").
func parseSince(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("--since %q: want a duration such as 7d or 36h", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--since %q: want a duration such as 7d or 36h", s)
	}
	return d, nil
}

func cmdContractsRetire(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("contracts retire", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, retireUsage); fs.PrintDefaults() }
	dir := fs.String("contracts", "", "contracts folder holding the subject's subject.yaml (default: the embedded examples)")
	since := fs.String("since", "7d", "a catalog's consumption within this long blocks retirement")
	sunset := fs.String("sunset", "", "sunset date, YYYY-MM-DD (default: 90 days from today)")
	replacement := fs.String("replacement", "", "the version to move to, SUBJECT:VERSION (default: the subject's newest version, if newer)")
	f := addCompatFlags(fs)
	// Flags may come after the positional arguments.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return exitCode(2)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	usageErr := func(format string, a ...any) error {
		fmt.Fprintf(stderr, "eventguard: "+format+"\n", a...)
		return exitCode(2)
	}
	if len(pos) != 2 {
		fmt.Fprint(stderr, retireUsage)
		return exitCode(2)
	}
	subject := pos[0]
	version, err := strconv.Atoi(pos[1])
	if err != nil || version < 1 {
		return usageErr("VERSION %q: want a version number (1 or more)", pos[1])
	}
	window, err := parseSince(*since)
	if err != nil {
		return usageErr("%v", err)
	}
	now := compatNow().UTC()
	sunsetDate := now.AddDate(0, 0, 90).Format("2006-01-02")
	if *sunset != "" {
		if _, err := time.Parse("2006-01-02", *sunset); err != nil {
			return usageErr("--sunset %q: want YYYY-MM-DD", *sunset)
		}
		sunsetDate = *sunset
	}
	set, err := loadContracts(*dir)
	if err != nil {
		return usageErr("%v", err)
	}
	var owner string
	var newest int
	found := false
	for _, s := range set.Subjects {
		if s.Name == subject {
			found, owner, newest = true, s.Owner, len(s.Versions)
		}
	}
	if !found {
		return usageErr("subject %q is not in contracts %s", subject, dirName(*dir))
	}
	if version > newest {
		return usageErr("subject %q has no version %d in contracts %s (newest: %d)", subject, version, dirName(*dir), newest)
	}
	repl := ""
	if *replacement != "" {
		s, v, ok := strings.Cut(*replacement, ":")
		if n, err := strconv.Atoi(v); !ok || err != nil || s == "" || n < 1 {
			return usageErr("--replacement %q: want SUBJECT:VERSION", *replacement)
		}
		repl = *replacement
	} else if newest > version {
		repl = fmt.Sprintf("%s:%d", subject, newest)
	}
	ci, err := loadConsumers(ctx, set, f)
	if err != nil {
		return usageErr("%v", err)
	}

	var blockers []string
	for _, sub := range set.Subjects {
		if sub.Name != subject {
			continue
		}
		for _, c := range sub.Consumers {
			if c.Reads(version) {
				d := "registered in subject.yaml as reading version " + strconv.Itoa(version)
				if c.Owner != "" {
					d = c.Owner + ", " + d
				}
				blockers = append(blockers, c.Name+" ("+d+")")
			}
		}
	}
	last := ci.lastConsumed(subject, version)
	for _, name := range sortedKeys(last) {
		t := last[name]
		switch {
		case t.IsZero():
			blockers = append(blockers, name+" (a catalog saw it consume version "+strconv.Itoa(version)+"; when is unknown)")
		case now.Sub(t) <= window:
			blockers = append(blockers, fmt.Sprintf("%s (seen consuming version %d at %s, within --since %s)", name, version, t.UTC().Format(time.RFC3339), *since))
		}
	}
	var readers []string
	for _, s := range ci.subscriptions {
		if subjectReadsTopic(subject, s.topic) {
			readers = append(readers, fmt.Sprintf("%s (subscription %s in %s)", s.group, s.name, s.file))
		}
	}
	if len(blockers) > 0 {
		fmt.Fprintf(stdout, "%s version %d cannot be retired: it is still read by %s\n", subject, version, strings.Join(blockers, ", "))
		fmt.Fprintln(stdout, "move them to a newer version (and update subject.yaml), then run this again")
		return exitCode(1)
	}
	evidence := "no consumer registered in subject.yaml reads it"
	if len(f.catalogs) > 0 {
		evidence += fmt.Sprintf(", and no catalog saw it consumed within %s", *since)
	} else {
		evidence += "; no --catalog was given, so live consumption was not checked"
	}
	fmt.Fprintf(stdout, "%s version %d may be retired: %s\n", subject, version, evidence)
	if len(readers) > 0 {
		fmt.Fprintf(stdout, "note: these subscriptions read the subject's topic (every version); tell them: %s\n", strings.Join(readers, ", "))
	}
	fmt.Fprintf(stdout, "\nAdd to the sidecar config:\n\ndeprecations:\n  - subject: %s\n    version: %d\n    since: %s\n    sunset: %s\n", subject, version, now.Format("2006-01-02"), sunsetDate)
	if owner != "" {
		fmt.Fprintf(stdout, "    owner: %s\n", owner)
	}
	meta := map[string]string{check.MetadataSunset: sunsetDate, check.MetadataSince: now.Format("2006-01-02")}
	if owner != "" {
		meta[check.MetadataOwner] = owner
	}
	if repl != "" {
		s, v, _ := strings.Cut(repl, ":")
		fmt.Fprintf(stdout, "    replacement: {subject: %s, version: %s}\n", s, v)
		meta[check.MetadataReplacement] = repl
	}
	fmt.Fprintf(stdout, "    after_sunset: warn\n")
	b, err := json.Marshal(map[string]any{"metadata": map[string]any{"properties": meta}})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nor, for a registry that keeps schema metadata (Confluent; Apicurio drops it), register the version again with:\n\n%s\n", b)
	return nil
}
