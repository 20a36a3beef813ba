package gpu

import "github.com/groundcap/groundcap/internal/config"

// Kind is a stage's device setting (its device key): KindCPU, KindCUDA or KindEmulate. It parses
// itself, so a config naming no device kind fails where it is read.
type Kind string

// UnmarshalText parses cpu, cuda or emulate.
func (k *Kind) UnmarshalText(b []byte) error {
	return config.ParseEnum(k, b, "gpu: unknown device", KindCPU, KindCUDA, KindEmulate)
}

// Validate reports a kind ValidKind does not accept (empty: cpu) (a Kind set in code rather than parsed) as
// a *config.FieldError of the device key.
func (k Kind) Validate() error {
	return config.CheckEnum("device", k, "", KindCPU, KindCUDA, KindEmulate)
}
