package gpu

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"
)

//go:embed kernels/gpu.h kernels/*.cu
var kernelFS embed.FS

// HeaderName is the name under which kernel files include the portability header.
const HeaderName = "gpu.h"

// ParamKind is the kind of a kernel parameter.
type ParamKind int

// Parameter kinds.
const (
	// KindPtr is a pointer to device memory (any element type).
	KindPtr ParamKind = iota
	// KindInt is a C int (32 bits).
	KindInt
	// KindInt64 is a C long long.
	KindInt64
	// KindFloat is a C float.
	KindFloat
)

// String names the kind.
func (k ParamKind) String() string {
	return [...]string{"pointer", "int", "long long", "float"}[k]
}

// Param is one kernel parameter.
type Param struct {
	// Type is the C type as written ("const float*").
	Type string
	// Name is the parameter's name.
	Name string
	// Kind is its kind.
	Kind ParamKind
}

// Kernel is a kernel's signature, parsed from its source.
type Kernel struct {
	// Name is the kernel's name (its symbol).
	Name string
	// File is the source file it is defined in.
	File string
	// Params are its parameters in order.
	Params []Param
}

// Source is the kernels' source text: the header, the kernel files in name order, the
// kernels they define, and a hash of all of it (the key of compiled artefacts).
type Source struct {
	// Header is kernels/gpu.h.
	Header string
	// Files are the .cu files: name and text, by name.
	Files []File
	// Kernels are the kernels by name.
	Kernels map[string]Kernel
	// Hash is the hex SHA-256 of the header and files (names and texts).
	Hash string
}

// File is one kernel source file.
type File struct {
	Name, Text string
}

// Unit returns the files as one translation unit (their texts in order; each includes the
// header, which has an include guard).
func (s *Source) Unit() string {
	var b strings.Builder
	for _, f := range s.Files {
		fmt.Fprintf(&b, "/* ---- %s ---- */\n%s\n", f.Name, f.Text)
	}
	return b.String()
}

// Names returns the kernel names, sorted.
func (s *Source) Names() []string {
	out := make([]string, 0, len(s.Kernels))
	for n := range s.Kernels {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

var (
	sourceOnce sync.Once
	source     *Source
	sourceErr  error
)

// Sources returns the embedded kernel sources, parsed once.
func Sources() (*Source, error) {
	sourceOnce.Do(func() {
		source, sourceErr = loadSource(kernelFS, "kernels")
	})
	return source, sourceErr
}

// kernelRE matches a kernel declaration: KERNEL(name)(parameters).
var kernelRE = regexp.MustCompile(`KERNEL\((\w+)\)\s*\(([^)]*)\)`)

// loadSource reads the header and the .cu files of dir in fsys and parses the kernels.
func loadSource(fsys fs.FS, dir string) (*Source, error) {
	h, err := fs.ReadFile(fsys, path.Join(dir, HeaderName))
	if err != nil {
		return nil, fmt.Errorf("gpu: kernel header: %w", err)
	}
	s := &Source{Header: string(h), Kernels: map[string]Kernel{}}
	names, err := fs.Glob(fsys, path.Join(dir, "*.cu"))
	if err != nil {
		return nil, fmt.Errorf("gpu: kernel sources: %w", err)
	}
	sort.Strings(names)
	sum := sha256.New()
	fmt.Fprintf(sum, "%s\x00%d\x00%s", HeaderName, len(h), h)
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("gpu: kernel sources: %w", err)
		}
		name := path.Base(n)
		s.Files = append(s.Files, File{Name: name, Text: string(b)})
		fmt.Fprintf(sum, "%s\x00%d\x00%s", name, len(b), b)
		for _, m := range kernelRE.FindAllStringSubmatch(string(b), -1) {
			k, err := parseKernel(name, m[1], m[2])
			if err != nil {
				return nil, err
			}
			if old, ok := s.Kernels[k.Name]; ok {
				return nil, fmt.Errorf("gpu: kernel %s defined in %s and %s", k.Name, old.File, name)
			}
			s.Kernels[k.Name] = k
		}
	}
	if len(s.Kernels) == 0 {
		return nil, fmt.Errorf("gpu: no kernels in %s", dir)
	}
	s.Hash = hex.EncodeToString(sum.Sum(nil))
	return s, nil
}

// parseKernel parses the parameter list of kernel name in file.
func parseKernel(file, name, params string) (Kernel, error) {
	k := Kernel{Name: name, File: file}
	for _, p := range strings.Split(params, ",") {
		p = strings.Join(strings.Fields(p), " ")
		if p == "" {
			return k, fmt.Errorf("gpu: %s: kernel %s has an empty parameter", file, name)
		}
		i := strings.LastIndexAny(p, " *")
		if i < 0 || i == len(p)-1 {
			return k, fmt.Errorf("gpu: %s: kernel %s: cannot parse parameter %q", file, name, p)
		}
		typ, pname := strings.TrimSpace(p[:i+1]), p[i+1:]
		var kind ParamKind
		switch {
		case strings.Contains(typ, "*"):
			kind = KindPtr
		case typ == "int":
			kind = KindInt
		case typ == "long long":
			kind = KindInt64
		case typ == "float":
			kind = KindFloat
		default:
			return k, fmt.Errorf("gpu: %s: kernel %s: parameter %q has type %q (want a pointer, int, long long or float)", file, name, pname, typ)
		}
		k.Params = append(k.Params, Param{Type: typ, Name: pname, Kind: kind})
	}
	return k, nil
}
