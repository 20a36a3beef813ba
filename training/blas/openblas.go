//go:build openblas

package blas

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

// openblas_quiet_threads restarts OpenBLAS's thread pool with the spin time of its idle
// workers set from OPENBLAS_THREAD_TIMEOUT (log2 of cycles, 4..30), which OpenBLAS reads only
// when the library loads. It uses the pthread server's exported entry points when the library
// has them (looked up at run time, so other builds of OpenBLAS still link) and returns 0 when
// it restarted the pool.
static int openblas_quiet_threads(const char *timeout) {
	void (*read_env)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "openblas_read_env");
	int (*shutdown)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "blas_thread_shutdown_");
	int (*init)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "blas_thread_init");
	if (!read_env || !shutdown || !init) return -1;
	setenv("OPENBLAS_THREAD_TIMEOUT", timeout, 0);
	read_env();
	shutdown();
	return init();
}

int openblas_get_num_threads(void);
void openblas_set_num_threads(int);
*/
import "C"

import (
	"os"
	"sync"
	"unsafe"

	"gonum.org/v1/netlib/blas/netlib"
)

// openBLASThreadTimeout is the idle spin of OpenBLAS's workers used unless the user set
// OPENBLAS_THREAD_TIMEOUT: 2^4 cycles instead of the default 2^28 (~0.1 s). With the default,
// a worker spins on its core after every product and starves the element-wise Go work that
// runs between products (paper-sized POS-SCAN step on 2 cores: 6.2 s -> 4.5 s).
const openBLASThreadTimeout = "4"

var quietOnce sync.Once

// init registers OpenBLAS (through gonum's netlib cgo wrapper) when the
// package is built with -tags openblas.
func init() {
	err := Register(OpenBLAS, func(Options) (Float32, error) {
		quietOnce.Do(func() {
			if os.Getenv("OPENBLAS_THREAD_TIMEOUT") != "" {
				return // the user's choice, already read by OpenBLAS
			}
			v := C.CString(openBLASThreadTimeout)
			defer C.free(unsafe.Pointer(v))
			C.openblas_quiet_threads(v)
		})
		return openBLAS{}, nil
	})
	if err != nil {
		panic(err)
	}
}

// openBLAS is OpenBLAS through gonum's netlib wrapper, Threaded.
type openBLAS struct{ netlib.Implementation }

var limit struct {
	sync.Mutex
	depth int   // Threads calls running
	cur   C.int // the thread count they set
	saved C.int // OpenBLAS's thread count before the first of them
}

// Threads sets OpenBLAS's thread count to n (at least 1) while fn runs,
// then restores it; overlapping calls keep the smallest count until the
// last ends. The count is global to the library: products from other
// goroutines meanwhile use it too, which is slower but gives the same
// results.
func (openBLAS) Threads(n int, fn func()) bool {
	want := C.int(max(n, 1))
	limit.Lock()
	switch {
	case limit.depth == 0:
		limit.saved = C.openblas_get_num_threads()
		limit.cur = min(want, limit.saved)
		C.openblas_set_num_threads(limit.cur)
	case want < limit.cur:
		limit.cur = want
		C.openblas_set_num_threads(want)
	}
	limit.depth++
	limit.Unlock()
	defer func() {
		limit.Lock()
		limit.depth--
		if limit.depth == 0 {
			C.openblas_set_num_threads(limit.saved)
		}
		limit.Unlock()
	}()
	fn()
	return true
}

// openblasThreads is OpenBLAS's current thread count (for tests).
func openblasThreads() int { return int(C.openblas_get_num_threads()) }
