package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/o365smtp/o365smtp"
)

func cmdSend(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := newFlagSet("send", "--to ADDR [--to ADDR...] [--cc ADDR...] [--from ADDR] [--subject S] [--body S | --body-file F] [--html] [--attach F...] [flags]", `
Send sends one message as the configured mailbox and prints the server's
reply. Without --from, the message's From is the mailbox. On failure it
prints the kind of failure, the server's reply and what to change.`, true)
	var to, cc, attach stringList
	fs.Var(&to, "to", "recipient `address` (repeatable; at least one)")
	fs.Var(&cc, "cc", "Cc recipient `address` (repeatable)")
	from := fs.String("from", "", "From `address`, e.g. \"Alerts <alerts@contoso.com>\" (default: the mailbox; another address needs Send As)")
	subject := fs.String("subject", "", "the `subject`")
	body := fs.String("body", "", "the body `text`")
	bodyFile := fs.String("body-file", "", "read the body from `file`")
	html := fs.Bool("html", false, "the body is HTML (default: plain text)")
	fs.Var(&attach, "attach", "attach `file` (repeatable)")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after this `duration`")
	verbose := fs.Bool("verbose", false, "log the protocol (authentication redacted) to stderr")
	var msg *mail.Msg
	sender, code := openSender(fs, args, stdout, stderr, getenv, verbose, func() (err error) {
		msg, err = buildMessage(to, cc, *from, *subject, *body, *bodyFile, *html, attach, isSet(fs, "body"))
		return err
	}, func(err error) int {
		printError(stderr, "send: failed", err)
		return exitFailure
	})
	if sender == nil {
		return code
	}
	defer sender.Close()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	var reply string
	ctx = o365smtp.WithTrace(ctx, &o365smtp.Trace{Accepted: func(r string) { reply = r }})
	if err := sender.Send(ctx, msg); err != nil {
		printError(stderr, "send: failed", err)
		return exitFailure
	}
	if id := msg.GetGenHeader(mail.HeaderMessageID); len(id) > 0 {
		fmt.Fprintf(stdout, "message-id: %s\n", id[0])
	}
	fmt.Fprintf(stdout, "accepted: %s\n", reply)
	return exitOK
}

// buildMessage builds the message from the send flags. Its errors are usage
// errors.
func buildMessage(to, cc []string, from, subject, body, bodyFile string, html bool, attach []string, bodySet bool) (*mail.Msg, error) {
	if len(to) == 0 {
		return nil, usagef("at least one --to address is required")
	}
	if bodySet && bodyFile != "" {
		return nil, usagef("--body and --body-file cannot be used together")
	}
	msg := mail.NewMsg()
	if err := msg.To(to...); err != nil {
		return nil, usagef("--to: %v", err)
	}
	if len(cc) > 0 {
		if err := msg.Cc(cc...); err != nil {
			return nil, usagef("--cc: %v", err)
		}
	}
	if from != "" {
		if err := msg.From(from); err != nil {
			return nil, usagef("--from: %v", err)
		}
	}
	msg.Subject(subject)
	if bodyFile != "" {
		b, err := readRegular(bodyFile)
		if err != nil {
			return nil, usagef("--body-file: %v", err)
		}
		body = string(b)
	}
	ct := mail.TypeTextPlain
	if html {
		ct = mail.TypeTextHTML
	}
	msg.SetBodyString(ct, body)
	for _, f := range attach {
		if err := checkRegular(f); err != nil { // fail now, with a clear message, not mid-send
			return nil, usagef("--attach: %v", err)
		}
		msg.AttachFile(f)
	}
	return msg, nil
}

// isSet reports whether the flag name was given.
func isSet(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			found = true
		}
	})
	return found
}
