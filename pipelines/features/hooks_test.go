package features

import (
	"fmt"
	"testing"
)

// failShardHalfWay makes the writer of shard sh stop half-way through its rows, as a killed
// process would (its temporary file stays), until the returned function (or the end of the
// test) restores the normal path. The pipeline's workers run in the test's process (prism's
// loopback), so they see the hook.
func failShardHalfWay(t *testing.T, sh int) (restore func()) {
	t.Helper()
	testHookRow = func(s, n, total int) error {
		if s == sh && n == total/2 {
			return fmt.Errorf("features: injected failure (test): shard %d after %d rows", s, n)
		}
		return nil
	}
	restore = func() { testHookRow = nil }
	t.Cleanup(restore)
	return restore
}
