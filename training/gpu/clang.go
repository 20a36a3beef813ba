package gpu

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
)

// clangNames are the clang binaries FindClang tries, newest first (sm_90 needs clang ≥ 16).
var clangNames = []string{"clang-22", "clang-21", "clang-20", "clang-19", "clang-18", "clang-17", "clang-16", "clang"}

// minClang is the oldest clang that knows sm_90.
const minClang = 16

var clangVersionRE = regexp.MustCompile(`clang version (\d+)\.(\d+)\.(\d+)`)

// FindClang returns the first clang on PATH recent enough to compile the kernels for sm_90,
// and its version ("19.1.7").
func FindClang() (path, version string, err error) {
	var tried []string
	for _, n := range clangNames {
		p, err := exec.LookPath(n)
		if err != nil {
			continue
		}
		out, err := exec.Command(p, "--version").Output()
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", p, err))
			continue
		}
		m := clangVersionRE.FindSubmatch(out)
		if m == nil {
			tried = append(tried, p+": no version")
			continue
		}
		if major, _ := strconv.Atoi(string(m[1])); major < minClang {
			tried = append(tried, fmt.Sprintf("%s: version %s.%s.%s < %d", p, m[1], m[2], m[3], minClang))
			continue
		}
		return p, fmt.Sprintf("%s.%s.%s", m[1], m[2], m[3]), nil
	}
	return "", "", fmt.Errorf("gpu: no clang ≥ %d on PATH (tried %v; %v)", minClang, clangNames, tried)
}

// ClangArgs are the flags CompileClang gives clang before the output and input files.
func ClangArgs(arch string) []string {
	return []string{"-x", "cuda", "--cuda-device-only", "--cuda-gpu-arch=" + arch, "-nocudainc", "-nocudalib",
		"-O3", "-ffp-contract=off", "-Wall", "-S"}
}

// CompileClang compiles the kernel sources with clang into PTX for arch ("sm_90"). extra are
// more flags (e.g. -fsyntax-only with a -include). A failure is a *CompileError with clang's
// output.
func CompileClang(clang, arch string, extra ...string) ([]byte, error) {
	src, err := Sources()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "groundcap-clang-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir) // scratch
	if err := os.WriteFile(filepath.Join(dir, HeaderName), []byte(src.Header), 0o644); err != nil {
		return nil, err
	}
	in, out := filepath.Join(dir, "kernels.cu"), filepath.Join(dir, "kernels.ptx")
	if err := os.WriteFile(in, []byte(src.Unit()), 0o644); err != nil {
		return nil, err
	}
	args := append(append(ClangArgs(arch), extra...), "-I", dir, "-o", out, in)
	var log bytes.Buffer
	cmd := exec.Command(clang, args...)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		return nil, &CompileError{Compiler: clang, Log: log.String(), Err: err}
	}
	if log.Len() > 0 {
		return nil, &CompileError{Compiler: clang, Log: log.String(), Err: fmt.Errorf("warnings")}
	}
	b, err := os.ReadFile(out)
	if os.IsNotExist(err) {
		return nil, nil // -fsyntax-only writes nothing
	}
	return b, err
}
