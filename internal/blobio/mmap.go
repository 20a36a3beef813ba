package blobio

import (
	"fmt"
	"net/url"
	"os"
	"runtime/debug"
)

// MappedFile is a local file opened for memory-mapped reads: a Mapping's bytes are the page
// cache's own pages, so reading them costs no copy and no read system call. Map pieces of the
// file rather than all of it and close them when done: the pages of a live mapping count
// toward the process's resident memory.
//
// If the file shrinks while a piece is mapped, touching the lost pages raises SIGBUS; read
// mapped bytes inside Guard, which turns that fault into an error.
type MappedFile struct {
	f    *os.File
	size int64
	path string
}

// OpenMapped opens loc for mapping when it is a local regular file and the platform has mmap;
// otherwise (another store, or no mmap) it returns nil and no error, and the caller reads
// through NewRangeReader.
func OpenMapped(loc string) (*MappedFile, error) {
	p, ok := LocalPath(loc)
	if !ok || mmapFile == nil {
		return nil, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("blobio: map %s: %w", loc, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("blobio: map %s: %w", loc, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil
	}
	return &MappedFile{f: f, size: st.Size(), path: p}, nil
}

// Size is the file's size when it was opened.
func (m *MappedFile) Size() int64 { return m.size }

// Path is the file's path.
func (m *MappedFile) Path() string { return m.path }

// Close closes the file; mappings stay valid until their own Close.
func (m *MappedFile) Close() error { return m.f.Close() }

// Mapping is a mapped piece of a file.
type Mapping struct {
	// Data is the bytes asked for.
	Data []byte
	mem  []byte // the whole mapping, from a page boundary
}

// Map maps length bytes from offset (clipped to the file's size) and asks the kernel to fill
// in the page tables at once, which costs less than a page fault per page when all of them are
// read. MapLazy leaves the pages to be faulted in as they are touched.
func (m *MappedFile) Map(offset, length int64) (*Mapping, error) {
	return m.mapping(offset, length, true)
}

// MapLazy is Map without filling in the pages: for a mapping of which only a part is read.
func (m *MappedFile) MapLazy(offset, length int64) (*Mapping, error) {
	return m.mapping(offset, length, false)
}

func (m *MappedFile) mapping(offset, length int64, populate bool) (*Mapping, error) {
	if offset < 0 || length < 0 {
		return nil, fmt.Errorf("blobio: map %s: offset %d, length %d", m.path, offset, length)
	}
	end := min(offset+length, m.size)
	if offset >= end {
		return &Mapping{Data: []byte{}}, nil
	}
	page := int64(os.Getpagesize())
	start := offset / page * page
	if int64(int(end-start)) != end-start {
		return nil, fmt.Errorf("blobio: map %s: %d bytes do not fit this platform's address space", m.path, end-start)
	}
	mem, err := mmapFile(m.f, start, int(end-start), populate)
	if err != nil {
		return nil, fmt.Errorf("blobio: map %s [%d, %d): %w", m.path, offset, end, err)
	}
	return &Mapping{Data: mem[offset-start:], mem: mem}, nil
}

// Populate asks the kernel to fill in the page tables of the first n bytes of Data (see Map);
// it is only a hint.
func (mp *Mapping) Populate(n int64) {
	if mp.mem == nil || n <= 0 {
		return
	}
	k := int64(len(mp.mem)-len(mp.Data)) + min(n, int64(len(mp.Data)))
	populate(mp.mem[:k])
}

// Close unmaps the piece; Data must not be used afterwards.
func (mp *Mapping) Close() error {
	if mp.mem == nil {
		return nil
	}
	err := munmapFile(mp.mem)
	mp.Data, mp.mem = nil, nil
	return err
}

// Guard runs fn, which reads mapped bytes of m, and reports a memory fault in fn (the file
// shrank under the mapping) as an error instead of crashing the process. Other panics pass
// through.
func (m *MappedFile) Guard(fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			if f, ok := r.(interface{ Addr() uintptr }); ok {
				err = fmt.Errorf("blobio: %s changed while it was read (memory fault at %#x): was it truncated?", m.path, f.Addr())
				return
			}
			panic(r)
		}
	}()
	return fn()
}

// LocalPath returns the operating-system path of a file:// location (or plain path).
func LocalPath(loc string) (string, bool) {
	n, err := Normalize(loc)
	if err != nil {
		return "", false
	}
	u, err := url.Parse(n)
	if err != nil || u.Scheme != "file" {
		return "", false
	}
	return u.Path, true
}
