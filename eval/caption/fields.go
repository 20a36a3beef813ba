package caption

import "strings"

// pyFields splits s around runs of whitespace exactly as Python 3's str.split() without arguments
// does: it adds the information separators U+001C..U+001F, which Python counts as whitespace, to the
// Unicode white space that strings.Fields uses.
func pyFields(s string) []string {
	return strings.FieldsFunc(s, isPySpace)
}

func isPySpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\v', '\f', '\r', 0x1c, 0x1d, 0x1e, 0x1f, 0x85, 0xa0, 0x1680,
		0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}
