package updown

// arch returns the default architecture with the given widths and lengths (dropout 0.5).
func arch(inputEncoding, rnn, attHid, maxLen, decodeMaxLen int) Arch {
	a := DefaultArch()
	a.InputEncoding, a.RNNSize, a.AttHid, a.MaxLen, a.DecodeMaxLen = inputEncoding, rnn, attHid, maxLen, decodeMaxLen
	return a
}

// xeConfig returns DefaultXEConfig changed by set: a test states only what it changes.
func xeConfig(set func(*XEConfig)) XEConfig {
	c := DefaultXEConfig()
	set(&c)
	return c
}

// scstConfig returns DefaultSCSTConfig changed by set.
func scstConfig(set func(*SCSTConfig)) SCSTConfig {
	c := DefaultSCSTConfig()
	set(&c)
	return c
}
