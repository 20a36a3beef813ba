package features

import "github.com/groundcap/groundcap/internal/config"

// The names of Layout, Encoding and DType parse themselves, so that a config's layout, encoding
// and dtype keys are checked where they are read. An empty name stays empty (a JSON document
// written before the field existed); whoever needs a value checks for it.

// Layouts returns the layout names, in the order messages list them.
func Layouts() []Layout { return []Layout{LayoutAuto, LayoutAnderson, LayoutLXMERT, LayoutNPZ} }

// Encodings returns the encoding names, in the order messages list them.
func Encodings() []Encoding { return []Encoding{EncodingBlob, EncodingList} }

// DTypes returns the dtype names, in the order messages list them.
func DTypes() []DType { return []DType{DTypeFloat32, DTypeFloat16} }

// UnmarshalText parses a layout name (auto, anderson, lxmert or npz).
func (l *Layout) UnmarshalText(b []byte) error {
	return config.ParseEnum(l, b, "features: unknown layout", append(Layouts(), "")...)
}

// UnmarshalText parses an encoding name (blob or list).
func (e *Encoding) UnmarshalText(b []byte) error {
	return config.ParseEnum(e, b, "features: unknown encoding", append(Encodings(), "")...)
}

// UnmarshalText parses a dtype name (float32 or float16).
func (d *DType) UnmarshalText(b []byte) error {
	return config.ParseEnum(d, b, "features: unknown dtype", append(DTypes(), "")...)
}

// Validate reports a layout that is none of Layouts (one set in code rather than parsed, or
// empty) as a *config.FieldError of the layout key.
func (l Layout) Validate() error { return config.CheckEnum("layout", l, Layouts()...) }

// Validate reports an encoding that is none of Encodings as a *config.FieldError of the
// encoding key.
func (e Encoding) Validate() error { return config.CheckEnum("encoding", e, Encodings()...) }

// Validate reports a dtype that is none of DTypes as a *config.FieldError of the dtype key.
func (d DType) Validate() error { return config.CheckEnum("dtype", d, DTypes()...) }
