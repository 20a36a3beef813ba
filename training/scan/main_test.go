package scan

import (
	"os"
	"testing"
)

// TestMain removes the emulation's kernel cache that the device tests share.
func TestMain(m *testing.M) {
	code := m.Run()
	if emuDir != "" {
		os.RemoveAll(emuDir) // test scratch
	}
	os.Exit(code)
}
