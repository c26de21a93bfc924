package main

// Clients nobody here wrote, against 'o365smtp emulate' with its defaults:
// Python's smtplib (testdata/smtplib_client.py, standard library only) and
// curl. They must see the replies the golden transcripts pin: the SMTPUTF8
// refusal, the send-as refusal after the final dot, 535 5.7.3 for a Graph
// token from the emulator's own token endpoint, and the tarpit's delay.
// Node's nodemailer with msal-node runs only with O365SMTP_NODE_TESTS=1
// (emulate_node_test.go).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// graphScope is Microsoft Graph's: Entra issues a token for it, Exchange
// refuses it.
const graphScope = "https://graph.microsoft.com/.default"

func TestForeignClients(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGINT")
	}
	p := startEmulate(t) // the default tarpit, 5 s
	c := newE2EClient(t, p.Env)
	var want atomic.Int32 // messages the emulator should have received

	// The two clients run at once: each waits out two tarpits.
	t.Run("clients", func(t *testing.T) {
		t.Run("python smtplib", func(t *testing.T) { t.Parallel(); testSMTPLib(t, p, &want) })
		t.Run("curl", func(t *testing.T) { t.Parallel(); testCurl(t, p, c, &want) })
	})
	if msgs := c.apiMessages(t); len(msgs) != int(want.Load()) {
		t.Errorf("the emulator received %d messages, want %d: %+v", len(msgs), want.Load(), msgs)
	}
	c.http.CloseIdleConnections()
	stopAndCheckGone(t, p)
}

// clientResult is one check a foreign client reports, as a JSON line.
type clientResult struct {
	Check, Msg, Command string
	Code                int
	Seconds             float64
}

// clientResults decodes the JSON lines a client script printed, by check.
func clientResults(t *testing.T, script string, out []byte) map[string]clientResult {
	t.Helper()
	got := map[string]clientResult{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r clientResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s printed %q: %v", script, sc.Text(), err)
		}
		got[r.Check] = r
	}
	return got
}

// testSMTPLib runs testdata/smtplib_client.py against p.
func testSMTPLib(t *testing.T, p *emulateProc, want *atomic.Int32) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	cmd := exec.Command(python, filepath.Join("testdata", "smtplib_client.py"))
	cmd.Env = processEnv(p.Env)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("smtplib_client.py: %v\n%s", err, out)
	}
	got := clientResults(t, "smtplib_client.py", out)
	for _, w := range []struct {
		check  string
		code   int
		prefix string
	}{
		{"auth", 235, "2.7.0 Authentication successful"},
		{"smtputf8", 502, "5.3.3 Command not implemented"},
		{"send_as_mail", 250, "2.1.0 Sender OK"},
		{"send_as_data", 554, "5.2.252 SendAsDenied; " + p.Env["O365SMTP_MAILBOX"] + " not allowed to send as ceo@contoso.com; STOREDRV.Submission.Exception:SendAsDeniedException"},
		{"send", 250, "2.0.0 OK <"},
		{"graph_auth", 535, "5.7.3 Authentication unsuccessful ["},
	} {
		if g, ok := got[w.check]; !ok || g.Code != w.code || !strings.HasPrefix(g.Msg, w.prefix) {
			t.Errorf("smtplib %s: %d %q, want %d %q...", w.check, g.Code, g.Msg, w.code, w.prefix)
		}
	}
	if s := got["graph_auth"].Seconds; s < 4.5 {
		t.Errorf("the failed AUTH came after %.1fs, want the 5s tarpit", s)
	}
	want.Add(1)
}

// testCurl sends with curl against p.
func testCurl(t *testing.T, p *emulateProc, c *e2eClient, want *atomic.Int32) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl")
	}
	dir := t.TempDir()
	send := func(t *testing.T, token, from string) (int, string) {
		t.Helper()
		msg := filepath.Join(dir, "msg.eml")
		if err := os.WriteFile(msg, []byte("From: "+from+"\r\nTo: someone@example.com\r\nSubject: from curl\r\n\r\nHi.\r\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(curl, "-sS", "-v", "--max-time", "60",
			"--url", "smtp://"+p.Env["O365SMTP_HOST"]+":"+p.Env["O365SMTP_PORT"], "--ssl-reqd", "--cacert", p.Env["O365SMTP_CA_FILE"],
			"--user", p.Env["O365SMTP_MAILBOX"]+":", "--oauth2-bearer", token,
			"--mail-from", from, "--mail-rcpt", "someone@example.com", "--upload-file", msg)
		cmd.Env = processEnv(nil)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, string(out)
	}

	exchange := c.token(t)
	if code, out := send(t, exchange, p.Env["O365SMTP_MAILBOX"]); code != 0 || !strings.Contains(out, "< 235 2.7.0 Authentication successful") {
		t.Errorf("curl from the mailbox: exit %d\n%s", code, out)
	}
	want.Add(1)

	code, out := send(t, exchange, "ceo@contoso.com")
	if code == 0 || !strings.Contains(out, "< 250 2.1.0 Sender OK") || !strings.Contains(out, "< 554 5.2.252 SendAsDenied; ") {
		t.Errorf("curl from another address: exit %d, want MAIL FROM accepted and 554 5.2.252 after the data\n%s", code, out)
	}

	start := time.Now()
	code, out = send(t, c.tokenFor(t, graphScope), p.Env["O365SMTP_MAILBOX"])
	if code == 0 || !strings.Contains(out, "< 535 5.7.3 Authentication unsuccessful [") {
		t.Errorf("curl with a Graph token: exit %d, want 535 5.7.3\n%s", code, out)
	}
	if d := time.Since(start); d < 4500*time.Millisecond {
		t.Errorf("curl's failed AUTH took %v, want the 5s tarpit", d)
	}
}
