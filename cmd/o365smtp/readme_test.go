package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEQuickStartCompiles builds the README's Quick Start program as it
// is written, against this checkout (no network: the module cache holds
// every dependency). The snippet must report errors with their Hint and
// exit non-zero.
func TestREADMEQuickStartCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i := strings.Index(s, "```go\npackage main\n")
	if i < 0 {
		t.Fatal("README has no Quick Start program (a ```go block with package main)")
	}
	src := s[i+len("```go\n"):]
	src = src[:strings.Index(src, "```")]
	for _, want := range []string{"e.Hint", "os.Exit(1)", "errors.As"} {
		if !strings.Contains(src, want) {
			t.Errorf("the Quick Start lacks %q: its failure path must show the Hint and exit non-zero", want)
		}
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	gomod := "module quickstart\n\ngo 1.25.0\n\nrequire github.com/o365smtp/o365smtp v0.0.0-00010101000000-000000000000\n\nreplace github.com/o365smtp/o365smtp => " + root + "\n"
	for name, body := range map[string][]byte{"main.go": []byte(src), "go.mod": []byte(gomod), "go.sum": sum} {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "quickstart"), ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the README's Quick Start does not build: %v\n%s", err, out)
	}
}
