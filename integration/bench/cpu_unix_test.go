//go:build unix

package bench

import (
	"syscall"
	"testing"
	"time"
)

// reportCPU reports the process's CPU time (user and system, client and
// server together) per op since start, as cpu-ns/op: unlike ns/op, it
// does not count the time the benchmark waits for a core that other
// processes hold.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
