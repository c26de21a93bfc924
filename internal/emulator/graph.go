package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"net/url"
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
	roleMailReadWrite  = "Mail.ReadWrite" // drafts and upload sessions
	graphMaxConcurrent = 4                // MailboxConcurrency
	graphMaxRequest    = 4 << 20
)

// GraphFault is a Graph error answer, queued with FailGraph;
// o365smtptest.GraphFault documents it.
type GraphFault struct {
	Status     int
	Code       string
	Message    string
	RetryAfter int // seconds; 0: no header
	Times      int // requests it applies to; 0 means all
	// Op limits the fault to one kind of request: GraphSendMail,
	// GraphCreateDraft, GraphCreateUploadSession, GraphUpload, GraphSend
	// or GraphDelete; "" is every kind.
	Op string
	// Drop closes the connection after the whole request body has been
	// read, with no answer; Hang holds the answer until Release is closed
	// (then the request is served as if there were no fault) or the client
	// goes away. Status is then ignored.
	Drop, Hang bool
	Release    <-chan struct{}
}

// The kinds of Graph request, for GraphFault.Op.
const (
	GraphSendMail            = "sendMail"
	GraphCreateDraft         = "createDraft"
	GraphCreateUploadSession = "createUploadSession"
	GraphUpload              = "upload"
	GraphSend                = "send"
	GraphDelete              = "delete"
)

// graphState is the Graph side of the tenant. Guarded by mu.
type graphState struct {
	mu          sync.Mutex
	noRole      bool            // Mail.Send not consented
	noRW        bool            // Mail.ReadWrite not consented
	rbac        map[string]bool // RBAC for Applications grants of Application Mail.Send, by mailbox
	excluded    map[string]bool // mailboxes an access policy / RBAC scope excludes
	faults      queue[GraphFault]
	inflight    map[string]int
	requests    int
	drafts      map[string]*graphDraft    // by id
	sessions    map[string]*uploadSession // by id
	sessionLife time.Duration             // 0: defaultSessionLife; < 0: expired at once
}

func isGraphResource(r string) bool {
	return strings.EqualFold(r, graphResource) || strings.EqualFold(r, graphAppID)
}

// graphRoles are the roles of a Graph token.
func (s *Server) graphRoles() []string {
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	var roles []string
	if !s.graph.noRole {
		roles = append(roles, roleMailSend)
	}
	if !s.graph.noRW {
		roles = append(roles, roleMailReadWrite)
	}
	return roles
}

// SetGraphMailReadWrite sets whether the app has the Mail.ReadWrite
// application permission with admin consent (the default). Without it,
// Graph tokens lack the role, and creating a draft, an upload session or
// deleting a draft is refused with 403 ErrorAccessDenied: only messages
// that fit one sendMail request can be sent.
func (s *Server) SetGraphMailReadWrite(granted bool) {
	s.graph.mu.Lock()
	s.graph.noRW = !granted
	s.graph.mu.Unlock()
}

// SetGraphUploadSessionLifetime sets how long an upload session's URL is
// valid (15 minutes by default); a PUT after that is refused with 404
// ErrorItemNotFound. Zero or less makes sessions that have already expired.
func (s *Server) SetGraphUploadSessionLifetime(d time.Duration) {
	s.graph.mu.Lock()
	s.graph.sessionLife = d
	if d <= 0 {
		s.graph.sessionLife = -1
	}
	s.graph.mu.Unlock()
}

// GraphDrafts counts the drafts that exist (created and neither sent nor
// deleted).
func (s *Server) GraphDrafts() int {
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	return len(s.graph.drafts)
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

// graphRoutes registers Graph's endpoints: sendMail, and what large
// messages need (a draft from MIME, upload sessions, send, delete).
func (s *Server) graphRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1.0/users/{id}/sendMail", s.handleSendMail)
	mux.HandleFunc("POST /v1.0/users/{id}/messages", s.handleCreateDraft)
	mux.HandleFunc("POST /v1.0/users/{id}/messages/{msg}/attachments/createUploadSession", s.handleCreateUploadSession)
	mux.HandleFunc("POST /v1.0/users/{id}/messages/{msg}/send", s.handleSendDraft)
	mux.HandleFunc("DELETE /v1.0/users/{id}/messages/{msg}", s.handleDeleteDraft)
	mux.HandleFunc("PUT /graph-upload/{session}", s.handleUpload)
}

// defaultSessionLife is how long an upload session's URL is valid.
const defaultSessionLife = 15 * time.Minute

// graphDraft is a message created with POST .../messages.
type graphDraft struct {
	mailbox     string
	mime        []byte // as posted, Bcc kept
	attachments []graphAttachment
	size        int64 // mime and the attachments' sizes (base64), for MaxSendSize
}

type graphAttachment struct {
	name, ctype, cid string
	inline           bool
	data             []byte
}

// uploadSession is an attachment being uploaded to a draft.
type uploadSession struct {
	draft   string
	token   string // the authtoken in the URL
	att     graphAttachment
	size    int64
	expires time.Time
}

// graphBegin authorizes a Graph request as Graph does (token, mailbox,
// access policy, permission: before anything is validated), takes a
// MailboxConcurrency slot and a fault for op. It answers the request
// itself when it returns ok false; done releases the slot.
func (s *Server) graphBegin(w http.ResponseWriter, r *http.Request, op string) (user string, f GraphFault, faulted bool, done func(), ok bool) {
	user = strings.ToLower(r.PathValue("id"))
	roles, valid := s.graphToken(r)
	g := &s.graph
	g.mu.Lock()
	g.requests++
	g.mu.Unlock()
	if !valid {
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
	need := roleMailSend
	switch op {
	case GraphCreateDraft, GraphCreateUploadSession, GraphDelete:
		need = roleMailReadWrite
	}
	switch {
	case excluded:
		graphError(w, 403, "ErrorAccessDenied", "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.")
		return
	case !slices.Contains(roles, need) && !(need == roleMailSend && rbac):
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
	f, faulted = g.takeFault(op)
	g.mu.Unlock()
	return user, f, faulted, func() { g.mu.Lock(); g.inflight[user]--; g.mu.Unlock() }, true
}

// takeFault consumes one occurrence of the first fault for op; g.mu is held.
func (g *graphState) takeFault(op string) (GraphFault, bool) {
	for i, e := range g.faults {
		if e.f.Op != "" && e.f.Op != op {
			continue
		}
		if e.times > 0 {
			e.left--
			if e.left <= 0 {
				g.faults = slices.Delete(g.faults, i, i+1)
			}
		}
		return e.f, true
	}
	return GraphFault{}, false
}

// applyFault answers with f, or drops or holds the request after its body
// (read into body): it reports whether the request is answered.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f GraphFault) bool {
	switch {
	case f.Drop:
		panic(http.ErrAbortHandler) // closes the connection (or resets the stream) without an answer
	case f.Hang:
		select {
		case <-f.Release:
			return false
		case <-r.Context().Done():
		case <-s.ctx.Done():
		}
		return true
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	graphError(w, f.Status, f.Code, f.Message)
	return true
}

// readGraphBody reads a request body of at most 4 MB; it answers the
// request itself when it returns false.
func readGraphBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, graphMaxRequest+1))
	if err != nil {
		graphError(w, 400, "BadRequest", "The request body cannot be read.")
		return nil, false
	}
	if len(body) > graphMaxRequest {
		graphError(w, 413, "RequestBodyTooLarge", "The request is larger than 4 MB.")
		return nil, false
	}
	return body, true
}

// faultAfterBody applies a Drop or Hang fault once the body is read, and
// any other fault before: it reports whether the request is answered.
func (s *Server) faultBefore(w http.ResponseWriter, r *http.Request, f GraphFault, faulted bool) bool {
	return faulted && !f.Drop && !f.Hang && s.applyFault(w, r, f)
}

func (s *Server) faultAfter(w http.ResponseWriter, r *http.Request, f GraphFault, faulted bool) bool {
	return faulted && (f.Drop || f.Hang) && s.applyFault(w, r, f)
}

// handleSendMail serves POST /v1.0/users/{id}/sendMail: MIME (base64,
// text/plain) or JSON ({"message":{...},"saveToSentItems":...}, as
// Graph's SDKs send). It authorizes before it validates, as Graph does.
func (s *Server) handleSendMail(w http.ResponseWriter, r *http.Request) {
	user, f, faulted, done, ok := s.graphBegin(w, r, GraphSendMail)
	if !ok {
		return
	}
	defer done()
	if s.faultBefore(w, r, f, faulted) {
		return
	}
	body, ok := readGraphBody(w, r)
	if !ok || s.faultAfter(w, r, f, faulted) {
		return
	}
	var data []byte
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var j struct {
			Message jsonMessage `json:"message"`
		}
		if json.Unmarshal(body, &j) != nil {
			graphError(w, 400, "BadRequest", "Unable to read JSON request payload.")
			return
		}
		if len(j.Message.To)+len(j.Message.Cc)+len(j.Message.Bcc) == 0 {
			graphError(w, 400, "ErrorInvalidRecipients", "At least one recipient is required, but none were found.")
			return
		}
		data = j.Message.mime(user)
	} else {
		var ok bool
		if data, ok = decodeMIME(w, body); !ok {
			return
		}
	}
	if s.graphDeliver(w, user, data) {
		w.Header().Set("request-id", newGUID())
		w.WriteHeader(http.StatusAccepted)
	}
}

// decodeMIME decodes a base64 MIME body and checks that it parses; it
// answers the request itself when it returns false.
func decodeMIME(w http.ResponseWriter, body []byte) ([]byte, bool) {
	data, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(body)))
	if err != nil {
		graphError(w, 400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.")
		return nil, false
	}
	if _, err := mail.ReadMessage(bytes.NewReader(data)); err != nil {
		graphError(w, 400, "ErrorMimeContentInvalid", "The MIME content is invalid.")
		return nil, false
	}
	return data, true
}

// graphDeliver submits data as user: recipients from To, Cc and Bcc, the
// From checked against Send As, the size against MaxSendSize; Bcc is
// dropped from what is stored. It answers the request itself when it
// returns false.
func (s *Server) graphDeliver(w http.ResponseWriter, user string, data []byte) bool {
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		graphError(w, 400, "ErrorMimeContentInvalid", "The MIME content is invalid.")
		return false
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
		return false
	}
	from := user
	if l, err := m.Header.AddressList("From"); err == nil && len(l) > 0 {
		from = l[0].Address
	}
	if t := s.setup(); !t.maySendAs(user, from) {
		graphError(w, 403, "ErrorSendAsDenied", "The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account., Cannot submit message.")
		return false
	}
	if max := s.opts.maxSendBytes; max > 0 && int64(len(data)) > max {
		graphError(w, 400, "ErrorMessageSizeExceeded", "The message exceeds the maximum supported size.")
		return false
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
	s.delivered(msg)
	s.tenant.recipientsSent[user] += len(to)
	s.mu.Unlock()
	return true
}

// handleCreateDraft serves POST /v1.0/users/{id}/messages with a MIME
// body (base64, text/plain): a draft, 201 Created with its id.
func (s *Server) handleCreateDraft(w http.ResponseWriter, r *http.Request) {
	user, f, faulted, done, ok := s.graphBegin(w, r, GraphCreateDraft)
	if !ok {
		return
	}
	defer done()
	if s.faultBefore(w, r, f, faulted) {
		return
	}
	body, ok := readGraphBody(w, r)
	if !ok || s.faultAfter(w, r, f, faulted) {
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		graphError(w, 400, "BadRequest", "The emulator creates drafts only from MIME (base64, Content-Type text/plain).")
		return
	}
	data, ok := decodeMIME(w, body)
	if !ok {
		return
	}
	id := "AAMk" + strings.ReplaceAll(newGUID(), "-", "")
	g := &s.graph
	g.mu.Lock()
	if g.drafts == nil {
		g.drafts = map[string]*graphDraft{}
	}
	g.drafts[id] = &graphDraft{mailbox: user, mime: data, size: int64(len(data))}
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("request-id", newGUID())
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "isDraft": true})
}

// draftOf returns user's draft named in the path; it answers the request
// itself when it returns nil. g.mu is held.
func (g *graphState) draftOf(w http.ResponseWriter, r *http.Request, user string) *graphDraft {
	d := g.drafts[r.PathValue("msg")]
	if d == nil || d.mailbox != user {
		graphError(w, 404, "ErrorItemNotFound", "The specified object was not found in the store.")
		return nil
	}
	return d
}

// minUploadSession is the smallest attachment an upload session takes
// (ErrorAttachmentSizeShouldNotBeLessThanMinimumSize below it: 2 MiB as
// observed in msgraph-sdk-java#52; Microsoft documents "3 MB" as the
// threshold to use sessions from) and maxUploadSession the largest (150 MB).
const (
	minUploadSession = 2 << 20
	maxUploadSession = 150 << 20
	maxUploadChunk   = 4 << 20
)

// handleCreateUploadSession serves POST .../messages/{msg}/attachments/
// createUploadSession: 201 Created with an uploadUrl that carries its own
// token.
func (s *Server) handleCreateUploadSession(w http.ResponseWriter, r *http.Request) {
	user, f, faulted, done, ok := s.graphBegin(w, r, GraphCreateUploadSession)
	if !ok {
		return
	}
	defer done()
	if s.faultBefore(w, r, f, faulted) {
		return
	}
	body, ok := readGraphBody(w, r)
	if !ok || s.faultAfter(w, r, f, faulted) {
		return
	}
	var j struct {
		Item struct {
			Type        string `json:"attachmentType"`
			Name        string `json:"name"`
			Size        int64  `json:"size"`
			ContentType string `json:"contentType"`
			IsInline    bool   `json:"isInline"`
			ContentID   string `json:"contentId"`
		} `json:"AttachmentItem"`
	}
	if json.Unmarshal(body, &j) != nil || !strings.EqualFold(j.Item.Type, "file") || j.Item.Name == "" {
		graphError(w, 400, "ErrorInvalidRequest", "AttachmentItem must have attachmentType file, a name and a size.")
		return
	}
	switch {
	case j.Item.Size < minUploadSession:
		graphError(w, 400, "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize", "Attachment size should not be less than the minimum size.")
		return
	case j.Item.Size > maxUploadSession:
		graphError(w, 400, "ErrorAttachmentSizeExceeded", "The attachment exceeds the maximum size of 150 MB.")
		return
	}
	g := &s.graph
	g.mu.Lock()
	defer g.mu.Unlock()
	d := g.draftOf(w, r, user)
	if d == nil {
		return
	}
	// MaxSendSize counts the message as sent: attachments in base64.
	if max := s.opts.maxSendBytes; max > 0 && d.size+j.Item.Size*4/3 > max {
		graphError(w, 400, "ErrorMessageSizeExceeded", "The message exceeds the maximum supported size.")
		return
	}
	d.size += j.Item.Size * 4 / 3
	life := cmpDuration(g.sessionLife, defaultSessionLife)
	id, tok := strings.ReplaceAll(newGUID(), "-", ""), newSecret()
	if g.sessions == nil {
		g.sessions = map[string]*uploadSession{}
	}
	g.sessions[id] = &uploadSession{draft: r.PathValue("msg"), token: tok, size: j.Item.Size, expires: time.Now().Add(life),
		att: graphAttachment{name: j.Item.Name, ctype: j.Item.ContentType, cid: j.Item.ContentID, inline: j.Item.IsInline,
			data: make([]byte, 0, j.Item.Size)}}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("request-id", newGUID())
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"uploadUrl":          s.AuthorityHost + "/graph-upload/" + id + "?authtoken=" + url.QueryEscape(tok),
		"expirationDateTime": time.Now().Add(life).UTC().Format(time.RFC3339Nano),
		"nextExpectedRanges": []string{"0-"},
	})
}

func cmpDuration(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// handleUpload serves PUT to an upload session's URL: pre-authenticated
// (an Authorization header is refused), Content-Range in order, at most
// 4 MiB a chunk, before the session expires.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	g := &s.graph
	g.mu.Lock()
	g.requests++
	sess := g.sessions[r.PathValue("session")]
	f, faulted := g.takeFault(GraphUpload)
	g.mu.Unlock()
	if r.Header.Get("Authorization") != "" {
		graphError(w, 401, "InvalidAuthenticationToken", "The upload URL is pre-authenticated: a request with an Authorization header is refused.")
		return
	}
	if sess == nil || r.URL.Query().Get("authtoken") != sess.token {
		graphError(w, 404, "ErrorItemNotFound", "The upload session was not found.")
		return
	}
	if !time.Now().Before(sess.expires) {
		graphError(w, 404, "ErrorItemNotFound", "The upload session has expired.")
		return
	}
	if s.faultBefore(w, r, f, faulted) {
		return
	}
	chunk, err := io.ReadAll(io.LimitReader(r.Body, maxUploadChunk+1))
	if err != nil {
		graphError(w, 400, "BadRequest", "The request body cannot be read.")
		return
	}
	if len(chunk) > maxUploadChunk {
		graphError(w, 413, "RequestBodyTooLarge", "An upload chunk may be at most 4 MB.")
		return
	}
	if s.faultAfter(w, r, f, faulted) {
		return
	}
	var start, end, total int64
	if n, err := fmt.Sscanf(r.Header.Get("Content-Range"), "bytes %d-%d/%d", &start, &end, &total); n != 3 || err != nil {
		graphError(w, 400, "InvalidContentRange", "Content-Range must be bytes {start}-{end}/{total}.")
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	have := int64(len(sess.att.data))
	if start != have || end < start || end-start+1 != int64(len(chunk)) || total != sess.size || end >= total {
		graphError(w, 416, "InvalidContentRange", fmt.Sprintf("Content-Range %q does not follow the bytes received: next expected %d-.", r.Header.Get("Content-Range"), have))
		return
	}
	sess.att.data = append(sess.att.data, chunk...)
	w.Header().Set("Content-Type", "application/json")
	if int64(len(sess.att.data)) < sess.size {
		w.WriteHeader(http.StatusOK)
		_ = json.NewEncoder(w).Encode(map[string]any{"expirationDateTime": sess.expires.UTC().Format(time.RFC3339Nano),
			"nextExpectedRanges": []string{strconv.FormatInt(int64(len(sess.att.data)), 10) + "-"}})
		return
	}
	delete(g.sessions, r.PathValue("session"))
	if d := g.drafts[sess.draft]; d != nil {
		d.attachments = append(d.attachments, sess.att)
	}
	w.Header().Set("Location", s.AuthorityHost+"/v1.0/users/"+sess.draft+"/attachments/"+newGUID())
	w.WriteHeader(http.StatusCreated)
}

// handleSendDraft serves POST .../messages/{msg}/send: the draft, with its
// uploaded attachments, is submitted (202 Accepted) and leaves Drafts.
func (s *Server) handleSendDraft(w http.ResponseWriter, r *http.Request) {
	user, f, faulted, done, ok := s.graphBegin(w, r, GraphSend)
	if !ok {
		return
	}
	defer done()
	if s.faultBefore(w, r, f, faulted) {
		return
	}
	if _, ok := readGraphBody(w, r); !ok || s.faultAfter(w, r, f, faulted) {
		return
	}
	g := &s.graph
	g.mu.Lock()
	d := g.draftOf(w, r, user)
	if d == nil {
		g.mu.Unlock()
		return
	}
	data := withAttachments(d.mime, d.attachments)
	g.mu.Unlock()
	if !s.graphDeliver(w, user, data) {
		return
	}
	g.mu.Lock()
	delete(g.drafts, r.PathValue("msg"))
	g.mu.Unlock()
	w.Header().Set("request-id", newGUID())
	w.WriteHeader(http.StatusAccepted)
}

// handleDeleteDraft serves DELETE .../messages/{msg}: 204 No Content.
func (s *Server) handleDeleteDraft(w http.ResponseWriter, r *http.Request) {
	user, f, faulted, done, ok := s.graphBegin(w, r, GraphDelete)
	if !ok {
		return
	}
	defer done()
	if s.faultBefore(w, r, f, faulted) || s.faultAfter(w, r, f, faulted) {
		return
	}
	g := &s.graph
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.draftOf(w, r, user) == nil {
		return
	}
	delete(g.drafts, r.PathValue("msg"))
	for id, sess := range g.sessions {
		if sess.draft == r.PathValue("msg") {
			delete(g.sessions, id)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// withAttachments is the MIME of a draft with the attachments uploaded to
// it: appended to its multipart/mixed, or with the draft's content made
// the first part of a new one. Exchange builds its own MIME; this keeps
// the draft's bytes and adds the attachments in base64.
func withAttachments(draft []byte, atts []graphAttachment) []byte {
	if len(atts) == 0 {
		return draft
	}
	end := bytes.Index(draft, []byte("\r\n\r\n"))
	if end < 0 {
		return draft
	}
	head, body := draft[:end+2], draft[end+4:]
	m, _ := mail.ReadMessage(bytes.NewReader(draft))
	var parts bytes.Buffer
	boundary := "o365smtp-emulator-" + strings.ReplaceAll(newGUID(), "-", "")
	if m != nil {
		if mt, p, err := mime.ParseMediaType(m.Header.Get("Content-Type")); err == nil && mt == "multipart/mixed" && p["boundary"] != "" {
			closing := []byte("--" + p["boundary"] + "--")
			if i := bytes.LastIndex(body, closing); i >= 0 {
				writeParts(&parts, p["boundary"], atts)
				out := append(append(append([]byte{}, draft[:end+4]...), body[:i]...), parts.Bytes()...)
				return append(out, body[i:]...)
			}
		}
	}
	// Move the content headers into the first part.
	var top, content strings.Builder
	for _, l := range headerFields(string(head)) {
		name, _, _ := strings.Cut(l, ":")
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(name)), "content-") {
			content.WriteString(l)
		} else {
			top.WriteString(l)
		}
	}
	top.WriteString("Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n")
	top.WriteString("--" + boundary + "\r\n" + content.String() + "\r\n")
	top.Write(body)
	top.WriteString("\r\n")
	writeParts(&parts, boundary, atts)
	top.Write(parts.Bytes())
	top.WriteString("--" + boundary + "--\r\n")
	return []byte(top.String())
}

// headerFields splits a header block into fields, continuation lines kept.
func headerFields(head string) []string {
	var out []string
	for _, l := range strings.SplitAfter(head, "\r\n") {
		switch {
		case l == "" || l == "\r\n":
		case (l[0] == ' ' || l[0] == '\t') && len(out) > 0:
			out[len(out)-1] += l
		default:
			out = append(out, l)
		}
	}
	return out
}

func writeParts(b *bytes.Buffer, boundary string, atts []graphAttachment) {
	for _, a := range atts {
		ct := a.ctype
		if ct == "" {
			ct = "application/octet-stream"
		}
		disp := "attachment"
		if a.inline {
			disp = "inline"
		}
		fmt.Fprintf(b, "--%s\r\nContent-Type: %s; name=%q\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: %s; filename=%q\r\n", boundary, ct, a.name, disp, a.name)
		if a.cid != "" {
			fmt.Fprintf(b, "Content-ID: <%s>\r\n", strings.Trim(a.cid, "<>"))
		}
		b.WriteString("\r\n")
		b.Grow(base64.StdEncoding.EncodedLen(len(a.data)) * 78 / 76)
		var line [78]byte
		for off := 0; off < len(a.data); off += 57 {
			n := base64.StdEncoding.EncodedLen(min(57, len(a.data)-off))
			base64.StdEncoding.Encode(line[:n], a.data[off:min(off+57, len(a.data))])
			line[n], line[n+1] = '\r', '\n'
			b.Write(line[:n+2])
		}
	}
}

// jsonMessage is the message of a JSON sendMail, as far as the emulator
// reads it.
type jsonMessage struct {
	Subject string `json:"subject"`
	Body    struct {
		ContentType string `json:"contentType"`
		Content     string `json:"content"`
	} `json:"body"`
	From    *jsonRecipient  `json:"from"`
	To      []jsonRecipient `json:"toRecipients"`
	Cc      []jsonRecipient `json:"ccRecipients"`
	Bcc     []jsonRecipient `json:"bccRecipients"`
	ReplyTo []jsonRecipient `json:"replyTo"`
	Headers []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"internetMessageHeaders"`
}

type jsonRecipient struct {
	EmailAddress struct {
		Name    string `json:"name"`
		Address string `json:"address"`
	} `json:"emailAddress"`
}

// mime renders m as Exchange would, in outline: the headers and one body
// part, quoted-printable.
func (m jsonMessage) mime(user string) []byte {
	var b strings.Builder
	addrs := func(name string, rs []jsonRecipient) {
		var l []string
		for _, r := range rs {
			if a := strings.TrimSpace(r.EmailAddress.Address); a != "" && !strings.ContainsAny(a, "\r\n") {
				l = append(l, (&mail.Address{Name: r.EmailAddress.Name, Address: a}).String())
			}
		}
		if len(l) > 0 {
			b.WriteString(name + ": " + strings.Join(l, ", ") + "\r\n")
		}
	}
	from := []jsonRecipient{{}}
	from[0].EmailAddress.Address = user
	if m.From != nil && m.From.EmailAddress.Address != "" {
		from[0] = *m.From
	}
	addrs("From", from)
	addrs("To", m.To)
	addrs("Cc", m.Cc)
	addrs("Bcc", m.Bcc)
	addrs("Reply-To", m.ReplyTo)
	b.WriteString("Subject: " + mime.QEncoding.Encode("utf-8", m.Subject) + "\r\n")
	b.WriteString("Date: " + time.Now().UTC().Format(time.RFC1123Z) + "\r\n")
	b.WriteString("Message-ID: <" + newGUID() + "@emulator.graph>\r\n")
	for _, h := range m.Headers {
		if strings.HasPrefix(strings.ToLower(h.Name), "x-") && !strings.ContainsAny(h.Name+h.Value, "\r\n:") {
			b.WriteString(h.Name + ": " + h.Value + "\r\n")
		}
	}
	ct := "text/plain"
	if strings.EqualFold(m.Body.ContentType, "html") {
		ct = "text/html"
	}
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: " + ct + "; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	var qp bytes.Buffer
	qw := quotedprintable.NewWriter(&qp)
	_, _ = qw.Write([]byte(m.Body.Content))
	_ = qw.Close()
	b.Write(qp.Bytes())
	b.WriteString("\r\n")
	return []byte(b.String())
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
