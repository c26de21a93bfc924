package o365smtp_test

import (
	"strings"
	"testing"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// TestGraphTokenRefusedBeforeConnecting: Entra issues a token for Graph as
// readily as for Exchange, and Exchange refuses it at AUTH with 535 5.7.3.
// The Sender sees the token's aud first: ErrConfig with a Scope hint, and no
// connection; Verify's token_claims step fails the same way.
func TestGraphTokenRefusedBeforeConnecting(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	cfg := srv.Config()
	cfg.Scope = "https://graph.microsoft.com/.default"
	s := newSender(t, cfg)
	e := asError(t, s.Send(ctxT(t), newMsg(t)))
	if e.Kind != o365smtp.ErrConfig || e.Op != "token" || !strings.Contains(e.Message, "https://graph.microsoft.com") || !strings.Contains(e.Hint, "Scope") {
		t.Errorf("Send with a Graph token = %v\n%s; want ErrConfig naming the aud, with a Scope hint", e, e.Hint)
	}
	if st := srv.Stats(); st.Connections != 0 || st.AuthAttempts != 0 {
		t.Errorf("the Graph token reached SMTP: %+v", st)
	}
	rep, err := s.Verify(ctxT(t))
	if err == nil || rep.OK {
		t.Fatalf("Verify with a Graph token passed: %+v", rep)
	}
	for _, st := range rep.Steps {
		if st.Name == "token_claims" && (st.Status != o365smtp.StatusFail || !strings.Contains(st.Detail, "535 5.7.3")) {
			t.Errorf("token_claims = %+v; want a failure saying Exchange refuses the audience", st)
		}
	}
	for _, aud := range []string{"https://outlook.office.com/.default", "00000002-0000-0ff1-ce00-000000000000/.default"} {
		cfg.Scope = aud
		s := newSender(t, cfg)
		if err := s.Send(ctxT(t), newMsg(t)); err != nil {
			t.Errorf("Send with scope %s: %v", aud, err)
		}
	}
}
