// Package integration holds memerr's fault-injection suite: the Client and
// Transport against real nginx, an in-process Toxiproxy, a soak with mixed
// faults, hostile inputs, and a check that no credential leaks into logs or
// error strings. It is a separate module so that its heavy test
// dependencies never reach the library's go.mod.
//
// Run it with ../.ci/integration, or go test ./... from this directory.
package integration
