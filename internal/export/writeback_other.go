//go:build !linux

package export

import "os"

func startWriteback(f *os.File, off, n int64) {}
