package server_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

func TestInvokeReservedConcurrency(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, nil)
	ctx := context.Background()
	name := "go-conc"
	testkit.CreateActive(t, c, testkit.GoFunction(name, testkit.GoBootstrapZip(t, "testdata/goecho")))
	fn := aws.String(name)

	unreserved := func() int32 {
		t.Helper()
		out, err := c.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToInt32(out.AccountLimit.UnreservedConcurrentExecutions)
	}
	total := unreserved()
	if total != 1000 {
		t.Errorf("UnreservedConcurrentExecutions with nothing reserved = %d, want the default limit 1000", total)
	}
	put := func(n int32) {
		t.Helper()
		out, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: fn, ReservedConcurrentExecutions: aws.Int32(n)})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToInt32(out.ReservedConcurrentExecutions) != n {
			t.Errorf("PutFunctionConcurrency answered %d, want %d", aws.ToInt32(out.ReservedConcurrentExecutions), n)
		}
	}

	t.Run("zero refuses every sync invoke", func(t *testing.T) {
		put(0)
		got, err := c.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: fn})
		if err != nil || got.ReservedConcurrentExecutions == nil || *got.ReservedConcurrentExecutions != 0 {
			t.Fatalf("GetFunctionConcurrency = %v, %v; want 0", got, err)
		}
		_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: fn, Payload: []byte(`{}`)})
		testkit.APIErr(t, err, "TooManyRequestsException", 429, "Rate Exceeded.")
		var tm *types.TooManyRequestsException
		if !errors.As(err, &tm) || tm.Reason != types.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded {
			t.Errorf("want TooManyRequestsException with Reason ReservedFunctionConcurrentInvocationLimitExceeded, got %#v", err)
		}
		// The exact wire body, as AWS recorded it.
		raw := testkit.RawInvoke(t, d.URL, name, nil, []byte(`{}`))
		want := map[string]string{"Type": "User", "message": "Rate Exceeded.", "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"}
		if body := testkit.DecodeJSON[map[string]string](t, raw.Body); raw.Status != 429 || !reflect.DeepEqual(body, want) ||
			!strings.HasPrefix(raw.Header.Get("X-Amzn-ErrorType"), "TooManyRequestsException") {
			t.Errorf("raw throttle: %d %q %s, want 429 TooManyRequestsException %v", raw.Status, raw.Header.Get("X-Amzn-ErrorType"), raw.Body, want)
		}
		// Published versions share the function's reservation.
		if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: fn}); err != nil {
			t.Fatal(err)
		}
		_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: fn, Qualifier: aws.String("1")})
		testkit.APIErr(t, err, "TooManyRequestsException", 429, "Rate Exceeded.")
		// An Event invoke is still accepted.
		var st testkit.RawStatus
		if out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: fn, InvocationType: types.InvocationTypeEvent, Payload: []byte(`{}`)}, st.Option()); err != nil || st.Code != 202 || out.StatusCode != 202 {
			t.Errorf("Event invoke with zero reserved: %v (HTTP %d), want 202", err, st.Code)
		}
		// DryRun checks permissions and existence, not capacity.
		if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: fn, InvocationType: types.InvocationTypeDryRun}); err != nil {
			t.Errorf("DryRun with zero reserved: %v", err)
		}
	})

	t.Run("one allows one at a time", func(t *testing.T) {
		put(1)
		if got := unreserved(); got != total-1 {
			t.Errorf("UnreservedConcurrentExecutions = %d with 1 reserved, want %d", got, total-1)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: fn, Payload: []byte(`{"op":"sleep","ms":1500}`)})
			})
		}
		wg.Wait()
		ok, throttled := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case testkit.IsType[*types.TooManyRequestsException](err):
				throttled++
			default:
				t.Errorf("concurrent invoke: %v", err)
			}
		}
		if ok != 1 || throttled != 1 {
			t.Errorf("two concurrent invokes with 1 reserved: %d ran, %d throttled; want 1 and 1", ok, throttled)
		}
		// Once the first is done, the slot is free again.
		if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: fn, Payload: []byte(`{"op":"echo"}`)}); err != nil {
			t.Errorf("invoke after the slot freed: %v", err)
		}
	})

	t.Run("delete removes the limit", func(t *testing.T) {
		put(5)
		if got := unreserved(); got != total-5 {
			t.Errorf("UnreservedConcurrentExecutions = %d with 5 reserved, want %d", got, total-5)
		}
		var st testkit.RawStatus
		if _, err := c.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: fn}, st.Option()); err != nil {
			t.Fatal(err)
		}
		if st.Code != 204 {
			t.Errorf("DeleteFunctionConcurrency status = %d, want 204", st.Code)
		}
		got, err := c.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: fn})
		if err != nil || got.ReservedConcurrentExecutions != nil {
			t.Errorf("GetFunctionConcurrency after delete = %v, %v; want no value", got, err)
		}
		if got := unreserved(); got != total {
			t.Errorf("UnreservedConcurrentExecutions after delete = %d, want %d", got, total)
		}
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: fn, Payload: []byte(`{"op":"sleep","ms":300}`)})
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Errorf("concurrent invoke without a reservation: %v", err)
			}
		}
	})
}

func TestInvokeAccountConcurrencyLimit(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, func(cfg *server.Config) { cfg.ConcurrencyLimit = 2 })
	ctx := context.Background()
	testkit.CreateActive(t, c, testkit.GoFunction("go-acct", testkit.GoBootstrapZip(t, "testdata/goecho")))
	out, err := c.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if out.AccountLimit.ConcurrentExecutions != 2 {
		t.Errorf("ConcurrentExecutions = %d, want the configured 2", out.AccountLimit.ConcurrentExecutions)
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("go-acct"), Payload: []byte(`{"op":"sleep","ms":1500}`)})
		})
	}
	wg.Wait()
	throttled := 0
	for _, err := range errs {
		var tm *types.TooManyRequestsException
		if errors.As(err, &tm) {
			throttled++
			if tm.Reason != types.ThrottleReasonConcurrentInvocationLimitExceeded {
				t.Errorf("Reason = %q, want ConcurrentInvocationLimitExceeded", tm.Reason)
			}
		} else if err != nil {
			t.Errorf("invoke: %v", err)
		}
	}
	if throttled != 1 {
		t.Errorf("3 concurrent invokes under an account limit of 2: %d throttled, want 1", throttled)
	}
}
