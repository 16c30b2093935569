package integration

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the suite, then checks two promises that span it: nothing
// the suite captured (logs, error strings, printed request records) holds a
// credential, and no goroutine outlives the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		values := collectTelemetry()
		if leaks := secrets.leaks(); len(leaks) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: secrets leaked into captured output:\n%s\n", leaks)
			code = 1
		} else {
			fmt.Printf("secrets: %d log bytes, %d error strings, request dumps and telemetry values (%d from OpenTelemetry) captured; no credential found\n",
				secrets.logBytes(), secrets.notes(), values)
		}
	}
	if code == 0 {
		if err := goleak.Find(leakOptions()...); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: goroutines leaked by the suite: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// leakOptions are the goroutines goleak may find when the suite ends: none
// of memerr's. Toxiproxy's link goroutines are the one exception: when a
// timeout toxic swallows a stream, Toxiproxy v2.5.0 leaves the stub behind
// it blocked on a channel send after the proxy stopped (its own bug, not
// memerr's), so goroutines started by Toxiproxy's links are ignored.
func leakOptions() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2/toxics.(*ToxicStub).Run"),
		goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2.(*ToxicLink).read"),
		goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2.(*ToxicLink).write"),
	}
}
