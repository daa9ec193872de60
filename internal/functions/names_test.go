package functions

import (
	"testing"

	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/fault"
)

func TestParseRef(t *testing.T) {
	id := caller.Identity{Account: "123456789012", Region: "us-east-1"}
	q := func(s string) *string { return &s }
	cases := []struct {
		name      string
		qualifier *string
		want      Ref
		errKind   fault.Kind
		errMsg    string
	}{
		{name: "f", want: Ref{"123456789012", "us-east-1", "f", ""}},
		{name: "f:1", want: Ref{"123456789012", "us-east-1", "f", "1"}},
		{name: "f", qualifier: q("$LATEST"), want: Ref{"123456789012", "us-east-1", "f", "$LATEST"}},
		{name: "123456789012:function:f:live", want: Ref{"123456789012", "us-east-1", "f", "live"}},
		{name: "arn:aws:lambda:us-east-1:123456789012:function:f", want: Ref{"123456789012", "us-east-1", "f", ""}},
		{name: "arn:aws:lambda:us-east-1:123456789012:function:f:2", qualifier: q("2"), want: Ref{"123456789012", "us-east-1", "f", "2"}},
		{name: "f:1", qualifier: q("2"), errKind: fault.InvalidParameter, errMsg: "The derived qualifier from the function name does not match the specified qualifier."},
		{name: "arn:aws:lambda:us-west-2:123456789012:function:f", errKind: fault.NotFound, errMsg: "Functions from 'us-west-2' are not reachable in this region ('us-east-1')"},
		{name: "arn:aws:lambda:us-east-1:999999999999:function:f", errKind: fault.AccessDenied},
		{name: "my-function!", errKind: fault.Invalid},
		{name: "f:1:2", errKind: fault.Invalid},
	}
	for _, c := range cases {
		got, err := ParseRef(id, c.name, c.qualifier)
		if c.errKind != 0 {
			if !isFault(err, c.errKind, c.errMsg) {
				t.Errorf("%s: err = %v, want %s %q", c.name, err, c.errKind, c.errMsg)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: got %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
}

func TestRefARNs(t *testing.T) {
	r := Ref{"123456789012", "eu-west-1", "f", ""}
	if r.ARN() != "arn:aws:lambda:eu-west-1:123456789012:function:f" || r.VersionARN() != r.ARN()+":$LATEST" || r.QualifiedARN() != r.ARN() {
		t.Errorf("ARNs: %s %s %s", r.ARN(), r.VersionARN(), r.QualifiedARN())
	}
	r.Qualifier = "3"
	if r.QualifiedARN() != "arn:aws:lambda:eu-west-1:123456789012:function:f:3" || r.IsLatest() {
		t.Errorf("qualified: %s", r.QualifiedARN())
	}
}

// TestParseRefARNForms covers the ARN shapes AWS's functionName pattern
// allows and refuses, with the exact answer for each.
func TestParseRefARNForms(t *testing.T) {
	id := caller.Identity{Account: "123456789012", Region: "us-east-1"}
	invalid := func(name string) string {
		e, _ := fault.As(invalidName(name))
		return faultText(e)
	}
	cases := []struct {
		name    string
		want    Ref
		errKind fault.Kind
		errMsg  string
	}{
		// An ARN that stops at ":function" names the function "function".
		{name: "arn:aws:lambda:us-east-1:123456789012:function", want: Ref{"123456789012", "us-east-1", "function", ""}},
		{name: "arn:aws-cn:lambda:us-east-1:123456789012:function:f:$LATEST", want: Ref{"123456789012", "us-east-1", "f", "$LATEST"}},
		{name: "arn:aws:lambda:us-east-1:123456789012:function:a-b_C:live", want: Ref{"123456789012", "us-east-1", "a-b_C", "live"}},
		{name: "123456789012:function:f", want: Ref{"123456789012", "us-east-1", "f", ""}},
		{name: "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST.PUBLISHED", errKind: fault.Invalid},
		{name: "arn:aws:lambda:us-east-1:123456789012:function:f:", errKind: fault.Invalid},
		{name: "arn:aws:lambda:us-east-1:123456789012:function:f:1:2", errKind: fault.Invalid},
		{name: "arn:aws:lambda:us-east-1:123456789012:function:f.b", errKind: fault.Invalid, errMsg: invalid("arn:aws:lambda:us-east-1:123456789012:function:f.b")},
		{name: "arn:aws:lambda:us-east-1:123456789012:layer:f", errKind: fault.Invalid},
		{name: "arn:aws:sqs:us-east-1:123456789012:function:f", errKind: fault.Invalid},
		{name: "arn:AWS:lambda:us-east-1:123456789012:function:f", errKind: fault.Invalid},
		{name: "arn:aws:lambda:US-EAST-1:123456789012:function:f", errKind: fault.Invalid},
		{name: "arn:aws:lambda::123456789012:function:f", errKind: fault.Invalid},
		{name: "arn:aws:lambda:us-east-1:12345678901:function:f", errKind: fault.Invalid},
		{name: "arn:aws:lambda:us-east-1:123456789012", errKind: fault.Invalid},
		{name: "arn:aws:lambda:us-east-1:123456789012:function:f\n", errKind: fault.Invalid},
		// The region is checked before the account, as AWS does.
		{name: "arn:aws:lambda:eu-west-1:999999999999:function:f", errKind: fault.NotFound, errMsg: "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"},
		{name: "arn:aws:lambda:us-east-1:999999999999:function", errKind: fault.AccessDenied, errMsg: "User is not authorized to access arn:aws:lambda:us-east-1:999999999999:function: it belongs to another account."},
		{name: "999999999999:function:f:1", errKind: fault.AccessDenied},
		{name: "12345678901:function:f", errKind: fault.Invalid},
		{name: "123456789012:function:f:1:2", errKind: fault.Invalid},
	}
	for _, c := range cases {
		got, err := ParseRef(id, c.name, nil)
		if c.errKind != 0 {
			if !isFault(err, c.errKind, c.errMsg) {
				t.Errorf("%q: err = %v, want %s %q", c.name, err, c.errKind, c.errMsg)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: got %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
}

func TestTagRef(t *testing.T) {
	id := caller.Identity{Account: "123456789012", Region: "us-east-1"}
	cases := []struct {
		arn    string
		want   Ref
		errMsg string
	}{
		{arn: "arn:aws:lambda:us-east-1:123456789012:function:f", want: Ref{Account: "123456789012", Region: "us-east-1", Name: "f"}},
		{arn: "arn:aws:lambda:us-east-1:123456789012:function:f:1", errMsg: "Tags on function aliases and versions are not supported. Please specify a function ARN."},
		// Any qualifier, even one that is no version or alias name.
		{arn: "arn:aws:lambda:us-east-1:123456789012:function:f:a:b.c", errMsg: "Tags on function aliases and versions are not supported. Please specify a function ARN."},
		{arn: "arn:aws:lambda:us-east-1:123456789012:function:f:", errMsg: "Invalid ARN: arn:aws:lambda:us-east-1:123456789012:function:f:"},
		{arn: "arn:aws:lambda:us-east-1:123456789012:function", errMsg: "Invalid ARN: arn:aws:lambda:us-east-1:123456789012:function"},
		{arn: "f", errMsg: "Invalid ARN: f"},
		// The account is checked before the region here.
		{arn: "arn:aws:lambda:eu-west-1:999999999999:function:f", errMsg: "User is not authorized to access arn:aws:lambda:eu-west-1:999999999999:function:f: it belongs to another account."},
		{arn: "arn:aws:lambda:eu-west-1:123456789012:function:f", errMsg: "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"},
	}
	for _, c := range cases {
		got, err := tagRef(id, c.arn)
		if c.errMsg != "" {
			if e, ok := fault.As(err); !ok || faultText(e) != c.errMsg {
				t.Errorf("%q: err = %v, want %q", c.arn, err, c.errMsg)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: got %+v, %v; want %+v", c.arn, got, err, c.want)
		}
	}
}

func TestLayerAndDestinationARNs(t *testing.T) {
	layers := []struct {
		arn     string
		ok      bool
		ref     LayerRef
		version string
	}{
		{"arn:aws:lambda:us-east-1:123456789012:layer:l:3", true, LayerRef{"123456789012", "us-east-1", "l"}, "3"},
		{"arn:aws:lambda:eu-west-1:123456789012:layer:my_l-2", true, LayerRef{"123456789012", "eu-west-1", "my_l-2"}, ""},
		{"arn:aws:lambda:us-east-1:123456789012:layer:l:x", false, LayerRef{}, ""},
		{"arn:aws:lambda:us-east-1:123456789012:layer:l:", false, LayerRef{}, ""},
		{"arn:aws:lambda:us-east-1:123456789012:layer:l:1:2", false, LayerRef{}, ""},
		{"arn:aws:lambda:us-east-1:123456789012:function:l:1", false, LayerRef{}, ""},
		{"l", false, LayerRef{}, ""},
	}
	for _, c := range layers {
		ref, version, ok := layerARN(c.arn)
		if ok != c.ok || ref != c.ref || version != c.version {
			t.Errorf("layerARN(%q) = %+v, %q, %v; want %+v, %q, %v", c.arn, ref, version, ok, c.ref, c.version, c.ok)
		}
	}
	dests := []struct {
		arn     string
		service string
	}{
		{"arn:aws:sqs:us-east-1:123456789012:queue", "sqs"},
		{"arn:aws:sns:us-east-1:123456789012:topic:with:colons", "sns"},
		{"arn:aws:s3:::bucket", "s3"},
		{"arn:aws:lambda:us-east-1:123456789012:function:f", "lambda"},
		{"arn:aws:events:us-east-1:123456789012:", "events"},
		{"arn:aws:sqs:us-east-1:1234:queue", ""},
		{"arn:aws::us-east-1:123456789012:queue", ""},
		{"arn:gcp:sqs:us-east-1:123456789012:queue", ""},
		{"arn:aws:sqs:us-east-1:123456789012", ""},
		{"arn:aws:sqs:us-east-1:123456789012:a\nb", ""},
	}
	for _, c := range dests {
		service, ok := destinationService(c.arn)
		if service != c.service || ok != (c.service != "") {
			t.Errorf("destinationService(%q) = %q, %v; want %q", c.arn, service, ok, c.service)
		}
	}
}
