package functions

import (
	"errors"
	"testing"

	"github.com/lambdad/lambdad/internal/awsproto"
)

func TestParseRef(t *testing.T) {
	id := awsproto.Identity{Account: "123456789012", Region: "us-east-1"}
	q := func(s string) *string { return &s }
	cases := []struct {
		name      string
		qualifier *string
		want      Ref
		errCode   string
		errMsg    string
	}{
		{name: "f", want: Ref{"123456789012", "us-east-1", "f", ""}},
		{name: "f:1", want: Ref{"123456789012", "us-east-1", "f", "1"}},
		{name: "f", qualifier: q("$LATEST"), want: Ref{"123456789012", "us-east-1", "f", "$LATEST"}},
		{name: "123456789012:function:f:live", want: Ref{"123456789012", "us-east-1", "f", "live"}},
		{name: "arn:aws:lambda:us-east-1:123456789012:function:f", want: Ref{"123456789012", "us-east-1", "f", ""}},
		{name: "arn:aws:lambda:us-east-1:123456789012:function:f:2", qualifier: q("2"), want: Ref{"123456789012", "us-east-1", "f", "2"}},
		{name: "f:1", qualifier: q("2"), errCode: "InvalidParameterValueException", errMsg: "The derived qualifier from the function name does not match the specified qualifier."},
		{name: "arn:aws:lambda:us-west-2:123456789012:function:f", errCode: "ResourceNotFoundException", errMsg: "Functions from 'us-west-2' are not reachable in this region ('us-east-1')"},
		{name: "arn:aws:lambda:us-east-1:999999999999:function:f", errCode: "AccessDeniedException"},
		{name: "my-function!", errCode: "ValidationException"},
		{name: "f:1:2", errCode: "ValidationException"},
	}
	for _, c := range cases {
		got, err := ParseRef(id, c.name, c.qualifier)
		if c.errCode != "" {
			var e *awsproto.Error
			if !errors.As(err, &e) || e.Code != c.errCode || (c.errMsg != "" && e.Message != c.errMsg) {
				t.Errorf("%s: err = %v, want %s %q", c.name, err, c.errCode, c.errMsg)
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
