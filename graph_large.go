package o365smtp

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/o365smtp/o365smtp/internal/catalog"
	"github.com/o365smtp/o365smtp/internal/graphclient"
	"github.com/o365smtp/o365smtp/internal/redact"
)

// A message too large for one sendMail request (4 MB of base64 MIME) goes
// through a draft: POST /messages with the MIME of the message without its
// large attachments, an upload session for each of those
// (attachments/createUploadSession, then PUTs of at most 4 MiB to the
// session's own URL), then POST /messages/{id}/send. Drafts and upload
// sessions need Mail.ReadWrite as well as Mail.Send
// (learn.microsoft.com/graph/outlook-large-attachments,
// learn.microsoft.com/graph/api/attachment-createuploadsession).
const (
	// uploadFrom is the size from which an attachment always goes
	// through an upload session: Microsoft's "between 3 MB and 150 MB".
	uploadFrom = 3_000_000
	// uploadFloor is the smallest attachment an upload session takes
	// (ErrorAttachmentSizeShouldNotBeLessThanMinimumSize below it: 2 MiB,
	// as measured in msgraph-sdk-java#52). Attachments between the two
	// are uploaded, largest first, only while the draft would not fit one
	// request otherwise.
	uploadFloor = 2 << 20
	// draftCleanup bounds the best-effort deletion of a draft.
	draftCleanup = 10 * time.Second
)

// largeMessage is a message split for a draft: draft is its MIME without
// the uploads (in base64, ready to post), which are sent by upload sessions.
type largeMessage struct {
	draft   []byte
	uploads []largeFile
}

// largeFile is an attachment or inline image sent by an upload session.
type largeFile struct {
	f      *mail.File
	size   int64
	inline bool
}

// item is f's createUploadSession AttachmentItem.
func (f largeFile) item() graphclient.Attachment {
	a := graphclient.Attachment{Name: f.f.Name, Size: f.size, ContentType: string(f.f.ContentType), IsInline: f.inline}
	if a.ContentType == "" {
		a.ContentType = cmp.Or(mime.TypeByExtension(filepath.Ext(f.f.Name)), "application/octet-stream")
	}
	if f.inline {
		a.ContentID = strings.Trim(f.f.Header.Get("Content-ID"), "<> ")
		if a.ContentID == "" {
			a.ContentID = f.f.Name
		}
	}
	return a
}

// splitLarge splits env's message for a draft. It renders a shallow copy
// of env.msg with fewer attachments, so the caller's Msg keeps its own
// (the copy shares only the boundaries and headers the first rendering
// set, and writes back the same values).
func splitLarge(env *envelope) (*largeMessage, *Error) {
	m := env.msg
	var small, big []largeFile
	for i, list := range [][]*mail.File{m.GetAttachments(), m.GetEmbeds()} {
		for _, f := range list {
			n := countWriter{w: io.Discard}
			if f.Writer != nil {
				if _, err := f.Writer(&n); err != nil {
					return nil, localError("message.render", "an attachment cannot be read: "+err.Error(), catalog.Values{}, err)
				}
			}
			lf := largeFile{f: f, size: n.n, inline: i == 1}
			if lf.size >= uploadFrom {
				big = append(big, lf)
			} else {
				small = append(small, lf)
			}
		}
	}
	// Largest first: those are moved to upload sessions if need be.
	slices.SortStableFunc(small, func(a, b largeFile) int { return cmp.Compare(b.size, a.size) })
	bcc := blindRecipients(env)
	for {
		cp := *m
		var atts, embeds []*mail.File
		for _, f := range small {
			if f.inline {
				embeds = append(embeds, f.f)
			} else {
				atts = append(atts, f.f)
			}
		}
		cp.SetAttachments(atts)
		cp.SetEmbeds(embeds)
		var buf bytes.Buffer
		if len(bcc) > 0 {
			buf.WriteString("Bcc: " + strings.Join(bcc, ", ") + "\r\n")
		}
		if _, err := cp.WriteTo(&buf); err != nil {
			return nil, localError("message.render", "the message cannot be rendered: "+err.Error(), catalog.Values{}, err)
		}
		if n := base64.StdEncoding.EncodedLen(buf.Len()); n <= graphclient.MaxRequest {
			out := make([]byte, n)
			base64.StdEncoding.Encode(out, buf.Bytes())
			return &largeMessage{draft: out, uploads: big}, nil
		}
		if len(small) == 0 || small[0].size < uploadFloor {
			return nil, localError("graph.too_large", fmt.Sprintf("without its %d attachments of 2 MiB or more, the message is still %d bytes, %d in base64: a Graph request may be at most %d",
				len(big), buf.Len(), base64.StdEncoding.EncodedLen(buf.Len()), graphclient.MaxRequest), catalog.Values{}, nil)
		}
		big, small = append(big, small[0]), small[1:]
	}
}

// sendLarge sends lm: a draft, an upload session per large attachment,
// then send. If anything fails before send, the draft is deleted (best
// effort) and nothing was sent; a send whose request was written and
// whose answer never came is ErrUnknownOutcome. refresh says a fresh
// token may fix the failure.
func (t *graphTransport) sendLarge(ctx context.Context, tok string, lm *largeMessage, from string) (e *Error, refresh bool) {
	user := t.r.cfg.Mailbox
	t.requests.Add(1)
	resp, err := t.client.CreateDraft(ctx, tok, user, lm.draft)
	if err != nil {
		return t.stepError(ctx, err, tok, "creating the draft"), false
	}
	if resp.Status != 201 {
		return t.stepResponse(resp, from, tok, catalog.StepDraft, "creating the draft")
	}
	id := resp.MessageID()
	if id == "" {
		return localError("graph.response", "Graph created the draft but its answer has no message id", t.graphValues(from), nil), false
	}
	keep := false // the draft is kept once send may have taken it
	defer func() {
		if !keep {
			t.deleteDraft(ctx, tok, id)
		}
	}()
	for _, f := range lm.uploads {
		t.requests.Add(1)
		resp, err := t.client.CreateUploadSession(ctx, tok, user, id, f.item())
		if err != nil {
			return t.stepError(ctx, err, tok, "creating an upload session"), false
		}
		if resp.Status != 201 {
			return t.stepResponse(resp, from, tok, catalog.StepDraft, "creating an upload session for "+catalog.Sanitize(f.f.Name))
		}
		if e := t.upload(ctx, resp.UploadURL(), f, tok, from); e != nil {
			return e, false
		}
	}
	t.requests.Add(1)
	resp, err = t.client.Send(ctx, tok, user, id)
	if err != nil {
		var re *graphclient.RequestError
		keep = errors.As(err, &re) && re.Sent
		return t.requestError(ctx, err, tok), false
	}
	if resp.Status == 202 {
		keep = true
		t.accepted(ctx, resp)
		return nil, false
	}
	return t.responseError(resp, from, tok, "")
}

// upload streams f to an upload session's URL in chunks of
// graphclient.MaxChunk through one buffer: the attachment is never whole
// in memory. The URL carries its own token: it gets no Authorization
// header and is redacted from every error.
func (t *graphTransport) upload(ctx context.Context, uploadURL string, f largeFile, tok, from string) *Error {
	secrets := []string{uploadURL}
	if i := strings.IndexByte(uploadURL, '?'); i >= 0 {
		secrets = append(secrets, uploadURL[i+1:])
	}
	if !strings.HasPrefix(uploadURL, "https://") {
		return localError("graph.upload_url", "the upload session's uploadUrl is not an https URL; no attachment bytes were sent", t.graphValues(from), nil)
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		n, err := f.f.Writer(pw)
		if err == nil && n != f.size {
			err = errAttachmentChanged
		}
		pw.CloseWithError(err)
	}()
	defer func() { pr.Close(); <-done }()
	buf := make([]byte, min(int64(graphclient.MaxChunk), f.size))
	for off := int64(0); off < f.size; {
		n, err := io.ReadFull(pr, buf[:min(int64(len(buf)), f.size-off)])
		if err != nil {
			return localError("graph.attachment_changed", fmt.Sprintf("attachment %s: %d of its %d bytes could be read for the upload", catalog.Sanitize(f.f.Name), off+int64(n), f.size), catalog.Values{}, err)
		}
		t.requests.Add(1)
		resp, err := t.client.Upload(ctx, uploadURL, off, f.size, buf[:n])
		if err != nil {
			e := t.stepError(ctx, err, tok, "uploading "+catalog.Sanitize(f.f.Name))
			e.Message = redact.New(secrets...).String(e.Message)
			return e
		}
		off += int64(n)
		last := off == f.size
		if last && resp.Status != 201 || !last && resp.Status != 200 {
			e, _ := t.stepResponse(resp, from, tok, catalog.StepUpload, "uploading "+catalog.Sanitize(f.f.Name), secrets...)
			return e
		}
	}
	if n, _ := pr.Read(buf[:1]); n > 0 {
		return localError("graph.attachment_changed", fmt.Sprintf("attachment %s has more than the %d bytes it had when measured", catalog.Sanitize(f.f.Name), f.size), catalog.Values{}, nil)
	}
	return nil
}

var errAttachmentChanged = errors.New("the attachment's size changed")

// stepError classifies a request of a large message's draft or uploads
// that got no answer: nothing was sent (the draft is deleted), so even a
// request that was written is worth a retry.
func (t *graphTransport) stepError(ctx context.Context, err error, tok, step string) *Error {
	e := t.requestError(ctx, err, tok)
	if e.Kind == ErrUnknownOutcome {
		msg := excerpt(redact.New(tok), step+": the connection broke: "+err.Error()+"; the draft was deleted, nothing was sent")
		return localError("graph.draft_failed", msg, t.graphValues(""), causeText(msg))
	}
	e.Message = step + ": " + e.Message
	return e
}

// stepResponse classifies an error answer to a large message's step.
func (t *graphTransport) stepResponse(resp *graphclient.Response, from, tok, step, what string, secret ...string) (*Error, bool) {
	e, refresh := t.responseError(resp, from, tok, step, secret...)
	e.Message = what + ": " + e.Message
	return e, refresh
}

// deleteDraft deletes the draft id, best effort, even when ctx has ended.
func (t *graphTransport) deleteDraft(ctx context.Context, tok, id string) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), draftCleanup)
	defer cancel()
	t.requests.Add(1)
	if resp, err := t.client.Delete(dctx, tok, t.r.cfg.Mailbox, id); err != nil || resp.Status != 204 {
		t.logDebug("the draft of a message that was not sent could not be deleted")
	}
}
