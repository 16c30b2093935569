//go:build race

package memerrotel_test

// raceOn reports that the race detector is on.
const raceOn = true
