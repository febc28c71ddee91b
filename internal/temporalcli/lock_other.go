//go:build !unix

package temporalcli

// lockFile does nothing where there is no flock: concurrent first builds may both run.
func lockFile(string) (unlock func(), err error) { return func() {}, nil }
