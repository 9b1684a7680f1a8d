package httpapi

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// rawErrorCode finds the code in a hand-written JSON error body.
var rawErrorCode = regexp.MustCompile(`"error"\s*:\s*"([a-z][a-z0-9_]*)"`)

// use is one place in the code that builds a client-facing error.
type use struct {
	code   string
	status int
	at     string
}

// Every error a function can return is built with NewError, Wrap or an Error{}
// literal; this scans all non-test code of shared/ and functions/ for them and
// requires each (code, status) to be in Codes, and every entry of Codes to be used.
func TestCodesTableIsExactlyTheCodesTheCodeReturns(t *testing.T) {
	uses, err := scanErrorUses("../..", "shared", "functions")
	if err != nil {
		t.Fatal(err)
	}
	if len(uses) < 10 {
		t.Fatalf("found only %d error constructions; the scanner is broken", len(uses))
	}
	seen := map[string]bool{}
	for _, u := range uses {
		seen[u.code] = true
		c, ok := Codes[u.code]
		switch {
		case !ok:
			t.Errorf("%s: code %q is not in httpapi.Codes (add it there and to docs/openapi.yaml)", u.at, u.code)
		case u.status != 0 && c.Status != u.status:
			t.Errorf("%s: code %q with status %d, the table says %d", u.at, u.code, u.status, c.Status)
		}
	}
	for code, c := range Codes {
		if !seen[code] {
			t.Errorf("httpapi.Codes lists %q (%d) but no code returns it", code, c.Status)
		}
		if c.Status < 400 || c.Meaning == "" {
			t.Errorf("httpapi.Codes[%q] = %+v: an error status and a meaning are required", code, c)
		}
	}
}

// The scanner itself: constants are resolved across packages, non-constant codes
// are refused, and test-only packages are ignored.
func TestScanErrorUsesResolvesConstantsAndRefusesVariables(t *testing.T) {
	dir := t.TempDir()
	write := func(p, src string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("shared/a/a.go", `package a
const CodeX = "x_code"
func f() { _ = httpapi.NewError(http.StatusTeapot, CodeX, "m") }`)
	write("shared/b/b.go", `package b
func g() { _ = httpapi.Wrap(http.StatusBadGateway, a.CodeX, "m", nil); _ = &httpapi.Error{Status: http.StatusGone, Code: "y_code"} }`)
	write("shared/b/raw.go", `package b
const body = `+"`"+`{"error":"raw_code","message":"m"}`+"`"+`
`)
	write("shared/b/b_test.go", `package b
func h() { _ = httpapi.NewError(http.StatusOK, "ignored_in_tests", "m") }`)
	write("shared/btest/fake.go", `package btest
func h() { _ = httpapi.NewError(http.StatusOK, "ignored_in_fakes", "m") }`)
	uses, err := scanErrorUses(dir, "shared")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, u := range uses {
		got[fmt.Sprintf("%s/%d", u.code, u.status)]++
	}
	want := map[string]int{"x_code/418": 1, "x_code/502": 1, "y_code/410": 1, "raw_code/0": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("scanned %v, want %v", got, want)
	}
	write("shared/c/c.go", `package c
func k(code string) { _ = httpapi.NewError(http.StatusTeapot, code, "m") }`)
	if _, err := scanErrorUses(dir, "shared"); err == nil || !strings.Contains(err.Error(), "not a constant") {
		t.Fatalf("a variable code must be refused, got %v", err)
	}
}

// scanErrorUses parses every non-test Go file under root/dirs (skipping packages
// whose directory ends in "test": fakes and harnesses) and returns each
// NewError/Wrap call and Error{} literal with its resolved code and status.
func scanErrorUses(root string, dirs ...string) ([]use, error) {
	statuses, err := httpStatuses()
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	type file struct {
		pkg string // package name
		dir string
		f   *ast.File
	}
	var files []file
	consts := map[string]map[string]string{} // package name → const → string value
	for _, d := range dirs {
		err := filepath.WalkDir(filepath.Join(root, d), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() {
				if strings.HasSuffix(e.Name(), "test") || e.Name() == "testdata" {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, p, nil, 0)
			if err != nil {
				return err
			}
			name := f.Name.Name
			files = append(files, file{pkg: name, dir: filepath.Dir(p), f: f})
			if consts[name] == nil {
				consts[name] = map[string]string{}
			}
			for _, decl := range f.Decls {
				g, ok := decl.(*ast.GenDecl)
				if !ok || g.Tok != token.CONST {
					continue
				}
				for _, s := range g.Specs {
					vs := s.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if i < len(vs.Values) {
							if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
								consts[name][n.Name], _ = strconv.Unquote(lit.Value)
							}
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	var uses []use
	var bad []string
	for _, fl := range files {
		inHTTPAPI := fl.pkg == "httpapi"
		// isAPI reports whether fun names httpapi.<name> (or <name> inside httpapi).
		isAPI := func(x ast.Expr, name string) bool {
			switch v := x.(type) {
			case *ast.SelectorExpr:
				id, ok := v.X.(*ast.Ident)
				return ok && id.Name == "httpapi" && v.Sel.Name == name
			case *ast.Ident:
				return inHTTPAPI && v.Name == name
			}
			return false
		}
		str := func(x ast.Expr) (string, bool) {
			switch v := x.(type) {
			case *ast.BasicLit:
				s, err := strconv.Unquote(v.Value)
				return s, err == nil && v.Kind == token.STRING
			case *ast.Ident:
				s, ok := consts[fl.pkg][v.Name]
				return s, ok
			case *ast.SelectorExpr:
				if id, ok := v.X.(*ast.Ident); ok {
					s, ok := consts[id.Name][v.Sel.Name]
					return s, ok
				}
			}
			return "", false
		}
		status := func(x ast.Expr) (int, bool) {
			if s, ok := x.(*ast.SelectorExpr); ok {
				if id, ok := s.X.(*ast.Ident); ok && id.Name == "http" {
					n, ok := statuses[s.Sel.Name]
					return n, ok
				}
			}
			if l, ok := x.(*ast.BasicLit); ok && l.Kind == token.INT {
				n, err := strconv.Atoi(l.Value)
				return n, err == nil
			}
			return 0, false
		}
		record := func(pos token.Pos, sx, cx ast.Expr) {
			at := fset.Position(pos).String()
			code, ok1 := str(cx)
			st, ok2 := status(sx)
			if !ok1 || !ok2 {
				bad = append(bad, at+": error code or status is not a constant")
				return
			}
			uses = append(uses, use{code: code, status: st, at: at})
		}
		ast.Inspect(fl.f, func(n ast.Node) bool {
			switch v := n.(type) {
			case *ast.BasicLit:
				// A hand-written error body ({"error":"code",...}) is a code too; its
				// status is not known here (0), only its presence in the table is checked.
				if v.Kind == token.STRING {
					if lit, err := strconv.Unquote(v.Value); err == nil {
						for _, m := range rawErrorCode.FindAllStringSubmatch(lit, -1) {
							uses = append(uses, use{code: m[1], at: fset.Position(v.Pos()).String()})
						}
					}
				}
			case *ast.FuncDecl:
				// The constructors themselves pass their parameters through.
				return !(inHTTPAPI && v.Recv == nil && (v.Name.Name == "NewError" || v.Name.Name == "Wrap"))
			case *ast.CallExpr:
				if (isAPI(v.Fun, "NewError") || isAPI(v.Fun, "Wrap")) && len(v.Args) >= 3 {
					record(v.Pos(), v.Args[0], v.Args[1])
				}
			case *ast.CompositeLit:
				if v.Type != nil && isAPI(v.Type, "Error") {
					var sx, cx ast.Expr
					for _, el := range v.Elts {
						if kv, ok := el.(*ast.KeyValueExpr); ok {
							switch k, _ := kv.Key.(*ast.Ident); {
							case k != nil && k.Name == "Status":
								sx = kv.Value
							case k != nil && k.Name == "Code":
								cx = kv.Value
							}
						}
					}
					if sx != nil || cx != nil {
						record(v.Pos(), sx, cx)
					}
				}
			}
			return true
		})
	}
	if len(bad) > 0 {
		return uses, fmt.Errorf("%s", strings.Join(bad, "\n"))
	}
	return uses, nil
}

// httpStatuses reads the Status* constants of net/http from GOROOT.
func httpStatuses() (map[string]int, error) {
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(runtime.GOROOT(), "src", "net", "http", "status.go"), nil, 0)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, decl := range f.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
						out[n.Name], _ = strconv.Atoi(lit.Value)
					}
				}
			}
		}
	}
	if out["StatusTeapot"] != 418 {
		return nil, fmt.Errorf("net/http status constants not found in GOROOT")
	}
	return out, nil
}
