package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/groundcap/groundcap/internal/blobio"
)

// hashCache remembers the SHA-256 of external input files by (location, size, modification
// time), so that large inputs are hashed once. The cache only saves time: a digest still names the
// content, never the path or the time.
type hashCache struct {
	loc     string
	mu      sync.Mutex
	loaded  bool
	entries map[string]string
	dirty   bool
}

func newHashCache(loc string) *hashCache { return &hashCache{loc: loc} }

// load reads the cache once; a missing or damaged cache is only a slower run, a store that
// cannot be read is an error.
func (c *hashCache) load(ctx context.Context) error {
	if c.loaded {
		return nil
	}
	c.entries = map[string]string{}
	data, err := blobio.ReadAll(ctx, c.loc)
	if err != nil && !blobio.IsNotExist(err) {
		return err
	}
	c.loaded = true
	if err == nil {
		_ = json.Unmarshal(data, &c.entries)
	}
	return nil
}

func (c *hashCache) save(ctx context.Context) error {
	if !c.dirty {
		return nil
	}
	data, err := json.MarshalIndent(c.entries, "", " ")
	if err != nil {
		return err
	}
	c.dirty = false
	return blobio.WriteAll(ctx, c.loc, data)
}

// fileSum returns the hex SHA-256 of one object, using the cache when size and time match.
func (c *hashCache) fileSum(ctx context.Context, loc string, o blobio.Object, log io.Writer) (string, error) {
	id := loc + "\x00" + strconv.FormatInt(o.Size, 10) + "\x00" + strconv.FormatInt(o.ModTime, 10)
	if s, ok := c.entries[id]; ok && o.ModTime != 0 {
		return s, nil
	}
	start := time.Now()
	sum, _, err := blobio.SHA256(ctx, loc)
	if err != nil {
		return "", err
	}
	if d := time.Since(start); d > 2*time.Second {
		fmt.Fprintf(log, "hashed %s (%d MB) in %s\n", loc, o.Size>>20, d.Round(time.Millisecond))
	}
	if o.ModTime != 0 {
		c.entries[id] = sum
		c.dirty = true
	}
	return sum, nil
}

// digest returns the content digest of an external input: a file's size and SHA-256, or for a
// directory the digest of its files' relative names, sizes and SHA-256s.
func (c *hashCache) digest(ctx context.Context, loc string, log io.Writer) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.load(ctx); err != nil {
		return "", err
	}
	defer c.save(ctx)
	st, err := blobio.Stat(ctx, loc)
	if err != nil && !blobio.IsNotExist(err) {
		return "", err
	}
	if err == nil {
		sum, err := c.fileSum(ctx, loc, st, log)
		if err != nil {
			return "", err
		}
		h := sha256.New()
		putString(h, "groundcap-file/v1")
		putUint(h, uint64(st.Size))
		putString(h, sum)
		return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
	}
	objs, err := blobio.List(ctx, loc)
	if err != nil {
		return "", err
	}
	if len(objs) == 0 {
		return "", fmt.Errorf("%s: no such file or directory: %w", loc, blobio.ErrNotExist)
	}
	files := make([]FileEntry, 0, len(objs))
	for _, o := range objs {
		sum, err := c.fileSum(ctx, blobio.Join(loc, o.Name), o, log)
		if err != nil {
			return "", err
		}
		files = append(files, FileEntry{Name: o.Name, Size: o.Size, SHA256: sum, Rows: -1})
	}
	d, _ := digestFiles(files, "")
	return d, nil
}
