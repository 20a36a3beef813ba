package checkpoint

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

// FuzzUnmarshal decodes fuzzed checkpoint bodies sealed with their SHA-256 (so that the fuzzer
// reaches the header and payload decoding): Unmarshal either fails with ErrCorrupt (or an
// unsupported version) or returns a checkpoint that encodes and decodes to itself. Its seeds are
// kept in testdata/fuzz/FuzzUnmarshal.
func FuzzUnmarshal(f *testing.F) {
	b, err := Marshal(sample())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b[:len(b)-sha256.Size])
	c := sample()
	c.M, c.V = nil, nil
	if b, err = Marshal(c); err != nil {
		f.Fatal(err)
	}
	f.Add(b[:len(b)-sha256.Size])
	f.Fuzz(func(t *testing.T, body []byte) {
		sum := sha256.Sum256(body)
		c, err := Unmarshal("fuzz", append(body[:len(body):len(body)], sum[:]...))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !strings.Contains(err.Error(), "unsupported version") {
				t.Fatalf("error %v", err)
			}
			return
		}
		b, err := Marshal(c)
		if err != nil {
			t.Fatalf("a decoded checkpoint does not encode: %v", err)
		}
		back, err := Unmarshal("again", b)
		if err != nil {
			t.Fatalf("a re-encoded checkpoint does not decode: %v", err)
		}
		// Compared encoded: NaN values are not equal to themselves.
		if b2, err := Marshal(back); err != nil || !bytes.Equal(b2, b) {
			t.Fatalf("round trip differs (%v)", err)
		}
	})
}
