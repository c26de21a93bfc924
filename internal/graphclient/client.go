// Package graphclient is the wire of o365smtp's Microsoft Graph transport:
// the few Graph endpoints that sending mail needs, over net/http and
// encoding/json, with no Graph SDK. It knows nothing of the Sender's policy:
// it makes one request and says what came back, or how far the request got.
package graphclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/o365smtp/o365smtp/internal/clock"
)

// MaxRequest is Graph's limit on a request's size: 4 MB. A sendMail whose
// base64 MIME body is larger is refused by Graph (413), so it is not sent.
const MaxRequest = 4 << 20

// Client makes Graph requests with HTTP (which must bound its responses:
// see internal/httpguard) to Base, e.g. "https://graph.microsoft.com".
type Client struct {
	HTTP *http.Client
	Base string
	// Grace is how long the response to a sendMail or send whose request
	// has been written is still awaited after the context ends: giving up
	// there leaves the outcome unknown. Zero: no grace.
	Grace time.Duration
	// Clock times the grace; nil is the system clock.
	Clock clock.Clock
	// OnWritten, if set, is called when a request has been written
	// whole (for tests of the grace).
	OnWritten func()
}

// Response is Graph's answer to a request.
type Response struct {
	Status    int
	Header    http.Header
	Body      []byte // bounded by the HTTP client
	RequestID string // the request-id header, "" if none
	TLS       *tls.ConnectionState
}

// OK reports whether the status is 2xx.
func (r *Response) OK() bool { return r.Status >= 200 && r.Status <= 299 }

// RequestError is a request that got no response. Sent says whether the
// whole request had been written when it failed: if so, Graph may have
// acted on it.
type RequestError struct {
	Sent bool
	Err  error
}

func (e *RequestError) Error() string { return e.Err.Error() }
func (e *RequestError) Unwrap() error { return e.Err }

// SendMail posts mime (an RFC 5322 message) to /v1.0/users/{user}/sendMail
// as Graph's MIME format: base64, Content-Type text/plain. Graph answers
// 202 Accepted. body is the base64 encoding, which the caller has made (and
// checked against MaxRequest). Once body has been written, the response is
// still awaited for Grace after ctx ends.
func (c *Client) SendMail(ctx context.Context, token, user string, body []byte) (*Response, error) {
	return c.do(ctx, request{method: http.MethodPost, url: c.userURL(user, "/sendMail"), token: token, ctype: "text/plain", body: body, grace: true})
}

// ProbeSendMail posts a JSON sendMail with no recipients, which Graph
// refuses after it has checked that the app may send as user, and before
// anything is delivered: 400 ErrorInvalidRecipients means the app may send.
func (c *Client) ProbeSendMail(ctx context.Context, token, user string) (*Response, error) {
	body := []byte(`{"message":{"subject":"o365smtp verify probe (never delivered: no recipients)","toRecipients":[]},"saveToSentItems":false}`)
	return c.do(ctx, request{method: http.MethodPost, url: c.userURL(user, "/sendMail"), token: token, ctype: "application/json", body: body})
}

// CreateDraft posts mime's base64 (body) to /v1.0/users/{user}/messages,
// which creates a draft from it in the Drafts folder: 201 Created with the
// message's JSON, whose id MessageID reads. It needs Mail.ReadWrite
// (learn.microsoft.com/graph/api/user-post-messages, "Create a message
// in MIME format").
func (c *Client) CreateDraft(ctx context.Context, token, user string, body []byte) (*Response, error) {
	return c.do(ctx, request{method: http.MethodPost, url: c.userURL(user, "/messages"), token: token, ctype: "text/plain", body: body})
}

// Attachment is the AttachmentItem of createUploadSession.
type Attachment struct {
	Name        string `json:"name"`
	Size        int64  `json:"size"`
	ContentType string `json:"contentType,omitempty"`
	IsInline    bool   `json:"isInline,omitempty"`
	ContentID   string `json:"contentId,omitempty"`
}

// CreateUploadSession posts an AttachmentItem for a to the draft id's
// attachments/createUploadSession: 201 Created with an uploadSession,
// whose uploadUrl UploadURL reads
// (learn.microsoft.com/graph/api/attachment-createuploadsession).
func (c *Client) CreateUploadSession(ctx context.Context, token, user, id string, a Attachment) (*Response, error) {
	item := struct {
		AttachmentType string `json:"attachmentType"`
		Attachment
	}{"file", a}
	body, err := json.Marshal(map[string]any{"AttachmentItem": item})
	if err != nil {
		return nil, &RequestError{Err: err}
	}
	return c.do(ctx, request{method: http.MethodPost, url: c.userURL(user, "/messages/"+url.PathEscape(id)+"/attachments/createUploadSession"),
		token: token, ctype: "application/json", body: body})
}

// MaxChunk is the largest chunk Upload sends: Graph takes at most 4 MiB a
// PUT, and upload sessions want chunks in multiples of 320 KiB (as
// OneDrive's upload sessions document), so 12 x 320 KiB = 3.75 MiB.
const MaxChunk = 12 * 320 << 10

// Upload puts chunk, the bytes of an attachment from offset start, whose
// size is total, to an upload session's uploadUrl. The URL carries its own
// token, so the request has no Authorization header; it must be https.
// Graph answers 200 OK with nextExpectedRanges, and 201 Created to the
// last chunk. A request error never includes the URL.
func (c *Client) Upload(ctx context.Context, uploadURL string, start, total int64, chunk []byte) (*Response, error) {
	u, err := url.Parse(uploadURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, &RequestError{Err: ErrUploadURL}
	}
	if len(chunk) == 0 || len(chunk) > MaxChunk {
		return nil, &RequestError{Err: errors.New("an upload chunk must have 1 to MaxChunk bytes")}
	}
	rng := "bytes " + strconv.FormatInt(start, 10) + "-" + strconv.FormatInt(start+int64(len(chunk))-1, 10) + "/" + strconv.FormatInt(total, 10)
	return c.do(ctx, request{method: http.MethodPut, url: uploadURL, ctype: "application/octet-stream", body: chunk, rng: rng})
}

// ErrUploadURL is the error of an uploadUrl that is not an https URL.
var ErrUploadURL = errors.New("the upload session's uploadUrl is not an https URL")

// Send posts to the draft id's send: Graph answers 202 Accepted and moves
// the draft to Sent Items. Once the request has been written, the response
// is still awaited for Grace after ctx ends.
func (c *Client) Send(ctx context.Context, token, user, id string) (*Response, error) {
	return c.do(ctx, request{method: http.MethodPost, url: c.userURL(user, "/messages/"+url.PathEscape(id)+"/send"), token: token, grace: true})
}

// Delete deletes the draft id: 204 No Content.
func (c *Client) Delete(ctx context.Context, token, user, id string) (*Response, error) {
	return c.do(ctx, request{method: http.MethodDelete, url: c.userURL(user, "/messages/"+url.PathEscape(id)), token: token})
}

// MessageID is the id of the message JSON in r's body ("" if none).
func (r *Response) MessageID() string {
	var m struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(r.Body, &m)
	return m.ID
}

// UploadURL is the uploadUrl of the uploadSession JSON in r's body.
func (r *Response) UploadURL() string {
	var m struct {
		URL string `json:"uploadUrl"`
	}
	_ = json.Unmarshal(r.Body, &m)
	return m.URL
}

func (c *Client) userURL(user, rest string) string {
	return strings.TrimRight(c.Base, "/") + "/v1.0/users/" + url.PathEscape(user) + rest
}

type request struct {
	method, url, token, ctype, rng string
	body                           []byte
	grace                          bool // await the response for Grace after ctx ends, once the request is written
}

func (c *Client) do(ctx context.Context, rq request) (*Response, error) {
	// The request runs on its own context, which ends when ctx does, or,
	// for a request with grace that has been written, Grace later.
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var (
		mu    sync.Mutex
		wrote bool
		timer clock.Timer
		done  bool
	)
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return
		}
		if wrote && rq.grace && c.Grace > 0 {
			timer = c.clock().NewTimer(c.Grace)
			go func() {
				select {
				case <-timer.C():
					cancel()
				case <-rctx.Done():
				}
			}()
			return
		}
		cancel()
	})
	defer func() {
		stop()
		mu.Lock()
		done = true
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
	}()
	var body io.Reader
	if rq.body != nil {
		body = bytes.NewReader(rq.body)
	}
	req, err := http.NewRequestWithContext(rctx, rq.method, rq.url, body)
	if err != nil {
		return nil, &RequestError{Err: errors.New("the request cannot be made")}
	}
	if rq.token != "" {
		req.Header.Set("Authorization", "Bearer "+rq.token)
	}
	if rq.ctype != "" {
		req.Header.Set("Content-Type", rq.ctype)
	}
	if rq.rng != "" {
		req.Header.Set("Content-Range", rq.rng)
	}
	req.Header.Set("Accept", "application/json")
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		mu.Lock()
		wrote = i.Err == nil
		mu.Unlock()
		if wrote && c.OnWritten != nil {
			c.OnWritten()
		}
	}}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := c.HTTP.Do(req)
	if err != nil {
		// A *url.Error quotes the URL, and an upload URL carries a token.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			err = ctx.Err()
		}
		mu.Lock()
		sent := wrote
		mu.Unlock()
		return nil, &RequestError{Sent: sent, Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.EOF) {
		// The status line came: Graph has answered, only its body is
		// broken or too large.
		b = nil
	}
	r := &Response{Status: resp.StatusCode, Header: resp.Header, Body: b, TLS: resp.TLS,
		RequestID: resp.Header.Get("request-id")}
	return r, nil
}

func (c *Client) clock() clock.Clock {
	if c.Clock == nil {
		return clock.Real{}
	}
	return c.Clock
}

// ErrorBody is Graph's error JSON:
// {"error":{"code","message","innerError":{"request-id","date"}}}.
type ErrorBody struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			RequestID       string `json:"request-id"`
			ClientRequestID string `json:"client-request-id"`
			Date            string `json:"date"`
		} `json:"innerError"`
	} `json:"error"`
}

// ParseError decodes Graph's error JSON; what does not parse is left empty.
func ParseError(b []byte) ErrorBody {
	var e ErrorBody
	_ = json.Unmarshal(b, &e)
	return e
}
