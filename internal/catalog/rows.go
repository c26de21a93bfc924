package catalog

import (
	"fmt"
	"strconv"
	"strings"
)

// replyRow is one form of SMTP reply in the catalogue.
//
// A row matches a reply when all of its patterns do. When several rows
// match, the most specific wins, comparing in this order: the enhanced code
// pattern (exact beats a range, which beats "X.Y.*", which beats none), the
// length of the matched text substring (a row with text beats one without),
// the stage set (restricted beats any), the reply code (exact beats "4xx",
// which beats any). A tie goes to the earlier row.
type replyRow struct {
	// stages is a space-separated set of the stages where the row applies
	// (see ClassifyReply); "" means any stage.
	stages string
	// code is "535", or a class "4xx" / "5xx"; "" means any code of the
	// enhanced code's class (or any code at all when enhanced is "").
	code string
	// enhanced is "5.7.3" (exact), "5.7.501-503" (a range of the last
	// part), "5.1.*" (any last part), or "" (any enhanced code, or none).
	enhanced string
	// text: the row matches when the reply text contains any of these,
	// compared as matchKey does (case, quotes and bracketed parts ignored).
	// nil matches any text.
	text []string
	// kind, retry and hint are the classification.
	kind  string
	retry Retry
	hint  string
	// doc describes the cause in one sentence, for the README.
	doc string
	// examples are replies as Exchange sends them ("535 5.7.3 ..."); the
	// tests check that each one selects this row, and the fuzz seeds use
	// them. The first one is shown in the README.
	examples []string
	// fallback marks the rows for replies nothing else matches.
	fallback bool
}

// replyMatcher is a compiled replyRow.
type replyMatcher struct {
	stages         []string
	codeLo, codeHi int
	codeScore      int
	class, subject int
	detailLo       int
	detailHi       int
	enhScore       int // 0 any, 1 X.Y.*, 2 range, 3 exact
	text           []string
}

var replyMatchers = compileReplyRows(replyRows)

func compileReplyRows(rows []replyRow) []replyMatcher {
	ms := make([]replyMatcher, len(rows))
	for i, r := range rows {
		m, err := compileReplyRow(r)
		if err != nil {
			panic(fmt.Sprintf("catalog: reply row %d (%s %s): %v", i, r.code, r.enhanced, err))
		}
		ms[i] = m
	}
	return ms
}

func compileReplyRow(r replyRow) (replyMatcher, error) {
	var m replyMatcher
	m.stages = strings.Fields(r.stages)
	for _, s := range m.stages {
		if !isStage(s) {
			return m, fmt.Errorf("unknown stage %q", s)
		}
	}
	if r.enhanced != "" {
		parts := strings.Split(r.enhanced, ".")
		if len(parts) != 3 {
			return m, fmt.Errorf("bad enhanced pattern %q", r.enhanced)
		}
		var err error
		if m.class, err = strconv.Atoi(parts[0]); err != nil || (m.class != 4 && m.class != 5) {
			return m, fmt.Errorf("bad class in %q", r.enhanced)
		}
		if m.subject, err = strconv.Atoi(parts[1]); err != nil {
			return m, fmt.Errorf("bad subject in %q", r.enhanced)
		}
		switch d := parts[2]; {
		case d == "*":
			m.enhScore, m.detailLo, m.detailHi = 1, 0, 999
		case strings.Contains(d, "-"):
			lo, hi, _ := strings.Cut(d, "-")
			m.enhScore = 2
			m.detailLo, err = strconv.Atoi(lo)
			if err == nil {
				m.detailHi, err = strconv.Atoi(hi)
			}
			if err != nil || m.detailLo > m.detailHi {
				return m, fmt.Errorf("bad range in %q", r.enhanced)
			}
		default:
			m.enhScore = 3
			if m.detailLo, err = strconv.Atoi(d); err != nil {
				return m, fmt.Errorf("bad detail in %q", r.enhanced)
			}
			m.detailHi = m.detailLo
		}
	}
	switch c := r.code; {
	case c == "" && m.enhScore == 0:
		m.codeLo, m.codeHi = -1<<62, 1<<62
	case c == "":
		m.codeLo, m.codeHi = m.class*100, m.class*100+99
	case len(c) == 3 && strings.HasSuffix(c, "xx") && (c[0] == '4' || c[0] == '5'):
		m.codeLo, m.codeHi, m.codeScore = int(c[0]-'0')*100, int(c[0]-'0')*100+99, 1
	default:
		n, err := strconv.Atoi(c)
		if err != nil || n < 200 || n > 599 {
			return m, fmt.Errorf("bad code %q", c)
		}
		m.codeLo, m.codeHi, m.codeScore = n, n, 2
	}
	if m.enhScore > 0 && m.codeScore > 0 && m.codeLo/100 != m.class {
		return m, fmt.Errorf("code %s and enhanced code %s disagree", r.code, r.enhanced)
	}
	for _, t := range r.text {
		k := matchKey(t)
		if k == "" {
			return m, fmt.Errorf("empty text pattern %q", t)
		}
		m.text = append(m.text, k)
	}
	if r.text != nil && len(m.text) == 0 {
		return m, fmt.Errorf("empty text list")
	}
	return m, nil
}

func isStage(s string) bool {
	switch s {
	case StageConnect, StageEHLO, StageStartTLS, StageAuth, StageMail, StageRcpt, StageData, StageDataEnd:
		return true
	}
	return false
}

// parseEnhanced splits "5.7.3" into its numbers; ok is false for "".
func parseEnhanced(enh string) (class, subject, detail int, ok bool) {
	a, rest, ok1 := strings.Cut(enh, ".")
	b, c, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 {
		return 0, 0, 0, false
	}
	var e1, e2, e3 error
	class, e1 = strconv.Atoi(a)
	subject, e2 = strconv.Atoi(b)
	detail, e3 = strconv.Atoi(c)
	return class, subject, detail, e1 == nil && e2 == nil && e3 == nil
}

// matchReply returns the index in replyRows of the most specific row that
// matches. key is matchKey of the reply text. There is always a match: the
// last rows match anything.
func matchReply(stage string, code int, enh, key string) int {
	class, subject, detail, hasEnh := parseEnhanced(enh)
	best, bestScore := -1, [4]int{}
	for i := range replyMatchers {
		m := &replyMatchers[i]
		if code < m.codeLo || code > m.codeHi {
			continue
		}
		if m.enhScore > 0 && (!hasEnh || class != m.class || subject != m.subject || detail < m.detailLo || detail > m.detailHi) {
			continue
		}
		stageScore := 0
		if len(m.stages) > 0 {
			found := false
			for _, s := range m.stages {
				found = found || s == stage
			}
			if !found {
				continue
			}
			stageScore = 1
		}
		textScore := 0
		if m.text != nil {
			for _, t := range m.text {
				if len(t) > textScore && strings.Contains(key, t) {
					textScore = len(t)
				}
			}
			if textScore == 0 {
				continue
			}
		}
		score := [4]int{m.enhScore, textScore, stageScore, m.codeScore}
		if best < 0 || greater(score, bestScore) {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		panic("catalog: no catch-all reply row")
	}
	return best
}

func greater(a, b [4]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return false
}
