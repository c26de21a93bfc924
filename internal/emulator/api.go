package emulator

import (
	"mime"
	"net/http"
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
}

// apiRoutes adds the HTTP API for received messages:
//
//	GET    /api/messages       the messages, oldest first, as a JSON array
//	GET    /api/messages/{id}  one message, raw (message/rfc822)
//	DELETE /api/messages       forget every message
func (s *Server) apiRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/messages", func(w http.ResponseWriter, r *http.Request) {
		msgs := s.Messages()
		out := make([]apiMessage, 0, len(msgs))
		dec := new(mime.WordDecoder)
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
				Received: m.Received.UTC(), Subject: subject, Headers: m.Header})
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
		w.Write(m.Data)
	})
	mux.HandleFunc("DELETE /api/messages", func(w http.ResponseWriter, r *http.Request) {
		s.ClearMessages()
		w.WriteHeader(http.StatusNoContent)
	})
}
