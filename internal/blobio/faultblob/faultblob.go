// Package faultblob is a gocloud.dev/blob store that fails the operations a policy picks: an
// in-memory bucket behind a driver that asks the policy before every read, write, listing,
// attribute lookup and delete. It serves tests of what callers do when the store fails
// (permissions, credentials, network) rather than the objects in it.
//
// Register makes URLs of a scheme open its stores, one per host; internal/blobio then accepts
// such URLs like any other location:
//
//	faults := faultblob.Register("fault")                 // once per test binary
//	st := faults.Store("t1")                              // fault://t1/...
//	st.SetPolicy(faultblob.FailReads(faultblob.Denied))  // every read fails from now on
package faultblob

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync"

	"gocloud.dev/blob"
	"gocloud.dev/blob/driver"
	"gocloud.dev/blob/memblob"
	"gocloud.dev/gcerrors"
)

// Op names an operation the policy is asked about.
type Op string

// The operations.
const (
	OpRead       Op = "read"       // opening a reader; also each Read
	OpWrite      Op = "write"      // opening a writer and each Write
	OpClose      Op = "close"      // committing a writer
	OpList       Op = "list"       // one page of a listing
	OpAttributes Op = "attributes" // Stat, Exists
	OpDelete     Op = "delete"
)

// Policy returns the error that operation op on key fails with, or nil to let it through. It
// is called from the goroutines that use the store.
type Policy func(op Op, key string) error

// Fault is an injected failure with the gocloud error code callers see.
type Fault struct {
	Code gcerrors.ErrorCode
	Msg  string
}

func (f *Fault) Error() string { return f.Msg }

// Injected failures like the ones real stores give.
var (
	Denied      = &Fault{Code: gcerrors.PermissionDenied, Msg: "permission denied (injected)"}
	Unreachable = &Fault{Code: gcerrors.Unknown, Msg: "dial tcp 203.0.113.1:443: connect: network is unreachable (injected)"}
)

// FailReads returns a policy that fails every read, attribute lookup and listing with err.
func FailReads(err error) Policy {
	return func(op Op, _ string) error {
		if op == OpRead || op == OpAttributes || op == OpList {
			return err
		}
		return nil
	}
}

// FailAll returns a policy that fails every operation with err.
func FailAll(err error) Policy { return func(Op, string) error { return err } }

// Counter is a policy that fails nothing and counts the calls of each operation, so that a test
// knows how many calls a run makes before it fails the Nth of them (FailNth).
type Counter struct {
	mu sync.Mutex
	n  map[Op]int
}

// Policy returns the counting policy.
func (c *Counter) Policy() Policy {
	return func(op Op, _ string) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.n == nil {
			c.n = map[Op]int{}
		}
		c.n[op]++
		return nil
	}
}

// Calls returns how many calls of op the policy has seen.
func (c *Counter) Calls(op Op) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[op]
}

// FailNth returns a policy that fails the nth call (from 1) of op with err and lets every other
// call through. With concurrent callers, which call is the nth depends on their order.
func FailNth(op Op, n int, err error) Policy {
	var mu sync.Mutex
	seen := 0
	return func(o Op, _ string) error {
		if o != op {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		seen++
		if seen == n {
			return err
		}
		return nil
	}
}

// Random is a seeded policy that fails each call of the chosen operations with a probability.
type Random struct {
	mu       sync.Mutex
	rng      *rand.Rand
	rate     float64
	err      error
	ops      map[Op]bool
	injected int
}

// NewRandom returns a Random that fails each call of ops (every operation when none are
// given) with probability rate, with err, drawing from a generator seeded with seed.
func NewRandom(seed uint64, rate float64, err error, ops ...Op) *Random {
	r := &Random{rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)), rate: rate, err: err, ops: map[Op]bool{}}
	if len(ops) == 0 {
		ops = []Op{OpRead, OpWrite, OpClose, OpList, OpAttributes, OpDelete}
	}
	for _, op := range ops {
		r.ops[op] = true
	}
	return r
}

// Policy returns the policy.
func (r *Random) Policy() Policy {
	return func(op Op, _ string) error {
		if !r.ops[op] {
			return nil
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.rng.Float64() < r.rate {
			r.injected++
			return r.err
		}
		return nil
	}
}

// Injected returns how many failures the policy has returned.
func (r *Random) Injected() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.injected
}

// Store is one store: its objects and its policy.
type Store struct {
	base   *blob.Bucket
	mu     sync.Mutex
	policy Policy
}

// SetPolicy replaces the policy (nil lets everything through).
func (s *Store) SetPolicy(p Policy) {
	s.mu.Lock()
	s.policy = p
	s.mu.Unlock()
}

func (s *Store) check(op Op, key string) error {
	s.mu.Lock()
	p := s.policy
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	return p(op, key)
}

// Bucket returns a view of the store; closing it leaves the store open.
func (s *Store) Bucket() *blob.Bucket { return blob.NewBucket(&bucket{s: s}) }

// Opener opens the stores of one URL scheme by host. It is safe for concurrent use.
type Opener struct {
	mu     sync.Mutex
	stores map[string]*Store
}

// Register makes scheme://host/... URLs open Opener's stores through gocloud's default URL mux
// (which blob.OpenBucket and internal/blobio use). It panics when the scheme is taken, so call
// it once per process.
func Register(scheme string) *Opener {
	o := &Opener{stores: map[string]*Store{}}
	blob.DefaultURLMux().RegisterBucket(scheme, o)
	return o
}

// Store returns the store of host, empty and without a policy when new.
func (o *Opener) Store(host string) *Store {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, ok := o.stores[host]
	if !ok {
		s = &Store{base: memblob.OpenBucket(nil)}
		o.stores[host] = s
	}
	return s
}

// OpenBucketURL implements blob.BucketURLOpener.
func (o *Opener) OpenBucketURL(_ context.Context, u *url.URL) (*blob.Bucket, error) {
	return o.Store(u.Host).Bucket(), nil
}

// bucket is the driver: it asks the policy, then forwards to the in-memory bucket.
type bucket struct{ s *Store }

func (b *bucket) ErrorCode(err error) gcerrors.ErrorCode {
	var f *Fault
	if errors.As(err, &f) {
		return f.Code
	}
	return gcerrors.Code(err)
}

func (b *bucket) As(any) bool                 { return false }
func (b *bucket) ErrorAs(error, any) bool     { return false }
func (b *bucket) Close() error                { return nil }
func (b *bucket) base() *blob.Bucket          { return b.s.base }
func (b *bucket) check(op Op, k string) error { return b.s.check(op, k) }

func (b *bucket) Attributes(ctx context.Context, key string) (*driver.Attributes, error) {
	if err := b.check(OpAttributes, key); err != nil {
		return nil, err
	}
	a, err := b.base().Attributes(ctx, key)
	if err != nil {
		return nil, err
	}
	return &driver.Attributes{ContentType: a.ContentType, Metadata: a.Metadata, ModTime: a.ModTime,
		Size: a.Size, MD5: a.MD5, ETag: a.ETag, CreateTime: a.CreateTime}, nil
}

func (b *bucket) ListPaged(ctx context.Context, opts *driver.ListOptions) (*driver.ListPage, error) {
	if err := b.check(OpList, opts.Prefix); err != nil {
		return nil, err
	}
	token := opts.PageToken
	if len(token) == 0 {
		token = blob.FirstPageToken
	}
	objs, next, err := b.base().ListPage(ctx, token, max(opts.PageSize, 1000), &blob.ListOptions{Prefix: opts.Prefix, Delimiter: opts.Delimiter})
	if err != nil {
		return nil, err
	}
	page := &driver.ListPage{NextPageToken: next}
	for _, o := range objs {
		page.Objects = append(page.Objects, &driver.ListObject{Key: o.Key, ModTime: o.ModTime, Size: o.Size, MD5: o.MD5, IsDir: o.IsDir})
	}
	return page, nil
}

func (b *bucket) NewRangeReader(ctx context.Context, key string, offset, length int64, opts *driver.ReaderOptions) (driver.Reader, error) {
	if err := b.check(OpRead, key); err != nil {
		return nil, err
	}
	r, err := b.base().NewRangeReader(ctx, key, offset, length, nil)
	if err != nil {
		return nil, err
	}
	if opts != nil && opts.BeforeRead != nil {
		if err := opts.BeforeRead(func(any) bool { return false }); err != nil {
			r.Close()
			return nil, err
		}
	}
	return &reader{b: b, key: key, r: r}, nil
}

type reader struct {
	b   *bucket
	key string
	r   *blob.Reader
}

func (r *reader) Read(p []byte) (int, error) {
	if err := r.b.check(OpRead, r.key); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

func (r *reader) Close() error { return r.r.Close() }
func (r *reader) As(any) bool  { return false }

func (r *reader) Attributes() *driver.ReaderAttributes {
	return &driver.ReaderAttributes{ContentType: r.r.ContentType(), ModTime: r.r.ModTime(), Size: r.r.Size()}
}

func (b *bucket) NewTypedWriter(ctx context.Context, key, contentType string, opts *driver.WriterOptions) (driver.Writer, error) {
	if err := b.check(OpWrite, key); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	w, err := b.base().NewWriter(wctx, key, &blob.WriterOptions{ContentType: contentType, Metadata: opts.Metadata})
	if err != nil {
		cancel()
		return nil, err
	}
	return &writer{b: b, key: key, w: w, cancel: cancel}, nil
}

type writer struct {
	b      *bucket
	key    string
	w      *blob.Writer
	cancel context.CancelFunc // aborts the inner write
	err    error
}

func (w *writer) Write(p []byte) (int, error) {
	if err := w.b.check(OpWrite, w.key); err != nil {
		w.err = err
		return 0, err
	}
	return w.w.Write(p)
}

// Close commits the object unless a write or the close itself failed; then nothing appears.
func (w *writer) Close() error {
	err := w.err
	if err == nil {
		err = w.b.check(OpClose, w.key)
	}
	if err != nil {
		w.cancel() // a cancelled write is not committed: the old object, if any, stays
		_ = w.w.Close()
		return err
	}
	err = w.w.Close()
	w.cancel()
	return err
}

func (b *bucket) Copy(ctx context.Context, dst, src string, _ *driver.CopyOptions) error {
	if err := b.check(OpRead, src); err != nil {
		return err
	}
	if err := b.check(OpWrite, dst); err != nil {
		return err
	}
	return b.base().Copy(ctx, dst, src, nil)
}

func (b *bucket) Delete(ctx context.Context, key string, _ *driver.DeleteOptions) error {
	if err := b.check(OpDelete, key); err != nil {
		return err
	}
	return b.base().Delete(ctx, key)
}

func (b *bucket) SignedURL(context.Context, string, *driver.SignedURLOptions) (string, error) {
	return "", fmt.Errorf("faultblob: %w", errors.ErrUnsupported)
}
