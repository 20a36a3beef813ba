package gpu

import (
	"fmt"

	"github.com/groundcap/groundcap/internal/config"
)

// Kind is a stage's device setting (its device key): KindCPU, KindCUDA or KindEmulate. It parses
// itself, so a config naming no device kind fails where it is read.
type Kind string

// UnmarshalText parses cpu, cuda or emulate.
func (k *Kind) UnmarshalText(b []byte) error {
	if len(b) == 0 || !ValidKind(string(b)) {
		return fmt.Errorf("gpu: unknown device %q (want %s, %s or %s)", b, KindCPU, KindCUDA, KindEmulate)
	}
	*k = Kind(b)
	return nil
}

// Validate reports a kind ValidKind does not accept (a Kind set in code rather than parsed) as
// a *config.FieldError of the device key.
func (k Kind) Validate() error {
	if !ValidKind(string(k)) {
		return config.Invalid("device", k, "cpu, cuda or emulate")
	}
	return nil
}
