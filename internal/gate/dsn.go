package gate

// CheckDSN says whether a store DSN names a store this build can open
// (sqlite:PATH, a bare path, sqlite://PATH, postgres://… or
// postgresql://…), without opening anything: a front end checks its
// --store before it does anything else. Its error is Invalid.
func CheckDSN(dsn string) error {
	_, _, err := parseDSN(dsn)
	return err
}
