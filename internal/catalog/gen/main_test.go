package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "README.md")
	in := "# x\n\n" + beginMarker + "\nstale\n" + endMarker + "\n\nafter\n"
	if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(path, true); err == nil || !strings.Contains(err.Error(), "stale") {
		t.Errorf("-check on a stale README: %v", err)
	}
	if err := run(path, false); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	want := "# x\n\n" + beginMarker + "\n" + markdown() + endMarker + "\n\nafter\n"
	if string(b) != want {
		t.Errorf("README after gen:\n%s", b)
	}
	if err := run(path, true); err != nil {
		t.Errorf("-check after gen: %v", err)
	}
	if err := os.WriteFile(path, []byte("no markers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(path, false); err == nil {
		t.Error("no error for a README without markers")
	}
}
