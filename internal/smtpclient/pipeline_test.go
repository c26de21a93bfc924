package smtpclient

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// pipelinedServer reads every command of the batch before it answers any:
// a client that waited for a reply between them would never get one (the
// bound context ends the test).
func pipelinedServer(cmds []string, replies string, then func(s *testServer) bool) func(*testServer) {
	return func(s *testServer) {
		if !s.send(greeting220) || !s.cmd("EHLO localhost", ehloPlain) {
			return
		}
		for _, c := range cmds {
			if !s.expect(c) {
				return
			}
		}
		if s.send(replies) && then != nil {
			then(s)
		}
	}
}

var batch = []string{"MAIL FROM:<a@example.com>", "RCPT TO:<b@example.net>", "RCPT TO:<c@example.net>", "DATA"}

func TestEnvelopePipelinedOneWrite(t *testing.T) {
	addr := startServer(t, pipelinedServer(batch,
		"250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n250 2.1.5 Recipient OK\r\n"+data354,
		func(s *testServer) bool {
			lines, ok := s.readData()
			return ok && len(lines) == 1 && lines[0] == "hello" && s.send("250 2.6.0 Queued mail for delivery\r\n")
		}))
	c := dial(t, addr, Config{})
	boundCtx(t, c)
	plainSession(t, c)
	ev, err := c.Envelope("a@example.com", nil, []string{"b@example.net", "c@example.net"}, true)
	if err != nil || !ev.Accepted(2) || ev.Data != nil || !ev.DataOpen {
		t.Fatalf("Envelope = %+v, %v; want everything accepted and DATA open", ev, err)
	}
	if _, err := c.Body(strings.NewReader("hello\r\n")); err != nil {
		t.Fatalf("Body: %v", err)
	}
}

func TestEnvelopePipelinedRefusedRcptWith354(t *testing.T) {
	addr := startServer(t, pipelinedServer(batch,
		"250 2.1.0 Sender OK\r\n550 5.1.10 Recipient not found\r\n250 2.1.5 Recipient OK\r\n"+data354, nil))
	c := dial(t, addr, Config{})
	boundCtx(t, c)
	plainSession(t, c)
	ev, err := c.Envelope("a@example.com", nil, []string{"b@example.net", "c@example.net"}, true)
	var re *ReplyError
	if err != nil || ev.Accepted(2) || !errors.As(ev.Rcpt[0], &re) || re.Reply.Code != 550 || ev.Rcpt[1] != nil || !ev.DataOpen {
		t.Fatalf("Envelope = %+v, %v; want RCPT 1 refused, RCPT 2 accepted, DATA open (the caller must close)", ev, err)
	}
}

func TestEnvelopePipelined421MidBatch(t *testing.T) {
	addr := startServer(t, pipelinedServer(batch,
		"250 2.1.0 Sender OK\r\n421 4.3.2 Service not available\r\n",
		func(s *testServer) bool { s.conn.Close(); return true }))
	c := dial(t, addr, Config{})
	boundCtx(t, c)
	plainSession(t, c)
	ev, err := c.Envelope("a@example.com", nil, []string{"b@example.net", "c@example.net"}, true)
	if err != nil || !ev.Closing || len(ev.Rcpt) != 1 || ev.Rcpt[0] == nil || ev.DataSent {
		t.Fatalf("Envelope = %+v, %v; want the 421 at the first RCPT and nothing read after it", ev, err)
	}
}

func TestEnvelopePipelinedDropMidBatch(t *testing.T) {
	addr := startServer(t, pipelinedServer(batch, "250 2.1.0 Sender OK\r\n",
		func(s *testServer) bool { s.conn.Close(); return true }))
	c := dial(t, addr, Config{})
	boundCtx(t, c)
	plainSession(t, c)
	ev, err := c.Envelope("a@example.com", nil, []string{"b@example.net", "c@example.net"}, true)
	var se *Error
	if !errors.As(err, &se) || se.Step != StepRcpt || ev.Mail != nil || ev.DataSent {
		t.Fatalf("Envelope = %+v, %v; want an I/O error at the first RCPT's reply", ev, err)
	}
}

// Without PIPELINING, a refused MAIL stops the transaction: no RCPT, no
// DATA; a refused RCPT: no DATA.
func TestEnvelopeSequential(t *testing.T) {
	addr := startServer(t, func(s *testServer) {
		_ = s.send(greeting220) && s.cmd("EHLO localhost", ehloPlain) &&
			s.cmd("MAIL FROM:<a@example.com>", "451 4.7.500 Server busy\r\n") &&
			s.cmd("RSET", "250 2.0.0 Resetting\r\n") &&
			s.cmd("MAIL FROM:<a@example.com>", "250 2.1.0 Sender OK\r\n") &&
			s.cmd("RCPT TO:<b@example.net>", "550 5.1.10 Recipient not found\r\n") &&
			s.cmd("RCPT TO:<c@example.net>", "250 2.1.5 Recipient OK\r\n") &&
			s.cmd("RSET", "250 2.0.0 Resetting\r\n")
	})
	c := dial(t, addr, Config{})
	boundCtx(t, c)
	plainSession(t, c)
	rcpts := []string{"b@example.net", "c@example.net"}
	ev, err := c.Envelope("a@example.com", nil, rcpts, false)
	if err != nil || ev.Mail == nil || len(ev.Rcpt) != 0 || ev.DataSent {
		t.Fatalf("Envelope = %+v, %v; want MAIL refused and nothing after it", ev, err)
	}
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	ev, err = c.Envelope("a@example.com", nil, rcpts, false)
	if err != nil || ev.Mail != nil || len(ev.Rcpt) != 2 || ev.Rcpt[0] == nil || ev.Rcpt[1] != nil || ev.DataSent {
		t.Fatalf("Envelope = %+v, %v; want RCPT 1 refused and no DATA", ev, err)
	}
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
}

func TestEnvelopeInvalidAddressSendsNothing(t *testing.T) {
	addr := startServer(t, func(s *testServer) {
		_ = s.send(greeting220) && s.cmd("EHLO localhost", ehloPlain) && s.cmd("QUIT", quit221)
	})
	c := dial(t, addr, Config{})
	boundCtx(t, c)
	plainSession(t, c)
	if ev, err := c.Envelope("a@example.com", nil, []string{"b@example.net\r\nRCPT TO:<x@evil>"}, true); ev != nil || !errors.Is(err, ErrInvalidAddress) {
		t.Fatalf("Envelope = %+v, %v; want ErrInvalidAddress and nothing sent", ev, err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
}

// chunkServer reads the batch and the chunk of n bytes before it answers
// anything, as pipelinedServer does; then it sends replies.
func chunkServer(t *testing.T, n int, want string, replies string, then func(s *testServer) bool) func(*testServer) {
	return func(s *testServer) {
		if !s.send(greeting220) || !s.cmd("EHLO localhost", ehloPlain) {
			return
		}
		for _, c := range []string{"MAIL FROM:<a@example.com>", "RCPT TO:<b@example.net>", "RCPT TO:<c@example.net>", fmt.Sprintf("BDAT %d LAST", n)} {
			if !s.expect(c) {
				return
			}
		}
		chunk := make([]byte, n)
		if _, err := io.ReadFull(s.br, chunk); err != nil || string(chunk) != want {
			t.Errorf("server: chunk %q, %v; want %q", chunk, err, want)
			return
		}
		if s.send(replies) && then != nil {
			then(s)
		}
	}
}

// The message as it is: a line that starts with a dot is not stuffed.
const chunkBody = ".hidden\r\nbye\r\n"

func TestChunkOneFlight(t *testing.T) {
	addr := startServer(t, chunkServer(t, len(chunkBody), chunkBody,
		"250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n250 2.1.5 Recipient OK\r\n250 2.6.0 Queued mail for delivery\r\n", nil))
	c := dial(t, addr, Config{})
	boundCtx(t, c)
	plainSession(t, c)
	ev, r, err := c.Chunk("a@example.com", nil, []string{"b@example.net", "c@example.net"}, strings.NewReader(chunkBody), int64(len(chunkBody)))
	if err != nil || !ev.Accepted(2) || ev.Data != nil || !ev.DataSent || r.Code != 250 {
		t.Fatalf("Chunk = %+v, %v, %v; want everything accepted and the 250 verdict", ev, r, err)
	}
}

// A refused recipient does not stop the message: the server has it, and
// delivers it to the other one. This is why the Sender does not use BDAT.
func TestChunkRefusedRcptStillDelivered(t *testing.T) {
	addr := startServer(t, chunkServer(t, len(chunkBody), chunkBody,
		"250 2.1.0 Sender OK\r\n550 5.1.10 Recipient not found\r\n250 2.1.5 Recipient OK\r\n250 2.6.0 Queued mail for delivery\r\n", nil))
	c := dial(t, addr, Config{})
	boundCtx(t, c)
	plainSession(t, c)
	ev, r, err := c.Chunk("a@example.com", nil, []string{"b@example.net", "c@example.net"}, strings.NewReader(chunkBody), int64(len(chunkBody)))
	var re *ReplyError
	if err != nil || ev.Accepted(2) || !errors.As(ev.Rcpt[0], &re) || re.Reply.Code != 550 || ev.Data != nil || r.Code != 250 {
		t.Fatalf("Chunk = %+v, %v, %v; want RCPT 1 refused and the message queued for RCPT 2", ev, r, err)
	}
}

// A drop after the chunk was sent is an unknown outcome (StepDataEnd).
func TestChunkDropAfterData(t *testing.T) {
	addr := startServer(t, chunkServer(t, len(chunkBody), chunkBody, "250 2.1.0 Sender OK\r\n",
		func(s *testServer) bool { s.conn.Close(); return true }))
	c := dial(t, addr, Config{})
	boundCtx(t, c)
	plainSession(t, c)
	_, _, err := c.Chunk("a@example.com", nil, []string{"b@example.net", "c@example.net"}, strings.NewReader(chunkBody), int64(len(chunkBody)))
	var se *Error
	if !errors.As(err, &se) || se.Step != StepDataEnd {
		t.Fatalf("Chunk = %v; want an I/O error of StepDataEnd", err)
	}
}

// A body shorter than BDAT announced would leave the server waiting for
// the rest: it is a StepData error, and the caller closes the session.
func TestChunkSizeMismatch(t *testing.T) {
	addr := startServer(t, func(s *testServer) {
		_ = s.send(greeting220) && s.cmd("EHLO localhost", ehloPlain)
	})
	c := dial(t, addr, Config{})
	boundCtx(t, c)
	plainSession(t, c)
	_, _, err := c.Chunk("a@example.com", nil, []string{"b@example.net"}, strings.NewReader(chunkBody), int64(len(chunkBody))+1)
	var se *Error
	if !errors.As(err, &se) || se.Step != StepData {
		t.Fatalf("Chunk = %v; want a StepData error", err)
	}
}
