//go:build !linux

package caption

// adviseHugePages does nothing outside Linux.
func adviseHugePages([]idSlot) {}
