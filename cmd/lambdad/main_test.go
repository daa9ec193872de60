package main

import (
	"os"
	"testing"

	"github.com/lambdad/lambdad/internal/testkit"
)

// lambdadBin is this command, built once for all the tests that run the
// real binary.
var lambdadBin = testkit.NewBinary(".")

func TestMain(m *testing.M) {
	code := m.Run()
	lambdadBin.Remove()
	os.Exit(code)
}
