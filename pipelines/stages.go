package pipelines

// Defs lists every stage in the order of the chain. Add one line per stage package.
func Defs() []Def {
	return []Def{}
}
