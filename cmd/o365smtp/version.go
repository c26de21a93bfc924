package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
)

func cmdVersion(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := newFlagSet("version", "", `
Version prints the version of the o365smtp module this command was built
from: a release such as v1.2.0, or "(devel)" with the commit and whether the
tree was modified, when the build recorded them.`, false)
	if code, ok := parseOutcome(fs, parseFlags(fs, args), stdout, stderr); !ok {
		return code
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprintln(stdout, versionLine(bi))
	return exitOK
}

// versionLine is what version prints for the build bi: "o365smtp v1.2.0",
// or "o365smtp (devel) vcs.revision=<commit> vcs.modified=true" with the
// settings the build recorded.
func versionLine(bi *debug.BuildInfo) string {
	if bi == nil {
		return "o365smtp (unknown version: no build information)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	line := "o365smtp " + v
	if v != "(devel)" {
		return line
	}
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && s.Value != "":
			line += " vcs.revision=" + s.Value
		case s.Key == "vcs.modified" && s.Value == "true":
			line += " vcs.modified=true"
		}
	}
	return line
}
