package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/o365smtp/o365smtp/internal/catalog"
)

// The lines between which the README holds the generated section.
const (
	beginMarker = "<!-- BEGIN GENERATED ERRORS -->"
	endMarker   = "<!-- END GENERATED ERRORS -->"
)

// errNoMarkers is returned by updateREADME when the README lacks the
// marker lines.
var errNoMarkers = errors.New("catalog: README lacks the lines " + beginMarker + " and " + endMarker)

// updateREADME returns readme with the text between the marker lines
// replaced by markdown().
func updateREADME(readme []byte) ([]byte, error) {
	before, _, after, err := splitREADME(readme)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Write(before)
	b.WriteString(markdown())
	b.Write(after)
	return b.Bytes(), nil
}

// generatedSection returns the text between the marker lines of readme.
func generatedSection(readme []byte) (string, error) {
	_, mid, _, err := splitREADME(readme)
	return string(mid), err
}

// splitREADME splits readme into the text up to and including the begin
// marker line, the generated text, and the text from the end marker line.
func splitREADME(readme []byte) (before, mid, after []byte, err error) {
	i := lineIndex(readme, beginMarker, 0)
	if i < 0 {
		return nil, nil, nil, errNoMarkers
	}
	start := i + len(beginMarker)
	if start < len(readme) && readme[start] == '\r' {
		start++
	}
	if start < len(readme) && readme[start] == '\n' {
		start++
	}
	j := lineIndex(readme, endMarker, start)
	if j < 0 {
		return nil, nil, nil, errNoMarkers
	}
	return readme[:start], readme[start:j], readme[j:], nil
}

// lineIndex returns the index of the first line at or after from that is
// marker (trailing spaces allowed), or -1.
func lineIndex(b []byte, marker string, from int) int {
	for off := from; off <= len(b); {
		k := bytes.Index(b[off:], []byte(marker))
		if k < 0 {
			return -1
		}
		k += off
		end := k + len(marker)
		for end < len(b) && (b[end] == ' ' || b[end] == '\t') {
			end++
		}
		atStart := k == 0 || b[k-1] == '\n'
		atEnd := end == len(b) || b[end] == '\n' || b[end] == '\r'
		if atStart && atEnd {
			return k
		}
		off = k + 1
	}
	return -1
}

// markdown renders the catalogue as the README's "Errors and what to do"
// section (without the marker lines): one table per Kind.
func markdown() string {
	var b strings.Builder
	b.WriteString("<!-- Generated from internal/catalog by `go generate ./internal/catalog`. Do not edit. -->\n\n")
	b.WriteString("The tables below list every reply and token error the library classifies, and every failure it finds itself, by Kind. ")
	b.WriteString("In \"What to do\", angle brackets stand for your own values, which `Error.Hint` fills in. ")
	b.WriteString("\"Retried\" says whether Send retries the failure by itself; \"no, needs a person\" marks failures ")
	b.WriteString("that are temporary but will not clear until someone acts. ")
	b.WriteString("A reply matches on its code, enhanced code and text together (ignoring case, quotes and bracketed parts); ")
	b.WriteString("the most specific row wins.\n")
	for _, k := range catalog.Kinds() {
		fmt.Fprintf(&b, "\n### `%s` (%s)\n", k.Value, k.Name)
		if k.Doc != "" {
			b.WriteString("\n" + k.Doc + "\n")
		}
		var rows []string
		for _, r := range catalog.TokenDocs() {
			if r.Kind == k.Value {
				rows = append(rows, tokenRowMarkdown(r))
			}
		}
		for _, r := range catalog.ReplyDocs() {
			if r.Kind == k.Value {
				rows = append(rows, replyRowMarkdown(r))
			}
		}
		for _, r := range catalog.GraphDocs() {
			if r.Kind == k.Value {
				rows = append(rows, graphRowMarkdown(r))
			}
		}
		for _, r := range catalog.LocalDocs() {
			if r.Kind == k.Value {
				rows = append(rows, row("found locally (`"+r.ID+"`)", r.Doc, "", r.Retry, r.Hint))
			}
		}
		if len(rows) == 0 {
			continue
		}
		b.WriteString("\n| Reply, Entra or Graph error, or local failure | Meaning | Retried | What to do |\n|---|---|---|---|\n")
		for _, r := range rows {
			b.WriteString(r)
		}
	}
	return b.String()
}

func replyRowMarkdown(r catalog.ReplyDoc) string {
	var when strings.Builder
	code, enh := r.Code, r.Enhanced
	switch {
	case code == "" && enh == "":
		code = "other"
	case code == "":
		code = enh[:1] + "xx"
	}
	when.WriteString("`" + code)
	if enh != "" {
		when.WriteString(" " + enh)
	}
	when.WriteString("`")
	if len(r.Text) > 0 {
		q := make([]string, len(r.Text))
		for i, t := range r.Text {
			q[i] = "\"" + cell(t) + "\""
		}
		when.WriteString(" containing " + strings.Join(q, " or "))
	}
	if r.Stages != "" {
		when.WriteString(" at " + strings.ToUpper(strings.ReplaceAll(r.Stages, " ", ", ")))
	}
	return row(when.String(), r.Doc, r.Example, r.Retry, r.Hint)
}

func graphRowMarkdown(r catalog.GraphDoc) string {
	when := "Graph HTTP " + r.Status
	if r.Status == "" {
		when = "Graph"
	}
	if r.Code != "" {
		when += " `" + r.Code + "`"
	}
	if r.Status == "" && r.Code == "" {
		when = "any other Graph error"
	}
	if len(r.Text) > 0 {
		q := make([]string, len(r.Text))
		for i, t := range r.Text {
			q[i] = "\"" + cell(t) + "\""
		}
		when += " containing " + strings.Join(q, " or ")
	}
	return row(when, r.Doc, r.Example, r.Retry, r.Hint)
}

func tokenRowMarkdown(r catalog.TokenDoc) string {
	var when string
	switch {
	case len(r.Codes) > 0:
		cs := make([]string, len(r.Codes))
		for i, c := range r.Codes {
			cs[i] = fmt.Sprintf("AADSTS%d", c)
		}
		when = strings.Join(cs, ", ")
		if r.Error != "" {
			when += " (`" + r.Error + "`)"
		}
	case r.Error != "":
		when = "`" + r.Error + "` (other codes)"
	case r.Status != "":
		when = "HTTP " + r.Status
	default:
		when = "any other token error"
	}
	return row(when, r.Doc, r.Example, r.Retry, r.Hint)
}

// row renders one table row: when (Markdown already), the meaning with its
// example if any, the retry class and the hint.
func row(when, doc, example string, retry catalog.Retry, hint string) string {
	meaning := cell(doc)
	if example != "" {
		meaning += "<br>e.g. " + codeSpan(example)
	}
	return "| " + when + " | " + meaning + " | " + retried(retry) + " | " + hintMarkdown(hint) + " |\n"
}

func retried(r catalog.Retry) string {
	switch r {
	case catalog.Transient:
		return "yes, with backoff"
	case catalog.NeedsPerson:
		return "no, needs a person"
	}
	return "no"
}

// hintMarkdown renders a Hint (stand-ins already filled in) for a table
// cell: commands (lines indented by two spaces) as code, lines joined with
// <br>.
func hintMarkdown(h string) string {
	lines := strings.Split(h, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "  ") {
			lines[i] = codeSpan(strings.TrimSpace(l))
		} else {
			lines[i] = cell(l)
		}
	}
	return strings.Join(lines, "<br>")
}

// cell escapes text for a Markdown table cell.
func cell(s string) string {
	return cellEscaper.Replace(s)
}

// cellEscaper escapes what Markdown would take for markup in a cell: HTML
// tags (the <mailbox> stand-ins), pipes, backquotes and asterisks. " > "
// (menu paths) and "&" stay readable.
var cellEscaper = strings.NewReplacer(" > ", " > ", "<", "&lt;", ">", "&gt;", "|", `\|`, "`", "&#96;", "*", `\*`)

// codeSpan renders s as inline code in a table cell.
func codeSpan(s string) string {
	s = strings.ReplaceAll(s, "`", "'")
	s = strings.ReplaceAll(s, "|", `\|`)
	return "`" + s + "`"
}
