// Package config loads an experiment: one YAML file with the artifact root, the seed, the Beam
// runner options and one section per stage.
//
// Top-level keys are root, seed, runner and the names of stages. Each stage's section is decoded
// by the stage itself (Decode) into its typed parameter struct, whose zero values are its
// documented defaults; unknown keys anywhere are an error naming the key, the line and the file.
package config

import (
	"encoding"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is one experiment.
type Config struct {
	// File is the path the config was read from ("" when built in code).
	File string
	// Root is the artifact root location (URL or path); stage outputs go under it.
	Root string
	// Seed is the experiment seed; stages whose own seed is 0 use it.
	Seed int64
	// Runner holds Beam pipeline flags (runner, endpoint, environment_type, project, region, …)
	// applied before a Beam stage runs; command-line flags override them.
	Runner map[string]string
	// Sections holds each stage's raw section, by stage name.
	Sections map[string]*yaml.Node
	lines    map[string]int // line of each section's key
}

// Load reads and parses a config file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse parses config text; file names the source in errors.
func Parse(file string, data []byte) (*Config, error) {
	c := &Config{File: file, Runner: map[string]string{}, Sections: map[string]*yaml.Node{}, lines: map[string]int{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("config: %s: %v", file, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("config: %s: empty file", file)
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config: %s: line %d: want a mapping of keys", file, top.Line)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if seen[k.Value] {
			return nil, fmt.Errorf("config: %s: line %d: key %q given twice", file, k.Line, k.Value)
		}
		seen[k.Value] = true
		var err error
		switch k.Value {
		case "root":
			err = v.Decode(&c.Root)
		case "seed":
			err = v.Decode(&c.Seed)
		case "runner":
			err = v.Decode(&c.Runner)
		default:
			c.Sections[k.Value] = v
			c.lines[k.Value] = k.Line
		}
		if err != nil {
			return nil, fmt.Errorf("config: %s: line %d: %s: %v", file, v.Line, k.Value, err)
		}
	}
	if c.Root == "" {
		// A missing root is checked here so that every command fails the same way.
		return nil, fmt.Errorf("config: %s: root: missing (the artifact root, a path or URL)", file)
	}
	return c, nil
}

// CheckSections fails on a section that names no known stage.
func (c *Config) CheckSections(known []string) error {
	ok := map[string]bool{}
	for _, k := range known {
		ok[k] = true
	}
	var names []string
	for name := range c.Sections {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !ok[name] {
			return fmt.Errorf("config: %s: line %d: unknown key %q (want root, seed, runner or a stage: %v)",
				c.File, c.lines[name], name, known)
		}
	}
	return nil
}

// Decode decodes the section of stage into v, a pointer to its parameter struct holding the
// stage's defaults: keys the section gives replace them, the others stay. Unknown keys, values of
// the wrong type (a string for a number, a fraction for a whole number, a negative number for an
// unsigned one) and values an enumeration type rejects are errors naming the file, the line and
// the key path. A missing or empty section leaves v as it is.
func (c *Config) Decode(stage string, v any) error {
	n, ok := c.Sections[stage]
	if !ok || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return nil
	}
	if err := checkNode(n, reflect.TypeOf(v), stage); err != nil {
		return fmt.Errorf("config: %s: %v", c.File, err)
	}
	if err := n.Decode(v); err != nil {
		return fmt.Errorf("config: %s: %s: %v", c.File, stage, err)
	}
	return nil
}

// Locate turns an error from resolving or validating the parameters of stage into one that names
// the file and line of the offending key: the key path of a *FieldError in err is looked up in the
// stage's section (a key the section does not give holds its default; the section's line is
// named then). Other errors come back unchanged.
func (c *Config) Locate(stage string, err error) error {
	var fe *FieldError
	if err == nil || !errors.As(err, &fe) {
		return err
	}
	sec := c.Sections[stage]
	n, exact := find(sec, fe.Key)
	line := c.lines[stage]
	if n != nil && n != sec && n.Line > 0 {
		line = n.Line
	}
	return &LocatedError{File: c.File, Line: line, Stage: stage, Field: fe, Default: !exact}
}

// LocatedError is a *FieldError placed in the config file.
type LocatedError struct {
	File  string
	Line  int
	Stage string
	Field *FieldError
	// Default says the section does not give the key: the value is its default, Line the
	// section's (or the nearest enclosing key's) line.
	Default bool
}

// Error returns "config: FILE: line N: stage.key: value (want …)".
func (e *LocatedError) Error() string {
	f := e.Field
	note := ""
	if e.Default {
		note = "not set, the default; "
	}
	return fmt.Sprintf("config: %s: line %d: %s.%s: %s (%swant %s)", e.File, e.Line, e.Stage, f.Key, formatValue(f.Value), note, f.Want)
}

// Unwrap returns the field error.
func (e *LocatedError) Unwrap() error { return e.Field }

// find returns the value node of a key path ("a.b[2].c") under n, or the deepest node found on
// the way and false.
func find(n *yaml.Node, path string) (*yaml.Node, bool) {
	if n == nil {
		return nil, false
	}
	for _, seg := range splitPath(path) {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		var next *yaml.Node
		if i, err := strconv.Atoi(seg); err == nil && n.Kind == yaml.SequenceNode {
			if i >= 0 && i < len(n.Content) {
				next = n.Content[i]
			}
		} else if n.Kind == yaml.MappingNode {
			next = lookup(n, seg)
		}
		if next == nil {
			return n, false
		}
		n = next
	}
	return n, true
}

// lookup returns the value of key in a mapping, the mapping's own key first, then those it
// merges (<<), or nil.
func lookup(n *yaml.Node, key string) *yaml.Node {
	for j := 0; j+1 < len(n.Content); j += 2 {
		if !isMerge(n.Content[j]) && n.Content[j].Value == key {
			return n.Content[j+1]
		}
	}
	for j := 0; j+1 < len(n.Content); j += 2 {
		if isMerge(n.Content[j]) {
			for _, m := range mergeSources(n.Content[j+1]) {
				if v := lookup(m, key); v != nil {
					return v
				}
			}
		}
	}
	return nil
}

// isMerge reports whether a mapping key is YAML's merge key (<<).
func isMerge(k *yaml.Node) bool { return k.Kind == yaml.ScalarNode && k.Tag == "!!merge" }

// mergeSources returns the mappings a merge key's value names (one alias or a list of them).
func mergeSources(v *yaml.Node) []*yaml.Node {
	var out []*yaml.Node
	add := func(n *yaml.Node) {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		if n.Kind == yaml.MappingNode {
			out = append(out, n)
		}
	}
	if v.Kind == yaml.SequenceNode {
		for _, e := range v.Content {
			add(e)
		}
	} else {
		add(v)
	}
	return out
}

// splitPath splits "rows[2].label" into "rows", "2", "label".
func splitPath(path string) []string {
	f := strings.FieldsFunc(path, func(r rune) bool { return r == '.' || r == '[' || r == ']' })
	return f
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// checkNode walks a YAML node against the Go type it will be decoded into and reports the first
// mapping key that names no struct field, or the first value of the wrong type, with its line.
func checkNode(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		if n.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: %s: %s, want a single value", n.Line, path, kindName(n))
		}
		u := reflect.New(t).Interface().(encoding.TextUnmarshaler)
		if err := u.UnmarshalText([]byte(n.Value)); err != nil {
			return fmt.Errorf("line %d: %s: %q: %v", n.Line, path, n.Value, err)
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: %s: %s, want a mapping of keys", n.Line, path, kindName(n))
		}
		fields := map[string]reflect.Type{}
		collectFields(t, fields)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if isMerge(k) {
				for _, m := range mergeSources(n.Content[i+1]) {
					if err := checkNode(m, t, path); err != nil {
						return err
					}
				}
				continue
			}
			ft, ok := fields[k.Value]
			if !ok {
				names := make([]string, 0, len(fields))
				for name := range fields {
					names = append(names, name)
				}
				sort.Strings(names)
				return fmt.Errorf("line %d: unknown key %q in %s (known: %s)", k.Line, k.Value, path, strings.Join(names, ", "))
			}
			if err := checkNode(n.Content[i+1], ft, path+"."+k.Value); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return fmt.Errorf("line %d: %s: %s, want a list", n.Line, path, kindName(n))
		}
		for i, e := range n.Content {
			if err := checkNode(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: %s: %s, want a mapping of keys", n.Line, path, kindName(n))
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkNode(n.Content[i+1], t.Elem(), path+"."+n.Content[i].Value); err != nil {
				return err
			}
		}
	case reflect.Interface:
	default:
		if want := checkScalar(n, t); want != "" {
			return fmt.Errorf("line %d: %s: %s, want %s", n.Line, path, kindName(n), want)
		}
	}
	return nil
}

// checkScalar returns what a scalar field of type t wants when n does not fit it, or "".
func checkScalar(n *yaml.Node, t reflect.Type) string {
	if n.Kind != yaml.ScalarNode {
		switch t.Kind() {
		case reflect.Bool:
			return "true or false"
		case reflect.String:
			return "a string"
		}
		return "a number"
	}
	switch t.Kind() {
	case reflect.Bool:
		if n.Tag != "!!bool" {
			return "true or false"
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if _, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, t.Bits()); n.Tag != "!!int" || err != nil {
			return "a whole number"
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if _, err := strconv.ParseUint(strings.ReplaceAll(n.Value, "_", ""), 0, t.Bits()); n.Tag != "!!int" || err != nil {
			return "a whole number ≥ 0"
		}
	case reflect.Float32, reflect.Float64:
		if n.Tag != "!!int" && n.Tag != "!!float" {
			return "a number"
		}
	}
	return ""
}

// kindName describes a node for a type error: a scalar by its value and type, others by kind.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.Tag {
	case "!!str":
		return fmt.Sprintf("%q (a string)", n.Value)
	case "!!int":
		return n.Value + " (a whole number)"
	case "!!float":
		return n.Value + " (a fraction)"
	case "!!bool":
		return n.Value + " (a boolean)"
	}
	return fmt.Sprintf("%q", n.Value)
}

// collectFields maps the YAML names of t's fields (as yaml.v3 names them) to their types.
func collectFields(t reflect.Type, out map[string]reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, inline, skip := yamlName(f)
		if skip {
			continue
		}
		if inline {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				collectFields(ft, out)
			}
			continue
		}
		out[name] = f.Type
	}
}
