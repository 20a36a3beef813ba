// Package progress prints periodic progress lines with rate and ETA for long work.
package progress

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Interval is how often a Reporter prints at most.
const Interval = 2 * time.Second

// Reporter counts units of work and prints "what: done/total (pct) rate/s ETA" at most every
// Interval. It is safe to call from multiple goroutines.
type Reporter struct {
	w     io.Writer
	what  string
	unit  string
	total int64
	now   func() time.Time

	mu    sync.Mutex
	done  int64
	start time.Time
	last  time.Time
}

// New returns a Reporter for total units (0 when unknown) of the named work.
func New(w io.Writer, what, unit string, total int64) *Reporter {
	r := &Reporter{w: w, what: what, unit: unit, total: total, now: time.Now}
	r.start = r.now()
	r.last = r.start
	return r
}

// Add records n more units and prints a line when Interval has passed since the last one.
func (r *Reporter) Add(n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done += n
	t := r.now()
	if t.Sub(r.last) >= Interval {
		r.last = t
		fmt.Fprintln(r.w, r.line(t))
	}
}

// Set records that done units are finished (for callbacks that report totals).
func (r *Reporter) Set(done int64) {
	r.mu.Lock()
	n := done - r.done
	r.mu.Unlock()
	r.Add(n)
}

// Done prints the final line with the overall rate.
func (r *Reporter) Done() {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.now()
	el := t.Sub(r.start)
	fmt.Fprintf(r.w, "%s: %d %s in %s (%s/s)\n", r.what, r.done, r.unit, el.Round(time.Millisecond), rate(r.done, el))
}

func (r *Reporter) line(t time.Time) string {
	el := t.Sub(r.start)
	s := fmt.Sprintf("%s: %d", r.what, r.done)
	if r.total > 0 {
		s += fmt.Sprintf("/%d (%.1f%%)", r.total, 100*float64(r.done)/float64(r.total))
	}
	s += fmt.Sprintf(" %s, %s/s", r.unit, rate(r.done, el))
	if r.total > 0 && r.done > 0 && r.done < r.total {
		eta := time.Duration(float64(el) * float64(r.total-r.done) / float64(r.done))
		s += fmt.Sprintf(", ETA %s", eta.Round(time.Second))
	}
	return s
}

func rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	v := float64(n) / d.Seconds()
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	default:
		return fmt.Sprintf("%.1f", v)
	}
}
