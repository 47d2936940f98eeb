package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// buildInfo returns the version, the commit and the Go version: the ones
// set with -ldflags (make build, the Dockerfile) when given, else what the
// go command stamped into the binary (see stamped).
func buildInfo() (v, c, goVersion string) {
	bi, _ := debug.ReadBuildInfo()
	v, c = stamped(version, commit, bi)
	return v, c, runtime.Version()
}

// stamped picks the version and commit to report. ldVersion and ldCommit
// are the -ldflags values ("dev" and "" or "unknown" when not given); bi is
// the binary's build information (nil when it has none). Without -ldflags:
//
//   - the version is the main module's: a pseudo-version derived from git
//     for a go build in a checkout (v0.0.0-20261122090409-bb3493ef945e,
//     "+dirty" when the tree had changes), or the version asked for by
//     go install module@version;
//   - the commit is the vcs.revision setting, "-dirty" added when the
//     tree had changes, else the revision a pseudo-version names (go
//     install module@commit stamps no vcs settings).
//
// A binary built without VCS information (go run, -buildvcs=false, a git
// worktree, a source tree without .git) reports "dev" and "unknown".
func stamped(ldVersion, ldCommit string, bi *debug.BuildInfo) (v, c string) {
	v, c = ldVersion, ldCommit
	if c == "unknown" {
		c = ""
	}
	if bi != nil {
		if (v == "" || v == "dev") && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		if c == "" {
			rev, modified := "", false
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					modified = s.Value == "true"
				}
			}
			if rev == "" {
				rev = pseudoVersionRev(bi.Main.Version)
			}
			if rev != "" && modified {
				rev += "-dirty"
			}
			c = rev
		}
	}
	if v == "" {
		v = "dev"
	}
	if c == "" {
		c = "unknown"
	}
	return v, c
}

// pseudoVersionRev returns the revision a Go module pseudo-version names
// (the last dash-separated part, 12 hex digits, after a 14-digit time
// stamp: v0.0.0-20261122090409-bb3493ef945e, v1.2.4-0.20261122090409-
// bb3493ef945e), or "" when v is not a pseudo-version.
func pseudoVersionRev(v string) string {
	v, _, _ = strings.Cut(v, "+") // build metadata: +incompatible, +dirty
	i := strings.LastIndexByte(v, '-')
	if i < 0 {
		return ""
	}
	rev, rest := v[i+1:], v[:i]
	if len(rev) != 12 || strings.Trim(rev, "0123456789abcdef") != "" {
		return ""
	}
	j := strings.LastIndexAny(rest, "-.")
	if ts := rest[j+1:]; j < 0 || len(ts) != 14 || strings.Trim(ts, "0123456789") != "" {
		return ""
	}
	return rev
}

func printVersion(w io.Writer) {
	v, c, g := buildInfo()
	if c == "unknown" {
		c += " (the binary has no VCS information: go run, -buildvcs=false and git worktrees leave it out; make build stamps it)"
	}
	fmt.Fprintf(w, "eventguard %s\ncommit %s\n%s %s/%s\n", v, c, g, runtime.GOOS, runtime.GOARCH)
}
