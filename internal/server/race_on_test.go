//go:build race

package server_test

// raceDetector tells tests that move tens of megabytes that every byte
// costs several times more under -race.
const raceDetector = true
