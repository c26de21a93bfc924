package inbox

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/textproto"
	"strings"
	"unicode/utf8"
)

// Bounds of the parser, for hostile mail.
const (
	maxDepth = 8
	maxParts = 200
)

// Part is a leaf part of a message.
type Part struct {
	Index       int    `json:"index"` // its number, for the API's /parts/{n}
	ContentType string `json:"contentType"`
	Filename    string `json:"filename,omitempty"`
	ContentID   string `json:"contentId,omitempty"`
	Inline      bool   `json:"inline"`
	Size        int    `json:"size"`
	Body        []byte `json:"-"` // decoded (base64, quoted-printable)
}

// Parsed is a message as the page shows it.
type Parsed struct {
	Headers     [][2]string `json:"headers"` // in order, RFC 2047 words decoded
	Text        string      `json:"text"`
	HasHTML     bool        `json:"hasHTML"`
	Attachments []Part      `json:"attachments"` // every leaf part but the text and HTML shown
	Problems    []string    `json:"problems,omitempty"`

	html        []byte
	htmlCharset string
	parts       []Part
}

// Parse parses a message as well as it can: malformed MIME gives what was
// parsed so far and a problem, never an error.
func Parse(raw []byte) *Parsed {
	p := &Parsed{Attachments: []Part{}}
	hdr, body, err := readHeader(raw)
	if err != nil {
		p.Problems = append(p.Problems, "header: "+err.Error())
	}
	dec := wordDecoder()
	for _, kv := range hdr {
		v := kv[1]
		if d, err := dec.DecodeHeader(v); err == nil {
			v = d
		}
		p.Headers = append(p.Headers, [2]string{kv[0], strings.ToValidUTF8(v, "\uFFFD")})
	}
	mh := textproto.MIMEHeader{}
	for _, kv := range hdr {
		mh.Add(kv[0], kv[1])
	}
	p.walk(mh, body, 0)
	textDone := false
	for _, pt := range p.parts {
		mt, params, _ := mime.ParseMediaType(pt.ContentType)
		switch {
		case !textDone && mt == "text/plain" && pt.Filename == "":
			p.Text, textDone = toUTF8(pt.Body, params["charset"]), true
		case !p.HasHTML && mt == "text/html" && pt.Filename == "":
			p.HasHTML, p.html, p.htmlCharset = true, pt.Body, params["charset"]
		default:
			p.Attachments = append(p.Attachments, pt)
		}
	}
	return p
}

// Part returns leaf part n, if any.
func (p *Parsed) Part(n int) (Part, bool) {
	for _, pt := range p.parts {
		if pt.Index == n {
			return pt, true
		}
	}
	return Part{}, false
}

// HTML returns the HTML part, with every cid: reference to an inline part
// replaced by a data: URI, and its Content-Type.
func (p *Parsed) HTML() ([]byte, string) {
	h := p.html
	for _, pt := range p.parts {
		if pt.ContentID == "" {
			continue
		}
		mt, _, _ := mime.ParseMediaType(pt.ContentType)
		if !strings.HasPrefix(mt, "image/") {
			continue
		}
		uri := "data:" + mt + ";base64," + base64.StdEncoding.EncodeToString(pt.Body)
		h = bytes.ReplaceAll(h, []byte("cid:"+pt.ContentID), []byte(uri))
	}
	ct := "text/html; charset=utf-8"
	if cs := strings.ToLower(p.htmlCharset); cs != "" && isToken(cs) {
		ct = "text/html; charset=" + cs
	}
	return h, ct
}

func isToken(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func (p *Parsed) walk(h textproto.MIMEHeader, body []byte, depth int) {
	if len(p.parts) >= maxParts {
		p.Problems = append(p.Problems, "too many parts: the rest left out")
		return
	}
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain; charset=us-ascii"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		p.Problems = append(p.Problems, "Content-Type "+quote(ct)+": "+err.Error())
		mt, params = "application/octet-stream", nil
	}
	if strings.HasPrefix(mt, "multipart/") {
		if depth >= maxDepth {
			p.Problems = append(p.Problems, "multipart nested too deep")
			return
		}
		if params["boundary"] == "" {
			p.Problems = append(p.Problems, mt+" without a boundary")
			p.leaf(h, "text/plain", body)
			return
		}
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				p.Problems = append(p.Problems, mt+": "+err.Error())
				return
			}
			b, err := io.ReadAll(part)
			if err != nil {
				p.Problems = append(p.Problems, mt+": "+err.Error())
				return
			}
			p.walk(part.Header, b, depth+1)
			if len(p.parts) >= maxParts {
				return
			}
		}
	}
	p.leaf(h, ct, body)
}

func (p *Parsed) leaf(h textproto.MIMEHeader, ct string, body []byte) {
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, body)
		d := make([]byte, base64.StdEncoding.DecodedLen(len(clean)))
		n, err := base64.StdEncoding.Decode(d, clean)
		if err != nil {
			p.Problems = append(p.Problems, "base64: "+err.Error())
		}
		body = d[:n]
	case "quoted-printable":
		d, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		if err != nil {
			p.Problems = append(p.Problems, "quoted-printable: "+err.Error())
		}
		body = d
	}
	pt := Part{Index: len(p.parts) + 1, ContentType: ct, Size: len(body), Body: body}
	disp, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	pt.Inline = disp != "attachment"
	dec := wordDecoder()
	name := dparams["filename"]
	if name == "" {
		_, cparams, _ := mime.ParseMediaType(ct)
		name = cparams["name"]
	}
	if d, err := dec.DecodeHeader(name); err == nil {
		name = d
	}
	pt.Filename = strings.ToValidUTF8(name, "\uFFFD")
	if cid := strings.TrimSpace(h.Get("Content-Id")); cid != "" {
		pt.ContentID = strings.TrimSuffix(strings.TrimPrefix(cid, "<"), ">")
	}
	if disp == "attachment" && pt.Filename == "" {
		pt.Filename = "attachment"
	}
	p.parts = append(p.parts, pt)
}

// readHeader splits raw into its header fields, in order and unfolded, and
// its body.
func readHeader(raw []byte) ([][2]string, []byte, error) {
	br := bufio.NewReader(bytes.NewReader(raw))
	var out [][2]string
	var n int
	for {
		line, err := br.ReadString('\n')
		n += len(line)
		trim := strings.TrimRight(line, "\r\n")
		if trim == "" {
			if err != nil && err != io.EOF {
				return out, nil, err
			}
			return out, raw[min(n, len(raw)):], nil
		}
		if (trim[0] == ' ' || trim[0] == '\t') && len(out) > 0 {
			out[len(out)-1][1] += " " + strings.TrimSpace(trim)
		} else if k, v, ok := strings.Cut(trim, ":"); ok && k != "" && !strings.ContainsAny(k, " \t") {
			out = append(out, [2]string{k, strings.TrimSpace(v)})
		} else {
			// Not a header: the message has no header we understand.
			return out, raw[n-len(line):], errNoHeader
		}
		if err != nil {
			return out, nil, nil
		}
	}
}

type parseError string

func (e parseError) Error() string { return string(e) }

const errNoHeader = parseError("a line that is no header field: the rest is the body")

func wordDecoder() *mime.WordDecoder {
	return &mime.WordDecoder{CharsetReader: func(charset string, r io.Reader) (io.Reader, error) {
		b, err := io.ReadAll(r)
		return strings.NewReader(toUTF8(b, charset)), err
	}}
}

// toUTF8 converts Latin-1 (and windows-1252, approximately) to UTF-8; other
// charsets are taken as UTF-8, with invalid bytes replaced.
func toUTF8(b []byte, charset string) string {
	switch strings.ToLower(charset) {
	case "iso-8859-1", "latin1", "windows-1252", "cp1252":
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r)
	}
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return `"` + s + `"`
}
