package catalog

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

var writeSeeds = flag.Bool("write-seeds", false, "rewrite the row seeds under testdata/fuzz")

// FuzzClassifyReply: never a panic; Kind always an API.md Kind; unknown
// replies are unexpected_reply with their text kept; Text is safe and
// bounded.
func FuzzClassifyReply(f *testing.F) {
	f.Add("auth", 535, []byte(""))
	f.Add("", 0, []byte("\xff\xfe\x00\x1b[2J"))
	f.Add("rcpt", -1, []byte(strings.Repeat("5.1.1 ", 1000)))
	f.Add("data_end", 554, []byte("5.2.252\n5.2.252\n5.2.252 SendAsDenied"))
	f.Add("mail", 550, []byte(`"""`))
	f.Add("auth", 535, []byte("5.7.139 [[[[ smtpclientauthentication is disabled for the tenant ]]]]"))
	f.Fuzz(func(t *testing.T, stage string, code int, msg []byte) {
		r := ClassifyReply(stage, code, string(msg))
		if !isKind(r.Kind) {
			t.Fatalf("Kind %q is not an API.md Kind", r.Kind)
		}
		if r.Retry > NeedsPerson {
			t.Fatalf("Retry %d", r.Retry)
		}
		if r.Code != code {
			t.Fatalf("Code %d, want %d", r.Code, code)
		}
		if r.Enhanced != "" && enhancedRE.FindString(r.Enhanced) != r.Enhanced {
			t.Fatalf("Enhanced %q", r.Enhanced)
		}
		checkSafe(t, "Text", r.Text, false)
		if len(r.Text) > maxText+3 {
			t.Fatalf("Text is %d bytes", len(r.Text))
		}
		// The text is kept: if msg has anything besides its enhanced code,
		// quotes and spaces, so does Text.
		rest := Sanitize(string(msg))
		if r.Enhanced != "" {
			rest = strings.ReplaceAll(rest, r.Enhanced, "")
		}
		if strings.Trim(rest, "\" ") != "" && r.Text == "" {
			t.Fatalf("text lost: msg %q, Text %q", msg, r.Text)
		}
		// Unknown replies are unexpected_reply, retried only for 4xx.
		enh, text := splitReply(string(msg))
		if row := replyRows[matchReply(stage, code, enh, matchKey(text))]; row.fallback {
			want := Permanent
			if code >= 400 && code <= 499 {
				want = Transient
			}
			if r.Kind != "unexpected_reply" || r.Retry != want {
				t.Fatalf("unknown reply %d %q: %s/%v, want unexpected_reply/%v", code, msg, r.Kind, r.Retry, want)
			}
		}
		// A 5xx is never retried, except the one that a fresh token fixes.
		if code >= 500 && code <= 599 && r.Retry == Transient && r.Enhanced != "5.5.127" {
			t.Fatalf("5xx %q is Transient", msg)
		}
		if h := r.Hint(fullValues); h == "" || strings.ContainsAny(h, "{}") {
			t.Fatalf("Hint %q", h)
		}
	})
}

// FuzzClassifyToken: never a panic; Kind always an API.md Kind; Message
// safe, bounded and never empty.
func FuzzClassifyToken(f *testing.F) {
	f.Add(400, []byte(`{"error":"invalid_client","error_codes":[7000215]}`))
	f.Add(500, []byte(`{"error_codes":[-1, 1e99, "x", 99999999999]}`))
	f.Add(401, []byte("\xff{\"error_description\":\"\\u0000AADSTS70002150000\"}"))
	f.Add(0, []byte(`{"error_description":"`+strings.Repeat("Trace ID: x\r\n", 500)+`"}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		tok := ClassifyToken(status, body)
		if !isKind(tok.Kind) {
			t.Fatalf("Kind %q is not an API.md Kind", tok.Kind)
		}
		if tok.Retry > NeedsPerson {
			t.Fatalf("Retry %d", tok.Retry)
		}
		if tok.AADSTS < 0 || tok.AADSTS >= 1e9 {
			t.Fatalf("AADSTS %d", tok.AADSTS)
		}
		if tok.Error != "" && !oauthErrRE.MatchString(tok.Error) {
			t.Fatalf("Error %q", tok.Error)
		}
		if tok.Message == "" {
			t.Fatal("empty Message")
		}
		checkSafe(t, "Message", tok.Message, true)
		if len(tok.Message) > maxText+3+3*(maxTraceLine+1) {
			t.Fatalf("Message is %d bytes", len(tok.Message))
		}
		if tok.AADSTS == 0 && tok.Error == "" && (status == 429 || status >= 500 && status <= 599) && tok.Retry != Transient {
			t.Fatalf("HTTP %d not Transient", status)
		}
		if h := tok.Hint(fullValues); h == "" || strings.ContainsAny(h, "{}") {
			t.Fatalf("Hint %q", h)
		}
	})
}

// checkSafe fails unless s is valid UTF-8 without control or invisible
// format characters (newlines only if lines is true).
func checkSafe(t *testing.T, what, s string, lines bool) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("%s is not UTF-8: %q", what, s)
	}
	for _, c := range s {
		if c == '\n' && lines {
			continue
		}
		if unsafeRune(c) || c == '\u2028' || c == '\u2029' {
			t.Fatalf("%s has %U: %q", what, c, s)
		}
	}
}

// seedFile is a fuzz corpus file in the format of go test.
func seedFile(args ...any) []byte {
	var b bytes.Buffer
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case string:
			fmt.Fprintf(&b, "string(%s)\n", strconv.Quote(v))
		case int:
			fmt.Fprintf(&b, "int(%d)\n", v)
		case []byte:
			fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(v)))
		}
	}
	return b.Bytes()
}

// rowSeeds are the seed files for every row: name to contents.
func rowSeeds(t testing.TB) map[string][]byte {
	seeds := map[string][]byte{}
	for i, row := range replyRows {
		stage := StageDataEnd
		if row.stages != "" {
			stage = strings.Fields(row.stages)[0]
		}
		for j, ex := range row.examples {
			code, msg := wire(t, ex+"\r\n")
			name := filepath.Join("FuzzClassifyReply", fmt.Sprintf("row%02d-%d", i, j))
			seeds[name] = seedFile(stage, code, []byte(msg))
		}
	}
	for _, c := range tokenCases {
		name := filepath.Join("FuzzClassifyToken", fmt.Sprintf("aadsts%d", c.code))
		seeds[name] = seedFile(c.status, entraBody(c.oauth, c.desc, c.code))
	}
	return seeds
}

// TestSeedCorpus checks that testdata/fuzz has a seed for every row (go
// test -run TestSeedCorpus -write-seeds rewrites them).
func TestSeedCorpus(t *testing.T) {
	seeds := rowSeeds(t)
	if *writeSeeds {
		// Drop row seeds of rows that moved; keep the fuzzer's own finds.
		old, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "*", "*"))
		for _, path := range old {
			rel, _ := filepath.Rel(filepath.Join("testdata", "fuzz"), path)
			base := filepath.Base(path)
			if _, ok := seeds[rel]; !ok && (strings.HasPrefix(base, "row") || strings.HasPrefix(base, "aadsts")) {
				os.Remove(path)
			}
		}
	}
	for name, want := range seeds {
		path := filepath.Join("testdata", "fuzz", name)
		if *writeSeeds {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("seed %s is missing or stale (%v): run go test ./internal/catalog -run TestSeedCorpus -write-seeds", path, err)
		}
	}
}
