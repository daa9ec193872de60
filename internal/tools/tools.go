//go:build tools

// Package tools pins modules that only test programs under testdata use
// (go mod tidy does not look into testdata): aws-lambda-go builds the Go
// bootstraps the sandbox and invoke tests run.
package tools

import (
	_ "github.com/aws/aws-lambda-go/lambda"
)
