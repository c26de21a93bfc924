package main

import (
	"debug/buildinfo"
	"runtime/debug"
	"testing"
)

func TestVersionLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"release", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}}}, "o365smtp v1.2.0"},
		{"pseudo-version", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261201092233-8cef48d1a2b3+dirty"}},
			"o365smtp v0.0.0-20261201092233-8cef48d1a2b3+dirty"},
		{"devel, modified", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "-trimpath", Value: "true"}, {Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "8cef48d1a2b3"},
			{Key: "vcs.time", Value: "2026-12-01T09:22:33Z"}, {Key: "vcs.modified", Value: "true"}}},
			"o365smtp (devel) vcs.revision=8cef48d1a2b3 vcs.modified=true"},
		{"devel, clean", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "8cef48d1a2b3"}, {Key: "vcs.modified", Value: "false"}}},
			"o365smtp (devel) vcs.revision=8cef48d1a2b3"},
		{"devel, no VCS", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "o365smtp (devel)"},
		{"no version", &debug.BuildInfo{}, "o365smtp (devel)"},
		{"no build information", nil, "o365smtp (unknown version: no build information)"},
	} {
		if got := versionLine(tc.bi); got != tc.want {
			t.Errorf("%s: versionLine = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestVersion: 'version' and '--version' print the version recorded in the
// binary, as Go's own tools read it.
func TestVersion(t *testing.T) {
	bi, err := buildinfo.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	want := versionLine(bi) + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		res := runBinary(t, nil, args...)
		if res.code != 0 || res.stdout != want || res.stderr != "" {
			t.Errorf("%q: %v, want exit 0 and %q", args, res, want)
		}
	}
	if res := runBinary(t, nil, "version", "--bogus"); res.code != 2 {
		t.Errorf("version --bogus: %v, want exit 2", res)
	}
	// The test binary has build information too, as a built command has.
	res := runInProcess(t, nil, "version")
	if bi, ok := debug.ReadBuildInfo(); !ok || res.code != 0 || res.stdout != versionLine(bi)+"\n" {
		t.Errorf("version in process: %v", res)
	}
}
