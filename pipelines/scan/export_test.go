package scan

// WithFailAfter returns p set to fail once the model has done n steps (after that step's
// checkpoint), as a killed run would stop.
func WithFailAfter(p Params, n int64) Params { p.failAfterStep = n; return p }
