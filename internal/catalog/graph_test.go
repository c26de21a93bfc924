package catalog

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// TestGraphExamples: each row's example, as Graph's error JSON with a status
// the row takes, selects that row; Message keeps the request-id.
func TestGraphExamples(t *testing.T) {
	for i, r := range graphRows {
		if r.example == "" || r.fallback {
			continue
		}
		status := 400
		switch {
		case r.status == "5xx":
			status = 500
		case r.status != "" && !strings.HasSuffix(r.status, "xx"):
			status, _ = strconv.Atoi(r.status)
		}
		code, msg, _ := strings.Cut(r.example, ": ")
		body, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": msg,
			"innerError": map[string]string{"request-id": "11111111-2222-3333-4444-555555555555", "date": "2026-12-01T10:00:00"}}})
		if got := matchGraph(r.step, status, code, msg); got != i {
			t.Errorf("row %d (%s): example selects row %d", i, r.example, got)
		}
		g := ClassifyGraphStep(r.step, status, body, "")
		if g.Kind != r.kind || !strings.Contains(g.Message, "request-id: 11111111") || !isKind(g.Kind) {
			t.Errorf("row %d: %+v", i, g)
		}
	}
	// Not JSON: classified by status, never quoted.
	if g := ClassifyGraph(502, []byte("<html>secret-ish proxy page</html>"), "rid"); g.Kind != "connection" || strings.Contains(g.Message, "html") {
		t.Errorf("%+v", g)
	}
}
