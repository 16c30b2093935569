//go:build !unix

package paired

import "time"

// CPUTime is not measured on this platform: it is 0, and the CPU figures
// are left out.
func CPUTime() time.Duration { return 0 }
