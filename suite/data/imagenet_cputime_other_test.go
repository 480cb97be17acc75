//go:build !unix

package data

import "time"

// processCPUTime is not available here.
func processCPUTime() time.Duration { return 0 }

func processCPUTimes() (user, sys time.Duration) { return 0, 0 }
