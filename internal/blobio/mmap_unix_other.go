//go:build unix && !linux

package blobio

const mapPopulate = 0

func populate([]byte) {}
