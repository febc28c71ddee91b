package activities

// SetLookupLimit replaces maxLookupOperations for a's look-ups (tests cannot list a million).
func SetLookupLimit(a *Activities, n int) { a.lookupLimit = n }
