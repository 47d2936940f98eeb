package main

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

// TestVersionStamped: without -ldflags, eventguard version reports what the
// go command stamped: the module version and the VCS revision, the revision
// of a pseudo-version when no VCS settings are there (go install
// module@commit), the working tree's changes; -ldflags win (issue 10,
// item 19).
func TestVersionStamped(t *testing.T) {
	const rev = "bb3493ef945ed4b60e39b0cd2bf3a23d737100ed"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	info := func(v string, s []debug.BuildSetting) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Path: "github.com/eventguard/eventguard", Version: v}, Settings: s}
	}
	for _, c := range []struct {
		name             string
		ldVersion, ldCom string
		bi               *debug.BuildInfo
		version, commit  string
	}{
		{"go build in a git checkout", "dev", "", info("v0.0.0-20261122090409-bb3493ef945e", vcs("false")), "v0.0.0-20261122090409-bb3493ef945e", rev},
		{"go build with changes", "dev", "", info("v0.0.0-20261122090409-bb3493ef945e+dirty", vcs("true")), "v0.0.0-20261122090409-bb3493ef945e+dirty", rev + "-dirty"},
		{"go install module@commit", "dev", "", info("v0.0.0-20261122090409-bb3493ef945e", nil), "v0.0.0-20261122090409-bb3493ef945e", "bb3493ef945e"},
		{"go install after a tag", "dev", "", info("v1.2.4-0.20261122090409-bb3493ef945e", nil), "v1.2.4-0.20261122090409-bb3493ef945e", "bb3493ef945e"},
		{"go install module@tag", "dev", "", info("v1.2.3", nil), "v1.2.3", "unknown"},
		{"devel with VCS settings", "dev", "", info("(devel)", vcs("false")), "dev", rev},
		{"no VCS information", "dev", "", info("(devel)", nil), "dev", "unknown"},
		{"no build information", "dev", "", nil, "dev", "unknown"},
		{"ldflags win", "v9.9.9", "0123abcd", info("v0.0.0-20261122090409-bb3493ef945e", vcs("true")), "v9.9.9", "0123abcd"},
		{"the Dockerfile's default commit is no commit", "dev", "unknown", info("(devel)", vcs("false")), "dev", rev},
		{"not a pseudo-version", "dev", "", info("v1.0.0-rc.1-abcdefabcdef", nil), "v1.0.0-rc.1-abcdefabcdef", "unknown"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, com := stamped(c.ldVersion, c.ldCom, c.bi)
			if v != c.version || com != c.commit {
				t.Errorf("stamped = %q, %q; want %q, %q", v, com, c.version, c.commit)
			}
		})
	}
}

// TestVersionSaysWhyUnknown: a binary without VCS information says why the
// commit is unknown (the test binary has none: go test does not stamp it).
func TestVersionSaysWhyUnknown(t *testing.T) {
	var out bytes.Buffer
	printVersion(&out)
	if first, _, _ := strings.Cut(out.String(), "\n"); !strings.HasPrefix(first, "eventguard ") {
		t.Fatalf("version output: %q", out.String())
	}
	if !strings.Contains(out.String(), "commit unknown (the binary has no VCS information") {
		t.Errorf("unknown commit without the reason: %q", out.String())
	}
}
