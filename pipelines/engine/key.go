package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"sort"
)

// Components are everything a stage's cache key is computed from. Two runs with equal components
// produce the same outputs, so the key names the output directory.
type Components struct {
	Stage         string          `json:"stage"`
	Version       string          `json:"version"`
	ModuleVersion string          `json:"module_version"`
	Params        json.RawMessage `json:"params"` // canonical JSON: sorted keys, no spaces
	Inputs        []InputDigest   `json:"inputs"` // sorted by Name
	SchemaVersion string          `json:"schema_version"`
}

// InputDigest is the content digest of one input. Ref is recorded for people (it says where the
// input came from) but is not part of the key: only the content counts.
type InputDigest struct {
	Name   string `json:"name"`
	Ref    string `json:"ref"`
	Digest string `json:"digest"` // "sha256:<hex>"
}

// Key returns the SHA-256 of an unambiguous, length-prefixed encoding of the components.
func (c *Components) Key() string {
	h := sha256.New()
	put := func(s string) { putString(h, s) }
	put("groundcap-stage-key/v1")
	put(c.Stage)
	put(c.Version)
	put(c.ModuleVersion)
	put(string(c.Params))
	putUint(h, uint64(len(c.Inputs)))
	for _, in := range c.Inputs {
		put(in.Name)
		put(in.Digest)
	}
	put(c.SchemaVersion)
	return hex.EncodeToString(h.Sum(nil))
}

func putUint(h hash.Hash, n uint64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	h.Write(b[:])
}

func putString(h hash.Hash, s string) {
	putUint(h, uint64(len(s)))
	h.Write([]byte(s))
}

// CanonicalJSON encodes v as JSON with object keys sorted and numbers kept exactly as written.
func CanonicalJSON(v any) (json.RawMessage, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("engine: params: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, fmt.Errorf("engine: params: %w", err)
	}
	out, err := json.Marshal(generic) // maps marshal with sorted keys
	if err != nil {
		return nil, fmt.Errorf("engine: params: %w", err)
	}
	return out, nil
}

// FileEntry is one output file of a stage.
type FileEntry struct {
	Name   string `json:"name"` // relative to the stage output, slash-separated
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Rows   int64  `json:"rows"` // -1 when the file has no rows (a report, an image)
}

// digestFiles returns "sha256:<hex>" over the files' names (relative to prefix), sizes, hashes and
// row counts. With prefix "", every file counts; otherwise only prefix itself or files below it.
func digestFiles(files []FileEntry, prefix string) (string, int) {
	sel := make([]FileEntry, 0, len(files))
	for _, f := range files {
		switch {
		case prefix == "":
			sel = append(sel, f)
		case f.Name == prefix:
			f.Name = ""
			sel = append(sel, f)
		case len(f.Name) > len(prefix) && f.Name[:len(prefix)] == prefix && f.Name[len(prefix)] == '/':
			f.Name = f.Name[len(prefix)+1:]
			sel = append(sel, f)
		}
	}
	sort.Slice(sel, func(i, j int) bool { return sel[i].Name < sel[j].Name })
	h := sha256.New()
	putString(h, "groundcap-files/v1")
	putUint(h, uint64(len(sel)))
	for _, f := range sel {
		putString(h, f.Name)
		putUint(h, uint64(f.Size))
		putString(h, f.SHA256)
		putUint(h, uint64(f.Rows))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), len(sel)
}
