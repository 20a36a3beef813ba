package gpu

import (
	"os"
	"sync"
)

var (
	emuCacheOnce sync.Once
	emuCacheDir  string
)

// mkdirTemp makes a directory for the test binary's lifetime (removed by TestMain).
func mkdirTemp(pattern string) (string, error) {
	dir, err := os.MkdirTemp("", pattern)
	if err == nil {
		tempDirs = append(tempDirs, dir)
	}
	return dir, err
}

var tempDirs []string
