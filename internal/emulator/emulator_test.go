package emulator

import (
	"net/http"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLookupScenario(t *testing.T) {
	for _, sc := range Scenarios() {
		if err := LookupScenario(sc.Name); err != nil {
			t.Errorf("LookupScenario(%q): %v", sc.Name, err)
		}
	}
	if err := LookupScenario("nope"); err == nil || !strings.Contains(err.Error(), `unknown scenario "nope"`) {
		t.Errorf("LookupScenario(nope) = %v", err)
	}
}

func TestWithScenario(t *testing.T) {
	s := New(WithScenario("sp-not-registered"))
	defer s.Close()
	if s.setup().spRegistered {
		t.Errorf("WithScenario(sp-not-registered): the service principal is registered")
	}
	defer func() {
		if recover() == nil {
			t.Errorf("New(WithScenario(nope)) did not panic")
		}
	}()
	New(WithScenario("nope")).Close()
}

func TestMessageAPIIsOptional(t *testing.T) {
	for _, api := range []bool{false, true} {
		var opts []Option
		want := http.StatusNotFound
		if api {
			opts, want = append(opts, WithMessageAPI()), http.StatusOK
		}
		s := New(opts...)
		resp, err := s.Client().Get(s.AuthorityHost + "/api/messages")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		s.Close()
		if resp.StatusCode != want {
			t.Errorf("WithMessageAPI %v: GET /api/messages: %s, want %d", api, resp.Status, want)
		}
	}
}

func TestRejectPrefixed(t *testing.T) {
	for addr, ok := range map[string]bool{"reject@example.com": false, "Reject.Me@example.com": false, `"reject x"@example.com`: false,
		"a@example.com": true, "a.reject@example.com": true, "rejec": true} {
		reply, got := RejectPrefixed(addr)
		if got != ok || (!ok && !strings.HasPrefix(reply, "550 5.1.10 ")) {
			t.Errorf("RejectPrefixed(%q) = %q, %v", addr, reply, got)
		}
	}
}
