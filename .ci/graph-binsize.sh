#!/bin/sh
# The binary-size cost of the Graph transport: a small program that sends one
# message, built against the library at REV as it is, and against the same
# tree with the Graph transport cut out (graph.go, graph_large.go and
# verify_graph.go replaced by stubs, so internal/graphclient is no longer
# linked). Run from a clone: sh graph-binsize.sh [REV]
set -e
REV=${1:-HEAD}
W=$(mktemp -d)
git archive "$REV" | (mkdir -p "$W/with" && tar -x -C "$W/with")
cp -r "$W/with" "$W/without"
rm -f "$W/without/graph.go" "$W/without/graph_large.go" "$W/without/verify_graph.go"
cat > "$W/without/nograph_stub.go" <<'EOF'
package o365smtp

import (
	"context"
	"sync/atomic"

	"github.com/o365smtp/o365smtp/internal/catalog"
)

type graphTransport struct {
	*core
	requests atomic.Int64
}

type autoTransport struct {
	smtp    *smtpTransport
	graph   *graphTransport
	onGraph atomic.Bool
}

func (a *autoTransport) close(ctx context.Context, g bool) error { return a.smtp.close(ctx, g) }
func (a *autoTransport) attempt(ctx context.Context, env *envelope) *Error {
	return a.smtp.attempt(ctx, env)
}
func (t *graphTransport) close(context.Context, bool) error { return nil }
func (t *graphTransport) attempt(context.Context, *envelope) *Error {
	return localError("graph.unreachable", "removed", catalog.Values{}, nil)
}
func newGraphSource(r *resolved) *cachedSource                { return newCachedSource(r) }
func newGraphTransport(c *core) *graphTransport               { return &graphTransport{core: c} }
func (s *Sender) transportName() string                       { return "smtp" }
func (v *verifier) runGraph(context.Context, []string) *Error { return nil }
EOF
for v in with without; do
	mkdir -p "$W/prog-$v"
	cat > "$W/prog-$v/main.go" <<'EOF'
package main

import (
	"context"
	"log"

	"github.com/o365smtp/o365smtp"
	"github.com/wneessen/go-mail"
)

func main() {
	s, err := o365smtp.New(o365smtp.Config{TenantID: "t", ClientID: "c", ClientSecret: "s", Mailbox: "a@contoso.com"})
	if err != nil {
		log.Fatal(err)
	}
	m := mail.NewMsg()
	_ = m.To("b@example.com")
	m.Subject("hi")
	m.SetBodyString(mail.TypeTextPlain, "hi")
	log.Println(s.Send(context.Background(), m))
}
EOF
	printf 'module probe\n\ngo 1.25.0\n\nrequire github.com/o365smtp/o365smtp v0.0.0\n\nreplace github.com/o365smtp/o365smtp => ../%s\n' "$v" > "$W/prog-$v/go.mod"
	(cd "$W/prog-$v" && GOWORK=off GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 &&
		GOWORK=off go build -trimpath -o full . && GOWORK=off go build -trimpath -ldflags='-s -w' -o stripped .)
done
f1=$(stat -c %s "$W/prog-with/full"); f0=$(stat -c %s "$W/prog-without/full")
s1=$(stat -c %s "$W/prog-with/stripped"); s0=$(stat -c %s "$W/prog-without/stripped")
echo "$(go version); $(git rev-parse --short "$REV")"
echo "default build:  with $f1, without $f0: +$((f1 - f0)) bytes"
echo "-ldflags=-s -w: with $s1, without $s0: +$((s1 - s0)) bytes"
rm -rf "$W"
