// Package logsspec is the CloudWatch Logs API (JSON 1.1) as AWS's model
// describes it: shapes, enums, operations and error shapes. zz_generated.go
// is made from ../model/logs-2014-03-28/service-2.json (botocore's, kept in
// the repository) by ../gen; this file holds what the generated code is
// written against.
package logsspec

//go:generate go run ../gen -pkg logsspec -model ../model/logs-2014-03-28/service-2.json -out zz_generated.go

// Op is one operation of the model.
type Op struct {
	Name       string
	Deprecated bool
	NewInput   func() any
	NewOutput  func() any
	Errors     []string
}
