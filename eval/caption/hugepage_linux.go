package caption

import (
	"syscall"
	"unsafe"
)

// hugePageMin is the smallest table worth asking huge pages for: a few 2 MiB pages.
const hugePageMin = 4 << 20

// adviseHugePages asks the kernel to back the slots with transparent huge pages
// (MADV_HUGEPAGE) before they are first touched: an n-gram table is written all over at once,
// and each 4 KiB page would cost a fault (several microseconds on a VM) where a 2 MiB page costs
// one. Only the 2 MiB-aligned stretches inside the slice can get huge pages; the advice is a hint
// the kernel may ignore (transparent_hugepage "never"), and an error changes nothing.
func adviseHugePages(slots []idSlot) {
	n := len(slots) * int(unsafe.Sizeof(idSlot{}))
	if n < hugePageMin {
		return
	}
	const page = 4096
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(slots))), n)
	off := (page - int(uintptr(unsafe.Pointer(unsafe.SliceData(b)))%page)) % page
	if whole := (n - off) / page * page; whole > 0 {
		_ = syscall.Madvise(b[off:off+whole], syscall.MADV_HUGEPAGE)
	}
}
