package o365smtp

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/o365smtp/o365smtp/internal/catalog"
)

// TestLocalIDsExist: every catalogue id the package names exists (an unknown
// one would panic at the failure it reports), and every local row is used.
func TestLocalIDsExist(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, d := range catalog.LocalDocs() {
		known[d.ID] = false
	}
	idRE := regexp.MustCompile(`^(config|env|message|sender|token|smtp|tls|verify|graph)\.[a-z0-9_]+$`)
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil || !idRE.MatchString(s) {
				return true
			}
			if _, ok := known[s]; !ok {
				t.Errorf("%s: %q is not a row of the catalogue's local failures", fset.Position(lit.Pos()), s)
			}
			known[s] = true
			return true
		})
	}
	for id, used := range known {
		if !used {
			t.Errorf("local row %q is never reported", id)
		}
	}
}
