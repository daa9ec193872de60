package functions

import (
	"fmt"
	"testing"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/limits"
	"github.com/lambdad/lambdad/internal/spec"
)

func TestEventInvokeConfigRules(t *testing.T) {
	f := newFixture(t)
	f.create("f")
	f.create("g")
	fn := f.ref("f", "")
	dest := func(success, failure string) *spec.DestinationConfig {
		d := &spec.DestinationConfig{}
		if success != "" {
			d.OnSuccess = &spec.OnSuccess{Destination: str(success)}
		}
		if failure != "" {
			d.OnFailure = &spec.OnFailure{Destination: str(failure)}
		}
		return d
	}
	cases := []struct {
		name string
		dest *spec.DestinationConfig
		kind fault.Kind
		msg  string
	}{
		{"itself", dest(arnPrefix+"f", ""), fault.InvalidParameter, "You can't specify the function as a destination for itself."},
		{"missing function", dest("", arnPrefix+"nofn"), fault.InvalidParameter, "The destination ARN " + arnPrefix + "nofn is invalid."},
		{"queue", dest("arn:aws:sqs:us-east-1:123456789012:q", ""), fault.NotImplemented,
			"Destinations of type sqs (arn:aws:sqs:us-east-1:123456789012:q) is not implemented by lambdad yet."},
		{"not an ARN", dest("garbage", ""), fault.InvalidParameter,
			"The provided destination config DestinationConfig(onSuccess=OnSuccess(destination=garbage), onFailure=null) is invalid."},
		{"another function", dest("", arnPrefix+"g"), 0, ""},
	}
	for _, c := range cases {
		_, err := f.s.PutEventConfig(f.ctx, fn, nil, nil, c.dest, false)
		if c.msg == "" {
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			continue
		}
		wantFault(t, c.name, err, c.kind, "", c.msg)
	}
	_, err := f.s.PutEventConfig(f.ctx, fn, nil, nil, nil, true)
	wantFault(t, "nothing to set", err, fault.InvalidParameter, "", "You must specify at least one of error handling or destination setting.")
	// Update merges; Put replaces.
	if _, err := f.s.PutEventConfig(f.ctx, fn, i32(0), nil, nil, true); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.s.EventConfig(f.ctx, fn)
	if err != nil || cfg.Attempts() != 1 || cfg.OnFailure != arnPrefix+"g" || cfg.MaxAge() != DefaultMaxEventAge {
		t.Fatalf("merged config: %+v, %v", cfg, err)
	}
	if _, err := f.s.PutEventConfig(f.ctx, fn, nil, i32(60), nil, false); err != nil {
		t.Fatal(err)
	}
	cfg, _ = f.s.EventConfig(f.ctx, fn)
	if cfg.Attempts() != 1+DefaultRetryAttempts || cfg.OnFailure != "" || cfg.MaxAge().Seconds() != 60 {
		t.Errorf("replaced config: %+v", cfg)
	}
}

func TestConcurrencyRules(t *testing.T) {
	f := newFixture(t)
	f.create("f")
	f.create("g")
	most := int32(limits.DefaultConcurrentExecutions - limits.MinUnreservedConcurrency)
	below := fmt.Sprintf("Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", limits.MinUnreservedConcurrency)
	cases := []struct {
		name string
		ref  Ref
		n    int32
		kind fault.Kind
		msg  string
	}{
		{"qualified", f.ref("f", "1"), 1, fault.InvalidParameter,
			"This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN."},
		{"over the account's", f.ref("f", ""), most + 1, fault.InvalidParameter, below},
		{"g", f.ref("g", ""), 10, 0, ""},
		{"f over what g leaves", f.ref("f", ""), most - 9, fault.InvalidParameter, below},
		{"f up to what g leaves", f.ref("f", ""), most - 10, 0, ""},
		{"f again, replacing its own", f.ref("f", ""), most - 10, 0, ""},
	}
	for _, c := range cases {
		_, err := f.s.PutConcurrency(f.ctx, c.ref, c.n)
		if c.msg == "" {
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			continue
		}
		wantFault(t, c.name, err, c.kind, "", c.msg)
	}
	acct, err := f.s.AccountSettings(f.ctx, f.id)
	if err != nil || *acct.AccountLimit.UnreservedConcurrentExecutions != limits.MinUnreservedConcurrency || *acct.AccountUsage.FunctionCount != 2 {
		t.Fatalf("account settings: %+v, %v", acct, err)
	}
	if err := f.s.DeleteConcurrency(f.ctx, f.ref("f", "")); err != nil {
		t.Fatal(err)
	}
	if n, err := f.s.GetConcurrency(f.ctx, f.ref("f", "")); err != nil || n != nil {
		t.Errorf("after delete: %v, %v", n, err)
	}
}

func TestTagRules(t *testing.T) {
	f := newFixture(t)
	f.create("f", func(in *spec.CreateFunctionRequest) { in.Tags = map[string]string{"keep": "1"} })
	arn := arnPrefix + "f"
	many := map[string]string{}
	for i := range maxTags {
		many[fmt.Sprint("k", i)] = "v"
	}
	err := f.s.Tag(f.ctx, f.id, arn, nil)
	wantFault(t, "no tags", err, fault.InvalidParameter, "", "An error occurred and the request cannot be processed.")
	err = f.s.Tag(f.ctx, f.id, arn, many) // 50 new and the one it has
	wantFault(t, "over the limit", err, fault.InvalidParameter, "", "Number of tags exceeds resource tag limit.")
	if err := f.s.Tag(f.ctx, f.id, arn, map[string]string{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Untag(f.ctx, f.id, arn, []string{"keep", "never"}); err != nil {
		t.Fatal(err)
	}
	tags, err := f.s.Tags(f.ctx, f.id, arn)
	if err != nil || fmt.Sprint(tags) != "map[a:b]" {
		t.Errorf("tags: %v, %v", tags, err)
	}
	f.create("bare")
	if tags, err := f.s.Tags(f.ctx, f.id, arnPrefix+"bare"); err != nil || tags == nil || len(tags) != 0 {
		t.Errorf("no tags: %#v, %v; want an empty map", tags, err)
	}
}

func TestURLRules(t *testing.T) {
	f := newFixture(t)
	f.create("f")
	fn := f.ref("f", "")
	create := func(ref Ref, mode *string) (*spec.FunctionUrlConfig, error) {
		return f.s.CreateURL(f.ctx, ref, &spec.CreateFunctionUrlConfigRequest{AuthType: str("NONE"), InvokeMode: mode}, urlBase)
	}
	u, err := create(fn, nil)
	if err != nil || *u.InvokeMode != "BUFFERED" || *u.FunctionArn != arnPrefix+"f" {
		t.Fatalf("create: %+v, %v", u, err)
	}
	_, err = create(fn, nil)
	wantFault(t, "twice", err, fault.Conflict, "FunctionUrlConfig",
		"Failed to create function url config for [functionArn = "+arnPrefix+"f]. Error message:  FunctionUrlConfig exists for this Lambda function")
	if up, err := f.s.UpdateURL(f.ctx, fn, &spec.UpdateFunctionUrlConfigRequest{InvokeMode: str("RESPONSE_STREAM")}, urlBase); err != nil || *up.InvokeMode != "RESPONSE_STREAM" {
		t.Errorf("update to streaming: %+v, %v", up, err)
	}
	// The id leads to the function until the function goes.
	id := (*u.FunctionUrl)[len("http://"):][:32]
	target, err := f.s.URL(f.ctx, id)
	if err != nil || target == nil || target.Ref != fn {
		t.Fatalf("URL(%s) = %+v, %v", id, target, err)
	}
	if err := f.s.Delete(f.ctx, fn); err != nil {
		t.Fatal(err)
	}
	if target, err := f.s.URL(f.ctx, id); err != nil || target != nil {
		t.Errorf("URL of a deleted function = %+v, %v", target, err)
	}
}
