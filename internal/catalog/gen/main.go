// Command gen rewrites the "Errors and what to do" section of docs/errors.md,
// between the lines <!-- BEGIN GENERATED ERRORS --> and
// <!-- END GENERATED ERRORS -->, from the catalogue in internal/catalog.
//
// Usage, from internal/catalog (go generate does this):
//
//	go run ./gen [-readme ../../docs/errors.md] [-check]
//
// With -check it writes nothing and exits 1 if the section is stale.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
)

func main() {
	readme := flag.String("readme", "../../docs/errors.md", "the Markdown file to update (its generated section)")
	check := flag.Bool("check", false, "only report whether the README is up to date")
	flag.Parse()
	if err := run(*readme, *check); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(path string, check bool) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	updated, err := updateREADME(old)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if bytes.Equal(old, updated) {
		return nil
	}
	if check {
		return fmt.Errorf("%s: the errors section is stale; run go generate ./internal/catalog", path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, updated, fi.Mode().Perm()); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
