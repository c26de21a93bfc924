package main

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/o365smtp/o365smtp/internal/catalog"
)

const readmePath = "../../../docs/errors.md"

// TestREADMEUpToDate fails when the README's generated errors section and
// the catalogue disagree.
func TestREADMEUpToDate(t *testing.T) {
	b, err := os.ReadFile(readmePath)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("skipped: %s does not exist yet; when it has the lines %s and %s, run go generate ./internal/catalog", readmePath, beginMarker, endMarker)
	}
	if err != nil {
		t.Fatal(err)
	}
	got, err := generatedSection(b)
	if errors.Is(err, errNoMarkers) {
		t.Skipf("skipped: %s lacks the lines %s and %s around its \"Errors and what to do\" section", readmePath, beginMarker, endMarker)
	}
	if err != nil {
		t.Fatal(err)
	}
	got = strings.ReplaceAll(got, "\r\n", "\n")
	want := markdown()
	if got == want {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("%s's errors section is stale: run go generate ./internal/catalog\nfirst difference, line %d of the section:\nREADME:  %q\ncatalog: %q", readmePath, i+1, g, w)
		}
	}
}

func TestUpdateREADME(t *testing.T) {
	in := "# o365smtp\n\n## Errors and what to do\n\nIntro.\n\n" + beginMarker + "\nold text\n" + endMarker + "\n\n## License\n"
	out, err := updateREADME([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if !strings.HasPrefix(s, "# o365smtp\n\n## Errors and what to do\n\nIntro.\n\n"+beginMarker+"\n") ||
		!strings.HasSuffix(s, "\n"+endMarker+"\n\n## License\n") || strings.Contains(s, "old text") {
		t.Errorf("UpdateREADME did not replace just the section:\n%s", s)
	}
	sec, err := generatedSection(out)
	if err != nil || sec != markdown() {
		t.Errorf("GeneratedSection after UpdateREADME = %q, %v", sec, err)
	}
	again, _ := updateREADME(out)
	if string(again) != s {
		t.Error("UpdateREADME is not idempotent")
	}

	// Empty section, CRLF line ends, trailing spaces after a marker.
	in = "x\r\n" + beginMarker + "  \r\n" + endMarker + "\r\ny\r\n"
	if out, err = updateREADME([]byte(in)); err != nil || !strings.Contains(string(out), markdown()) {
		t.Errorf("CRLF README: %v", err)
	}

	for _, bad := range []string{
		"no markers",
		beginMarker + "\nno end\n",
		endMarker + "\n" + beginMarker + "\n",
		"text " + beginMarker + "\n" + endMarker + "\n", // not on their own lines
	} {
		if _, err := updateREADME([]byte(bad)); !errors.Is(err, errNoMarkers) {
			t.Errorf("updateREADME(%q) error = %v, want errNoMarkers", bad, err)
		}
	}
}

func TestMarkdown(t *testing.T) {
	md := markdown()
	for _, k := range catalog.Kinds() {
		if !strings.Contains(md, "### `"+k.Value+"` ("+k.Name+")") {
			t.Errorf("no section for %s", k.Value)
		}
	}
	for _, want := range []string{
		"`New-ServicePrincipal -AppId <Application (client) ID> -ObjectId <Enterprise application object ID>`",
		"`Set-CASMailbox -Identity <mailbox> -SmtpClientAuthenticationDisabled $false`",
		"`Add-RecipientPermission -Identity <From address> -Trustee <Enterprise application object ID> -AccessRights SendAs`",
		"AADSTS7000215 (`invalid_client`)",
		"`535 5.7.139` containing \"SmtpClientAuthentication is disabled for the Tenant\"",
		"`5xx 5.1.*` at MAIL",
		"| no, needs a person |",
		"| yes, with backoff |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
	for i, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "|") && strings.Count(strings.ReplaceAll(l, `\|`, ""), "|") != 5 {
			t.Errorf("line %d is not a 4-column table row: %q", i+1, l)
		}
		if strings.Contains(l, "{") || strings.Contains(l, "}") {
			t.Errorf("line %d has a raw placeholder: %q", i+1, l)
		}
	}
}
