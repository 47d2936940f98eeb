package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// buildInfo returns the version, the commit and the Go version.
func buildInfo() (v, c, goVersion string) {
	v, c = version, commit
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && c == "" {
				c = s.Value
			}
		}
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	if c == "" {
		c = "unknown"
	}
	return v, c, runtime.Version()
}

func printVersion(w io.Writer) {
	v, c, g := buildInfo()
	fmt.Fprintf(w, "eventguard %s\ncommit %s\n%s %s/%s\n", v, c, g, runtime.GOOS, runtime.GOARCH)
}
