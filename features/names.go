package features

// The names of Layout, Encoding and DType parse themselves, so that a config's layout, encoding
// and dtype keys are checked where they are read. An empty name stays empty (a JSON document
// written before the field existed); whoever needs a value checks for it.

// UnmarshalText parses a layout name (auto, anderson, lxmert or npz).
func (l *Layout) UnmarshalText(b []byte) error { return parseName(l, b, ParseLayout) }

// UnmarshalText parses an encoding name (blob or list).
func (e *Encoding) UnmarshalText(b []byte) error { return parseName(e, b, ParseEncoding) }

// UnmarshalText parses a dtype name (float32 or float16).
func (d *DType) UnmarshalText(b []byte) error { return parseName(d, b, ParseDType) }

// parseName sets *dst to the name b parses to; an empty b leaves *dst empty.
func parseName[T ~string](dst *T, b []byte, parse func(string) (T, error)) error {
	if len(b) == 0 {
		*dst = ""
		return nil
	}
	v, err := parse(string(b))
	if err != nil {
		return err
	}
	*dst = v
	return nil
}
