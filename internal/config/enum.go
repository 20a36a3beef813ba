package config

import (
	"fmt"
	"slices"
	"strings"
)

// ParseEnum sets *dst to the value b names when it is one of allowed (include "" where an
// empty value is allowed), for the UnmarshalText of a string enumeration; otherwise it returns
// `<what> "<b>" (want <OneOf(allowed)>)`, what being such as "blas: unknown backend".
func ParseEnum[T ~string](dst *T, b []byte, what string, allowed ...T) error {
	if v := T(b); slices.Contains(allowed, v) {
		*dst = v
		return nil
	}
	return fmt.Errorf("%s %q (want %s)", what, b, OneOf(allowed...))
}

// CheckEnum returns a *FieldError for key when v is not one of allowed, wanting
// OneOf(allowed); the Validate of an enumeration set in code rather than parsed.
func CheckEnum[T ~string](key string, v T, allowed ...T) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	return Invalid(key, v, OneOf(allowed...))
}

// OneOf lists the non-empty values as error messages want them: "a", "a or b", "a, b or c".
func OneOf[T ~string](values ...T) string {
	var names []string
	for _, v := range values {
		if v != "" {
			names = append(names, string(v))
		}
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
