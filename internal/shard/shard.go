// Package shard assigns images to output shards. Every stage that shards by image (captions,
// features, alignments, evaluation) uses this one function, so an image's captions, features and
// alignments land in shards with the same number and can be read together without a shuffle.
package shard

import "fmt"

// Of returns the shard of imageID among n shards: FNV-1a (64-bit) over the id's 8 little-endian
// bytes, modulo n. It panics if n < 1.
func Of(imageID int64, n int) int {
	if n < 1 {
		panic(fmt.Sprintf("shard: %d shards", n))
	}
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	u := uint64(imageID)
	for i := 0; i < 8; i++ {
		h ^= u & 0xff
		h *= prime
		u >>= 8
	}
	return int(h % uint64(n))
}

// Name returns the file name of shard i of n of a table: "<table>/part-00003-of-00008.parquet".
func Name(table string, i, n int) string {
	return fmt.Sprintf("%s/part-%05d-of-%05d.parquet", table, i, n)
}
