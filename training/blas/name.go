package blas

import "github.com/groundcap/groundcap/internal/config"

// Name is the BLAS backend a stage's config asks for (its blas key): a name Known accepts. It
// parses itself, so a config naming no backend fails where it is read; whether the backend can
// run in this binary and on this machine is known only when it is selected (Use).
type Name string

// UnmarshalText parses a backend name.
func (n *Name) UnmarshalText(b []byte) error {
	return config.ParseEnum(n, b, "blas: unknown backend", known...)
}

// MarshalText returns the name.
func (n Name) MarshalText() ([]byte, error) { return []byte(n), nil }

// Validate reports a name Known does not accept (a Name set in code rather than parsed) as a
// *config.FieldError of the blas key.
func (n Name) Validate() error { return config.CheckEnum("blas", n, known...) }
