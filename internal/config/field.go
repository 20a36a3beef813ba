package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// FieldError is a parameter value outside what its key allows, named by its config key. Every
// Validate method of a stage's parameters (and of the trainer configurations they embed) returns
// one for a bad value, so that the config layer can add the file and line (Config.Locate).
type FieldError struct {
	// Key is the key path within the stage's section: "epochs", "train_splits[1]",
	// "rows[0].label".
	Key string
	// Value is the offending value.
	Value any
	// Want says what is allowed.
	Want string
}

// Error returns "key: value (want …)".
func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %s (want %s)", e.Key, formatValue(e.Value), e.Want)
}

// Invalid returns a *FieldError for key.
func Invalid(key string, value any, want string) error {
	return &FieldError{Key: key, Value: value, Want: want}
}

// Within prefixes the key of a *FieldError in err with prefix (a nested struct's key, such as
// "rows[2]"); other errors come back unchanged.
func Within(prefix string, err error) error {
	var fe *FieldError
	if !errors.As(err, &fe) {
		return err
	}
	out := *fe
	if strings.HasPrefix(out.Key, "[") {
		out.Key = prefix + out.Key
	} else {
		out.Key = prefix + "." + out.Key
	}
	return &out
}

// formatValue prints strings quoted and everything else as %v.
func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("%q", x)
	case fmt.Stringer:
		return fmt.Sprintf("%q", x.String())
	}
	if s, ok := stringKind(v); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%v", v)
}

// stringKind returns the string of a value whose type is a named string type (an enumeration).
func stringKind(v any) (string, bool) {
	rv := reflect.ValueOf(v)
	if rv.IsValid() && rv.Kind() == reflect.String {
		return rv.String(), true
	}
	return "", false
}
