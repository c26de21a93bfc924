package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Microsoft Graph's resource, and the role its sendMail needs.
const (
	graphResource      = "https://graph.microsoft.com"
	graphAppID         = "00000003-0000-0000-c000-000000000000"
	roleMailSend       = "Mail.Send"
	graphMaxConcurrent = 4 // MailboxConcurrency
	graphMaxRequest    = 4 << 20
)

// GraphFault is a Graph error answer, queued with FailGraph.
type GraphFault struct {
	Status     int
	Code       string
	Message    string
	RetryAfter int // seconds; 0: no header
	Times      int // requests it applies to; 0 means all
}

// graphState is the Graph side of the tenant. Guarded by mu.
type graphState struct {
	mu       sync.Mutex
	noRole   bool            // Mail.Send not consented
	rbac     map[string]bool // RBAC for Applications grants of Application Mail.Send, by mailbox
	excluded map[string]bool // mailboxes an access policy / RBAC scope excludes
	faults   queue[GraphFault]
	inflight map[string]int
	requests int
}

func isGraphResource(r string) bool {
	return strings.EqualFold(r, graphResource) || strings.EqualFold(r, graphAppID)
}

// graphRoles are the roles of a Graph token.
func (s *Server) graphRoles() []string {
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	if s.graph.noRole {
		return nil
	}
	return []string{roleMailSend}
}

// SetGraphMailSend sets whether the app has the Mail.Send application
// permission with admin consent (the default): without it Graph tokens
// carry no roles and sendMail is refused with 403 ErrorAccessDenied,
// unless SetGraphRBAC grants the mailbox.
func (s *Server) SetGraphMailSend(granted bool) {
	s.graph.mu.Lock()
	s.graph.noRole = !granted
	s.graph.mu.Unlock()
}

// SetGraphRBAC grants (or revokes) "Application Mail.Send" on mailbox with
// RBAC for Applications: sendMail works without the token role.
func (s *Server) SetGraphRBAC(mailbox string, granted bool) {
	s.graph.mu.Lock()
	if s.graph.rbac == nil {
		s.graph.rbac = map[string]bool{}
	}
	s.graph.rbac[strings.ToLower(mailbox)] = granted
	s.graph.mu.Unlock()
}

// SetGraphExcluded makes an application access policy (or an RBAC scope)
// exclude mailbox: sendMail as it gets 403 "Access to OData is disabled:
// [RAOP] ...".
func (s *Server) SetGraphExcluded(mailbox string, excluded bool) {
	s.graph.mu.Lock()
	if s.graph.excluded == nil {
		s.graph.excluded = map[string]bool{}
	}
	s.graph.excluded[strings.ToLower(mailbox)] = excluded
	s.graph.mu.Unlock()
}

// FailGraph queues f: the next Times Graph requests (after authentication)
// are answered with it.
func (s *Server) FailGraph(f GraphFault) {
	s.graph.mu.Lock()
	s.graph.faults.add(f, f.Times)
	s.graph.mu.Unlock()
}

// GraphRequests counts the Graph requests received.
func (s *Server) GraphRequests() int {
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	return s.graph.requests
}

func graphError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	id := newGUID()
	w.Header().Set("request-id", id)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg,
		"innerError": map[string]string{"request-id": id, "client-request-id": id, "date": time.Now().UTC().Format("2006-01-02T15:04:05")}}})
}

// graphToken checks a Graph access token as Graph does.
func (s *Server) graphToken(r *http.Request) (roles []string, ok bool) {
	tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found || !s.keyReady.Load() {
		return nil, false
	}
	key, _ := s.signingKey()
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return &key.PublicKey, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}), jwt.WithExpirationRequired(),
		jwt.WithIssuer("https://sts.windows.net/"+s.TenantID+"/")); err != nil {
		return nil, false
	}
	aud, _ := claims.GetAudience()
	if !slices.ContainsFunc(aud, isGraphResource) {
		return nil, false
	}
	if rs, ok := claims["roles"].([]any); ok {
		for _, x := range rs {
			if x, ok := x.(string); ok {
				roles = append(roles, x)
			}
		}
	}
	return roles, true
}

// handleSendMail serves POST /v1.0/users/{id}/sendMail: MIME (base64,
// text/plain) or JSON. It authorizes before it validates, as Graph does.
func (s *Server) handleSendMail(w http.ResponseWriter, r *http.Request) {
	user := strings.ToLower(r.PathValue("id"))
	roles, ok := s.graphToken(r)
	g := &s.graph
	g.mu.Lock()
	g.requests++
	g.mu.Unlock()
	if !ok {
		graphError(w, 401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
		return
	}
	if !s.setup().mailboxes[user] {
		graphError(w, 404, "ErrorInvalidUser", "The requested user '"+r.PathValue("id")+"' is invalid.")
		return
	}
	g.mu.Lock()
	excluded, rbac := g.excluded[user], g.rbac[user]
	g.mu.Unlock()
	switch {
	case excluded:
		graphError(w, 403, "ErrorAccessDenied", "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.")
		return
	case !slices.Contains(roles, roleMailSend) && !rbac:
		graphError(w, 403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
		return
	}
	g.mu.Lock()
	if g.inflight == nil {
		g.inflight = map[string]int{}
	}
	if g.inflight[user] >= graphMaxConcurrent {
		g.mu.Unlock()
		w.Header().Set("Retry-After", "1")
		graphError(w, 429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.")
		return
	}
	g.inflight[user]++
	f, faulted := g.faults.take()
	g.mu.Unlock()
	defer func() { g.mu.Lock(); g.inflight[user]--; g.mu.Unlock() }()
	if faulted {
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
		}
		graphError(w, f.Status, f.Code, f.Message)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, graphMaxRequest+1))
	if err != nil {
		graphError(w, 400, "BadRequest", "The request body cannot be read.")
		return
	}
	if len(body) > graphMaxRequest {
		graphError(w, 413, "RequestBodyTooLarge", "The request is larger than 4 MB.")
		return
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var j struct {
			Message struct {
				To []json.RawMessage `json:"toRecipients"`
			} `json:"message"`
		}
		if json.Unmarshal(body, &j) != nil {
			graphError(w, 400, "BadRequest", "Unable to read JSON request payload.")
			return
		}
		if len(j.Message.To) == 0 {
			graphError(w, 400, "ErrorInvalidRecipients", "At least one recipient is required, but none were found.")
			return
		}
		graphError(w, 400, "BadRequest", "The emulator takes JSON sendMail only without recipients (Verify's probe).")
		return
	}
	data, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(body)))
	if err != nil {
		graphError(w, 400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.")
		return
	}
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		graphError(w, 400, "ErrorMimeContentInvalid", "The MIME content is invalid.")
		return
	}
	var to []string
	for _, h := range []string{"To", "Cc", "Bcc"} {
		list, _ := m.Header.AddressList(h)
		for _, a := range list {
			to = append(to, a.Address)
		}
	}
	if len(to) == 0 {
		graphError(w, 400, "ErrorInvalidRecipients", "At least one recipient is required, but none were found.")
		return
	}
	from := user
	if l, err := m.Header.AddressList("From"); err == nil && len(l) > 0 {
		from = l[0].Address
	}
	if t := s.setup(); !t.maySendAs(user, from) {
		graphError(w, 403, "ErrorSendAsDenied", "The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account., Cannot submit message.")
		return
	}
	// Graph drops Bcc from what it stores and sends.
	stored := stripBcc(data)
	hdr, _ := mail.ReadMessage(bytes.NewReader(stored))
	msg := Message{ID: newGUID(), Mailbox: user, From: from, To: to, Data: stored, Received: time.Now(), Transport: "graph"}
	if hdr != nil {
		msg.Header = hdr.Header
	} else {
		msg.Header = mail.Header{}
	}
	s.mu.Lock()
	s.messages = append(s.messages, msg)
	s.mu.Unlock()
	w.Header().Set("request-id", newGUID())
	w.WriteHeader(http.StatusAccepted)
}

// stripBcc removes the Bcc header field (and its continuation lines).
func stripBcc(data []byte) []byte {
	end := bytes.Index(data, []byte("\r\n\r\n"))
	if end < 0 {
		return data
	}
	lines := strings.SplitAfter(string(data[:end+2]), "\r\n")
	var out strings.Builder
	skip := false
	for _, l := range lines {
		if l == "" {
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			if !skip {
				out.WriteString(l)
			}
			continue
		}
		skip = strings.HasPrefix(strings.ToLower(l), "bcc:")
		if !skip {
			out.WriteString(l)
		}
	}
	return append([]byte(out.String()), data[end+2:]...)
}
