package activities

import "time"

// SetListLagGrace replaces ListLagGrace for a's pipeline starts (tests cannot wait two minutes).
func SetListLagGrace(a *Activities, d time.Duration) { a.listLagGrace = d }

// SetLookupLimit replaces maxLookupOperations for a's look-ups (tests cannot list a million).
func SetLookupLimit(a *Activities, n int) { a.lookupLimit = n }
