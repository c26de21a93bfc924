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
	"strings"
)

// MaxRequest is Graph's limit on a request's size: 4 MB. A sendMail whose
// base64 MIME body is larger is refused by Graph (413), so it is not sent.
const MaxRequest = 4 << 20

// Client makes Graph requests with HTTP (which must bound its responses:
// see internal/httpguard) to Base, e.g. "https://graph.microsoft.com".
type Client struct {
	HTTP *http.Client
	Base string
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
// checked against MaxRequest).
func (c *Client) SendMail(ctx context.Context, token, user string, body []byte) (*Response, error) {
	return c.do(ctx, token, "/v1.0/users/"+url.PathEscape(user)+"/sendMail", "text/plain", body)
}

// ProbeSendMail posts a JSON sendMail with no recipients, which Graph
// refuses after it has checked that the app may send as user, and before
// anything is delivered: 400 ErrorInvalidRecipients means the app may send.
func (c *Client) ProbeSendMail(ctx context.Context, token, user string) (*Response, error) {
	body := []byte(`{"message":{"subject":"o365smtp verify probe (never delivered: no recipients)","toRecipients":[]},"saveToSentItems":false}`)
	return c.do(ctx, token, "/v1.0/users/"+url.PathEscape(user)+"/sendMail", "application/json", body)
}

func (c *Client) do(ctx context.Context, token, path, ctype string, body []byte) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.Base, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, &RequestError{Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	var wrote bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) { wrote = i.Err == nil }}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, &RequestError{Sent: wrote, Err: err}
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
