// Package inbox is the emulator's web inbox: the page that `o365smtp
// emulate` serves at / on its HTTPS address (static files embedded in the
// binary, no build step, no framework), and the message parsing behind the
// HTTP API's view of a message (package emulator's api.go).
//
// The page never puts message data into the DOM as markup: it builds
// elements with textContent. A message's HTML part is shown in an iframe
// with an empty sandbox attribute, from a response whose
// Content-Security-Policy (FrameCSP) lets nothing run and nothing load but
// data: images and inline styles.
package inbox

import (
	"embed"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// PageCSP is the page's own Content-Security-Policy.
const PageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// FrameCSP is the Content-Security-Policy of a message's HTML part: no
// script, no fetch, no remote image, inline styles only; FrameCSPRemote
// also lets images load from anywhere (the "load remote images" button).
const (
	FrameCSP       = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; base-uri 'none'; form-action 'none'; sandbox"
	FrameCSPRemote = "default-src 'none'; img-src data: http: https:; style-src 'unsafe-inline'; font-src data:; base-uri 'none'; form-action 'none'; sandbox"
)

// Files lists the embedded files the page loads on its first load, with
// their sizes.
func Files() map[string]int {
	out := map[string]int{}
	fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := static.ReadFile(p)
			out[strings.TrimPrefix(p, "static/")] = len(b)
		}
		return nil
	})
	return out
}

// Handler serves the page: index.html at /, the other files by name.
func Handler() http.Handler {
	sub, _ := fs.Sub(static, "static")
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", PageCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		if r.URL.Path == "/index.html" {
			http.Redirect(w, r, "/", http.StatusMovedPermanently)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// Claims decodes, without verifying it, the claims of an access token that
// the page shows: aud, roles, oid, appid, tid, iat and exp (with exp also
// as a time). It returns nil for no token or one that does not decode.
func Claims(token string) map[string]any {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var all map[string]any
	if json.Unmarshal(b, &all) != nil {
		return nil
	}
	out := map[string]any{}
	for _, k := range []string{"aud", "roles", "oid", "appid", "tid", "iat", "exp"} {
		if v, ok := all[k]; ok {
			out[k] = v
		}
	}
	if exp, ok := all["exp"].(float64); ok {
		out["expires"] = time.Unix(int64(exp), 0).UTC().Format(time.RFC3339)
	}
	return out
}
