package config

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
)

// Key returns the parameters of v (a stage's resolved parameter struct) that enter the stage's
// cache key, by their config keys: every field the config can set (a yaml name, embedded structs
// flattened as yaml.v3 inlines them) except those tagged key:"-" (input references, which enter
// the key by their content digest, and knobs that never change the output) and those tagged
// key:"omitempty" while they hold their type's zero value (a setting that only some instances
// use, so that adding it leaves the keys of the others unchanged). The engine encodes the result
// as canonical JSON.
func Key(v any) map[string]any {
	out := map[string]any{}
	keyFields(reflect.ValueOf(v), out)
	return out
}

var textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
var jsonMarshaler = reflect.TypeFor[json.Marshaler]()

func keyFields(v reflect.Value, out map[string]any) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("key")
		if !f.IsExported() || tag == "-" || tag == "omitempty" && v.Field(i).IsZero() {
			continue
		}
		name, inline, skip := yamlName(f)
		if skip {
			continue
		}
		if inline {
			keyFields(v.Field(i), out)
			continue
		}
		out[name] = keyValue(v.Field(i))
	}
}

// keyValue converts a field value: structs become maps of their key fields, slices and pointers
// are followed, everything else is kept for JSON.
func keyValue(v reflect.Value) any {
	t := v.Type()
	if t.Implements(textMarshaler) || t.Implements(jsonMarshaler) {
		return v.Interface()
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return keyValue(v.Elem())
	case reflect.Struct:
		m := map[string]any{}
		keyFields(v, m)
		return m
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && v.IsNil() {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = keyValue(v.Index(i))
		}
		return out
	}
	return v.Interface()
}

// yamlName returns a field's key as yaml.v3 names it, whether it is inlined, and whether the
// config cannot set it (yaml:"-").
func yamlName(f reflect.StructField) (name string, inline, skip bool) {
	tag := f.Tag.Get("yaml")
	name, opts, _ := strings.Cut(tag, ",")
	if name == "-" {
		return "", false, true
	}
	if strings.Contains(opts, "inline") {
		return "", true, false
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name, false, false
}
