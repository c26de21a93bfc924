package emulator

import (
	"cmp"
	"encoding/json"
	"fmt"
	"github.com/o365smtp/o365smtp/internal/emulator/inbox"
	"github.com/o365smtp/o365smtp/internal/emulator/smtpd"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// apiMessage is a message in the HTTP API's list.
type apiMessage struct {
	ID       string              `json:"id"`
	Mailbox  string              `json:"mailbox"`
	From     string              `json:"from"`
	To       []string            `json:"to"`
	Size     int                 `json:"size"`
	Received time.Time           `json:"received"`
	Subject  string              `json:"subject"`
	Headers  map[string][]string `json:"headers"`
	// For the web inbox.
	Transport string `json:"transport"`
	Reply     string `json:"reply"`    // the reply that accepted it
	Scenario  string `json:"scenario"` // the scenario in force when it came
}

// apiRoutes adds the HTTP API for received messages:
//
//	GET    /api/messages       the messages, oldest first, as a JSON array
//	GET    /api/messages/{id}  one message, raw (message/rfc822)
//	DELETE /api/messages       forget every message (and the refused attempts)
//
// and the routes of the web inbox (inboxRoutes).
func (s *Server) apiRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/messages", func(w http.ResponseWriter, r *http.Request) {
		msgs := s.Messages()
		out := make([]apiMessage, 0, len(msgs))
		dec := new(mime.WordDecoder)
		s.mu.Lock()
		scen := maps.Clone(s.inbox.scenarioOf)
		s.mu.Unlock()
		for _, m := range msgs {
			subject := m.Header.Get("Subject")
			if d, err := dec.DecodeHeader(subject); err == nil {
				subject = d
			}
			to := m.To
			if to == nil {
				to = []string{}
			}
			out = append(out, apiMessage{ID: m.ID, Mailbox: m.Mailbox, From: m.From, To: to, Size: len(m.Data),
				Received: m.Received.UTC(), Subject: subject, Headers: m.Header,
				Transport: m.Transport, Reply: acceptedReply(m), Scenario: scen[m.ID]})
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /api/messages/{id}", func(w http.ResponseWriter, r *http.Request) {
		m, ok := s.message(r.PathValue("id"))
		if !ok {
			http.Error(w, "message not found", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "message/rfc822")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", inbox.FrameCSP)
		w.Write(m.Data)
	})
	s.inboxRoutes(mux)
	mux.HandleFunc("DELETE /api/messages", func(w http.ResponseWriter, r *http.Request) {
		s.ClearMessages()
		w.WriteHeader(http.StatusNoContent)
	})
}

// acceptedReply is the reply that accepted m, the last line of its
// transcript.
func acceptedReply(m Message) string {
	if n := len(m.Transcript); n > 0 {
		return m.Transcript[n-1].Text
	}
	return ""
}

// apiView is a message as the inbox shows it.
type apiView struct {
	*inbox.Parsed
	ID         string                 `json:"id"`
	From       string                 `json:"from"`
	To         []string               `json:"to"`
	Subject    string                 `json:"subject"`
	Transport  string                 `json:"transport"`
	Reply      string                 `json:"reply"`
	Scenario   string                 `json:"scenario"`
	Transcript []smtpd.TranscriptLine `json:"transcript"`
	Claims     map[string]any         `json:"claims"`
}

// apiRefused is a refused attempt in the API.
type apiRefused struct {
	ID         string                 `json:"id"`
	Stage      string                 `json:"stage"`
	Reply      []string               `json:"reply"`
	Mailbox    string                 `json:"mailbox"`
	From       string                 `json:"from"`
	To         []string               `json:"to"`
	Subject    string                 `json:"subject"`
	Size       int                    `json:"size"`
	Headers    [][2]string            `json:"headers"`
	Time       time.Time              `json:"time"`
	Transport  string                 `json:"transport"`
	Scenario   string                 `json:"scenario"`
	Transcript []smtpd.TranscriptLine `json:"transcript"`
	Claims     map[string]any         `json:"claims"`
}

// inboxRoutes adds the routes of the web inbox:
//
//	GET  /api/messages/{id}/view      the message parsed: headers, text, attachments, transcript, token claims
//	GET  /api/messages/{id}/html      its HTML part (cid: images inlined), under inbox.FrameCSP; ?remote=1 lets remote images load
//	GET  /api/messages/{id}/parts/{n} leaf part n, decoded, as a download
//	GET  /api/refused                 the refused attempts, oldest first
//	GET  /api/scenario                the scenario in force and the scenarios
//	POST /api/scenario                apply one: {"name": "sp-not-registered"} (Content-Type: application/json)
//	GET  /api/events                  Server-Sent Events: a "data: N" event at every change
func (s *Server) inboxRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/messages/{id}/view", func(w http.ResponseWriter, r *http.Request) {
		m, ok := s.message(r.PathValue("id"))
		if !ok {
			http.Error(w, "message not found", http.StatusNotFound)
			return
		}
		p := inbox.Parse(m.Data)
		v := apiView{Parsed: p, ID: m.ID, From: m.From, To: m.To, Transport: m.Transport, Reply: acceptedReply(m),
			Transcript: m.Transcript, Claims: inbox.Claims(m.Token)}
		for _, h := range p.Headers {
			if strings.EqualFold(h[0], "Subject") {
				v.Subject = h[1]
				break
			}
		}
		s.mu.Lock()
		v.Scenario = s.inbox.scenarioOf[m.ID]
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, v)
	})
	mux.HandleFunc("GET /api/messages/{id}/html", func(w http.ResponseWriter, r *http.Request) {
		m, ok := s.message(r.PathValue("id"))
		if !ok {
			http.Error(w, "message not found", http.StatusNotFound)
			return
		}
		body, ct := inbox.Parse(m.Data).HTML()
		h := w.Header()
		h.Set("Content-Security-Policy", inbox.FrameCSP)
		if r.URL.Query().Get("remote") == "1" {
			h.Set("Content-Security-Policy", inbox.FrameCSPRemote)
		}
		h.Set("Content-Type", ct)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		w.Write(body)
	})
	mux.HandleFunc("GET /api/messages/{id}/parts/{n}", func(w http.ResponseWriter, r *http.Request) {
		m, ok := s.message(r.PathValue("id"))
		n, err := strconv.Atoi(r.PathValue("n"))
		if !ok || err != nil {
			http.Error(w, "message not found", http.StatusNotFound)
			return
		}
		pt, ok := inbox.Parse(m.Data).Part(n)
		if !ok {
			http.Error(w, "part not found", http.StatusNotFound)
			return
		}
		name := cmp.Or(pt.Filename, "part-"+strconv.Itoa(n))
		h := w.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
		h.Set("Content-Security-Policy", inbox.FrameCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		w.Write(pt.Body)
	})
	mux.HandleFunc("GET /api/refused", func(w http.ResponseWriter, r *http.Request) {
		rs := s.RefusedAttempts()
		out := make([]apiRefused, 0, len(rs))
		dec := new(mime.WordDecoder)
		for _, x := range rs {
			a := apiRefused{ID: x.ID, Stage: x.Stage.String(), Reply: x.Reply, Mailbox: x.Mailbox, From: x.From,
				To: append([]string{}, x.To...), Size: x.Size, Headers: [][2]string{}, Time: x.Time.UTC(), Transport: x.Transport,
				Scenario: x.Scenario, Transcript: x.Transcript, Claims: inbox.Claims(x.Token)}
			a.Subject = x.Header.Get("Subject")
			if d, err := dec.DecodeHeader(a.Subject); err == nil {
				a.Subject = d
			}
			for _, k := range slices.Sorted(maps.Keys(x.Header)) {
				for _, v := range x.Header[k] {
					a.Headers = append(a.Headers, [2]string{k, v})
				}
			}
			out = append(out, a)
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /api/scenario", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"current": s.CurrentScenario(), "scenarios": apiScenarios()})
	})
	mux.HandleFunc("POST /api/scenario", func(w http.ResponseWriter, r *http.Request) {
		// JSON only: a cross-origin page cannot send it without a preflight,
		// which is not answered.
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
			http.Error(w, `POST {"name": "SCENARIO"} with Content-Type: application/json`, http.StatusUnsupportedMediaType)
			return
		}
		var req struct {
			Name string `json:"name"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
			http.Error(w, "bad JSON: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := s.ApplyScenario(req.Name); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"current": s.CurrentScenario()})
	})
	mux.HandleFunc("GET /api/events", func(w http.ResponseWriter, r *http.Request) {
		fl, ok := w.(http.Flusher)
		if !ok {
			http.Error(w, "streaming unsupported", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		heartbeat := time.NewTicker(25 * time.Second)
		defer heartbeat.Stop()
		for {
			v, ch := s.changes()
			if _, err := fmt.Fprintf(w, "retry: 1000\ndata: %d\n\n", v); err != nil {
				return
			}
			fl.Flush()
			for changed := false; !changed; {
				select {
				case <-ch:
					changed = true
				case <-heartbeat.C:
					if _, err := io.WriteString(w, ": heartbeat\n\n"); err != nil {
						return
					}
					fl.Flush()
				case <-r.Context().Done():
					return
				case <-s.ctx.Done():
					return
				}
			}
		}
	})
}

func apiScenarios() []map[string]string {
	var out []map[string]string
	for _, sc := range Scenarios() {
		out = append(out, map[string]string{"name": sc.Name, "description": sc.Description})
	}
	return out
}
