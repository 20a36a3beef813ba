package checkpoint

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func sample() *Checkpoint {
	return &Checkpoint{
		Params:    []Tensor{{Name: "w", Shape: []int{2, 2}, Data: []float32{1, -2, 3.5, 4}}, {Name: "b", Shape: []int{1}, Data: []float32{0.25}}},
		OptimStep: 7,
		M:         [][]float32{{0.1, 0.2, 0.3, 0.4}, {0.5}},
		V:         [][]float32{{1, 2, 3, 4}, {5}},
		Step:      7, Epoch: 1, DataPos: 3,
		RNG:    []byte{1, 2, 3},
		Config: json.RawMessage(`{"embed":8}`),
		Meta:   map[string]string{"git": "abc"},
	}
}

func TestRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.ckpt")
	c := sample()
	if err := Save(p, c); err != nil {
		t.Fatal(err)
	}
	got, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, c)
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Fatalf("temp files left: %v", ents)
	}
}

func TestCorruptionDetected(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.ckpt")
	if err := Save(p, sample()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	for i, mut := range []func([]byte) []byte{
		func(b []byte) []byte { b[len(b)/2] ^= 1; return b }, // flipped bit
		func(b []byte) []byte { return b[:len(b)-10] },       // truncated
		func(b []byte) []byte { return []byte("nope") },      // not a checkpoint
	} {
		bad := mut(append([]byte(nil), b...))
		if _, err := Unmarshal("x", bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%d: error = %v, want ErrCorrupt", i, err)
		}
	}
}

func TestMarshalRejectsMismatch(t *testing.T) {
	c := sample()
	c.Params[0].Shape = []int{3}
	if _, err := Marshal(c); err == nil {
		t.Fatal("shape/data mismatch accepted")
	}
	c = sample()
	c.M = c.M[:1]
	if _, err := Marshal(c); err == nil {
		t.Fatal("short optimiser state accepted")
	}
}

func TestEqualTensors(t *testing.T) {
	a := []Tensor{{Name: "w", Shape: []int{1, 2}, Data: []float32{1, 2}}, {Name: "b", Shape: []int{1}, Data: []float32{3}}}
	clone := func(set func(ts []Tensor)) []Tensor {
		out := make([]Tensor, len(a))
		for i, x := range a {
			out[i] = Tensor{Name: x.Name, Shape: append([]int(nil), x.Shape...), Data: append([]float32(nil), x.Data...)}
		}
		set(out)
		return out
	}
	if !EqualTensors(a, clone(func([]Tensor) {})) {
		t.Error("a copy differs")
	}
	for i, b := range [][]Tensor{
		clone(func(ts []Tensor) { ts[0].Name = "v" }),
		clone(func(ts []Tensor) { ts[0].Shape = []int{2, 1} }),
		clone(func(ts []Tensor) { ts[1].Data[0] = 3.0001 }),
		a[:1],
	} {
		if EqualTensors(a, b) {
			t.Errorf("%d: %v equals %v", i, b, a)
		}
	}
}
