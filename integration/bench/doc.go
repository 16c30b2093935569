// Package bench compares memerr's Transport with the resilience layers a Go
// service would otherwise use — go-retryablehttp and failsafe-go — on the
// success path, in one run: on loopback (bench_test.go), and over an
// in-memory base that takes the network out, leaving the time each layer
// adds to a request (overhead_test.go). Run them with
//
//	cd integration && go test -run '^$' -bench . -count 6 ./bench
//
// memerr's own benchmarks (body sizes, contention, decoding) are in the
// root package's bench_test.go; the failure-path table is printed by
// ../cmd/failpath. BENCHMARKS.md at the repository root has the figures.
package bench
