// Package version holds the groundcap version that enters every stage's cache key.
package version

// Version is groundcap's module version. Bump it on a release; stage semantics are versioned by
// each stage's own Version field.
const Version = "0.1.0"
