package features

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestErrorsAreDataErrors checks that every Err* value of this package declared as a
// composite of DataError classifies as one through wrapping, and that no other Err* value
// exists but the ones listed here as not about a record: a new error made with errors.New
// fails this test until it is either a DataError or listed.
func TestErrorsAreDataErrors(t *testing.T) {
	notRecords := map[string]bool{"ErrNotFound": true} // a lookup miss, not a bad record
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var data []string
	for _, path := range names {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Err") || i >= len(vs.Values) {
						continue
					}
					u, ok := vs.Values[i].(*ast.UnaryExpr)
					var lit *ast.CompositeLit
					if ok {
						lit, _ = u.X.(*ast.CompositeLit)
					}
					if lit != nil && fmt.Sprint(lit.Type) == "DataError" {
						data = append(data, name.Name)
					} else if !notRecords[name.Name] {
						t.Errorf("%s: %s is neither a *DataError nor listed as an error that is not about a record", fset.Position(name.Pos()), name.Name)
					}
				}
			}
		}
	}
	if len(data) < 15 {
		t.Errorf("found %d DataError values (%v), want at least the 15 record errors", len(data), data)
	}
	values := map[string]error{
		"ErrFields": ErrFields, "ErrImageID": ErrImageID, "ErrNumber": ErrNumber, "ErrBase64": ErrBase64,
		"ErrLength": ErrLength, "ErrNumBoxes": ErrNumBoxes, "ErrDim": ErrDim, "ErrNonFinite": ErrNonFinite,
		"ErrBox": ErrBox, "ErrMissingKey": ErrMissingKey, "ErrMissingFile": ErrMissingFile, "ErrNPY": ErrNPY,
		"ErrDuplicate": ErrDuplicate, "ErrFloat16Range": ErrFloat16Range, "ErrTooLarge": ErrTooLarge,
	}
	for name, e := range values {
		w := fmt.Errorf("record 7: %w: detail", e)
		if !IsDataError(w) || !errors.Is(w, e) {
			t.Errorf("%s wrapped: IsDataError %v, errors.Is %v; want both", name, IsDataError(w), errors.Is(w, e))
		}
	}
	for _, e := range []error{ErrNotFound, errors.New("disk full"), fmt.Errorf("read: %w", errors.New("EIO")), nil} {
		if IsDataError(e) {
			t.Errorf("IsDataError(%v) = true, want false", e)
		}
	}
}
