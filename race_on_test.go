//go:build race

package memerr

// raceOn reports that the race detector is on.
const raceOn = true
