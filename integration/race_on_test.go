//go:build race

package integration

// raceOn reports that the race detector is on: timings are not figures.
const raceOn = true
