package matching

import (
	"errors"
	"fmt"
	"strings"

	"github.com/groundcap/groundcap/training/gpu"
	tscan "github.com/groundcap/groundcap/training/scan"
)

// UseDevice moves the models to the device of setting kind (gpu.KindCUDA or gpu.KindEmulate;
// nothing happens for cpu or "") and returns the function that brings them back to the host
// and closes the device; logf, if set, gets one line naming the device.
func UseDevice(kind string, logf func(format string, args ...any), models ...*tscan.Model) (release func() error, err error) {
	if !gpu.UsesDevice(kind) {
		return func() error { return nil }, nil
	}
	d, err := gpu.Open(kind)
	if err != nil {
		return nil, fmt.Errorf("matching: device %s: %w", kind, err)
	}
	var on []*tscan.Model
	release = func() error {
		var errs []error
		for _, m := range on {
			errs = append(errs, m.ReleaseDevice())
		}
		return errors.Join(append(errs, d.Close())...)
	}
	for _, m := range models {
		if err := m.UseDevice(d); err != nil {
			return nil, errors.Join(err, release())
		}
		on = append(on, m)
	}
	if logf != nil {
		logf("device-resident on %s", d.Info())
	}
	return release, nil
}

// LogWriter is an io.Writer that hands each line written to a Logf (a progress.Reporter on a
// stage's log).
type LogWriter func(format string, args ...any)

// Write passes p, one or more lines, to the Logf.
func (w LogWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w("%s", line)
	}
	return len(p), nil
}
