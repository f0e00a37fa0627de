package postgres

// SetSplitPages sets the table size from which a full scan is split in two
// COPYs (tests split small tables), returning a function restoring it.
func SetSplitPages(n int64) (restore func()) {
	old := splitPages
	splitPages = n
	return func() { splitPages = old }
}
