package catalog

import (
	"regexp"
	"strings"
	"testing"
)

func TestLocalRows(t *testing.T) {
	idRE := regexp.MustCompile(`^[a-z]+\.[a-z0-9_]+$`)
	for _, r := range localRows {
		if !idRE.MatchString(r.id) {
			t.Errorf("local row id %q is not area.what", r.id)
		}
		if !isKind(r.kind) {
			t.Errorf("%s: kind %q is not a Kind of API.md", r.id, r.kind)
		}
		if r.doc == "" || r.hint == "" {
			t.Errorf("%s: doc or hint is empty", r.id)
		}
		checkHint(t, r.id, r.hint)
		l := LocalFailure(r.id)
		if h := l.Hint(Values{}); strings.ContainsAny(h, "{}") {
			t.Errorf("%s: hint %q keeps a placeholder", r.id, h)
		}
		if l.Kind != r.kind || l.Op != r.op || l.Retry != r.retry {
			t.Errorf("%s: LocalFailure = %+v", r.id, l)
		}
	}
	v := Values{Addr: "smtp.example:2525", Subject: "O365SMTP_PORT", Choices: "a, b or c"}
	if h := LocalFailure("env.choice").Hint(v); h != "Set O365SMTP_PORT to one of a, b or c, or leave it unset for the default." {
		t.Errorf("env.choice hint = %q", h)
	}
	if h := LocalFailure("smtp.no_starttls").Hint(v); !strings.HasPrefix(h, "smtp.example:2525 did not offer STARTTLS") {
		t.Errorf("smtp.no_starttls hint = %q", h)
	}
}

func TestLocalFailureUnknownPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("LocalFailure of an unknown id did not panic")
		}
	}()
	LocalFailure("no.such_row")
}

func TestLocalDocs(t *testing.T) {
	docs := LocalDocs()
	if len(docs) != len(localRows) {
		t.Fatalf("LocalDocs has %d rows, the catalogue %d", len(docs), len(localRows))
	}
	for _, d := range docs {
		if strings.ContainsAny(d.Hint, "{}") {
			t.Errorf("%s: doc hint %q keeps a placeholder", d.ID, d.Hint)
		}
	}
}
