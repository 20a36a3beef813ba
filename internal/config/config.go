// Package config loads an experiment: one YAML file with the artifact root, the seed, the Beam
// runner options and one section per stage.
//
// Top-level keys are root, seed, runner and the names of stages. Each stage's section is decoded
// by the stage itself (Decode) into its typed parameter struct, whose zero values are its
// documented defaults; unknown keys anywhere are an error naming the key, the line and the file.
package config

import (
	"fmt"
	"os"
	"reflect"
	"sort"
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

// Decode decodes the section of stage into v (a pointer to its parameter struct), rejecting
// unknown keys. A missing section leaves v as it is (its defaults).
func (c *Config) Decode(stage string, v any) error {
	n, ok := c.Sections[stage]
	if !ok || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return nil
	}
	if err := checkKnown(n, reflect.TypeOf(v), stage); err != nil {
		return fmt.Errorf("config: %s: %v", c.File, err)
	}
	if err := n.Decode(v); err != nil {
		return fmt.Errorf("config: %s: %s: %v", c.File, stage, err)
	}
	return nil
}

// checkKnown walks a YAML node against the Go type it will be decoded into and reports the first
// mapping key that names no struct field, with its line.
func checkKnown(n *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil // the decoder reports the type mismatch
		}
		fields := map[string]reflect.Type{}
		collectFields(t, fields)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := fields[k.Value]
			if !ok {
				names := make([]string, 0, len(fields))
				for name := range fields {
					names = append(names, name)
				}
				sort.Strings(names)
				return fmt.Errorf("line %d: unknown key %q in %s (known: %s)", k.Line, k.Value, path, strings.Join(names, ", "))
			}
			if err := checkKnown(n.Content[i+1], ft, path+"."+k.Value); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if n.Kind == yaml.SequenceNode {
			for i, e := range n.Content {
				if err := checkKnown(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	case reflect.Map:
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if err := checkKnown(n.Content[i+1], t.Elem(), path+"."+n.Content[i].Value); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// collectFields maps the YAML names of t's fields (as yaml.v3 names them) to their types.
func collectFields(t reflect.Type, out map[string]reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				collectFields(ft, out)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
}
