package server_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

func TestListFunctionsPagination(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	zip := testkit.HandlerZip(t, "tiny\n")
	const n = 120
	want := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i := range n {
		want[i] = fmt.Sprintf("fn-page-%03d", i)
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := c.CreateFunction(ctx, testkit.CreateInput(name, zip)); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		}(want[i])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Three of them get versions, for FunctionVersion=ALL.
	for _, name := range want[:3] {
		testkit.WaitActive(t, c, name)
		if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}

	// Default pages hold at most 50 and the paginator sees every function once, in name order.
	var got []string
	pages := 0
	p := lambda.NewListFunctionsPaginator(c, &lambda.ListFunctionsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page.Functions) > 50 {
			t.Errorf("page %d has %d functions, want at most 50", pages, len(page.Functions))
		}
		for _, f := range page.Functions {
			got = append(got, aws.ToString(f.FunctionName))
			if aws.ToString(f.FunctionArn) != testkit.FnARN(aws.ToString(f.FunctionName)) {
				t.Errorf("ListFunctions ARN = %s, want unqualified", aws.ToString(f.FunctionArn))
			}
			if f.State != "" || f.LastUpdateStatus != "" || f.RuntimeVersionConfig != nil || f.StateReason != nil {
				t.Errorf("list item %s has state fields: %s %s %v", aws.ToString(f.FunctionName), f.State, f.LastUpdateStatus, f.RuntimeVersionConfig)
			}
		}
	}
	if pages != 3 {
		t.Errorf("ListFunctions took %d pages for 120 functions, want 3", pages)
	}
	if !slices.Equal(got, want) {
		t.Errorf("ListFunctions listed %d names, want the %d created in order; first %v", len(got), len(want), got[:min(5, len(got))])
	}

	// MaxItems bounds pages.
	got = got[:0]
	pages = 0
	p = lambda.NewListFunctionsPaginator(c, &lambda.ListFunctionsInput{MaxItems: aws.Int32(7)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page.Functions) > 7 {
			t.Errorf("MaxItems 7 gave a page of %d", len(page.Functions))
		}
		for _, f := range page.Functions {
			got = append(got, aws.ToString(f.FunctionName))
		}
	}
	if pages != 18 || !slices.Equal(got, want) {
		t.Errorf("MaxItems 7: %d pages, %d names; want 18 pages and every name once", pages, len(got))
	}
	// MaxItems above 50 is capped at 50.
	page, err := c.ListFunctions(ctx, &lambda.ListFunctionsInput{MaxItems: aws.Int32(10000)})
	if err == nil && (len(page.Functions) != 50 || page.NextMarker == nil) {
		t.Errorf("MaxItems 10000: %d functions, NextMarker %v; want 50 and a marker", len(page.Functions), page.NextMarker)
	}
	if err != nil {
		// The model bounds MaxItems to 1..10000, so 10000 must be accepted.
		t.Errorf("MaxItems 10000: %v", err)
	}

	// FunctionVersion=ALL: $LATEST (qualified) then each version.
	var all []string
	p = lambda.NewListFunctionsPaginator(c, &lambda.ListFunctionsInput{FunctionVersion: types.FunctionVersionAll, MaxItems: aws.Int32(4)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range page.Functions {
			all = append(all, aws.ToString(f.FunctionArn))
		}
	}
	if len(all) != n+3 {
		t.Errorf("FunctionVersion=ALL listed %d items, want %d", len(all), n+3)
	}
	wantHead := []string{
		testkit.FnARN("fn-page-000") + ":$LATEST", testkit.FnARN("fn-page-000") + ":1",
		testkit.FnARN("fn-page-001") + ":$LATEST", testkit.FnARN("fn-page-001") + ":1",
		testkit.FnARN("fn-page-002") + ":$LATEST", testkit.FnARN("fn-page-002") + ":1",
		testkit.FnARN("fn-page-003") + ":$LATEST",
	}
	if len(all) >= len(wantHead) && !slices.Equal(all[:len(wantHead)], wantHead) {
		t.Errorf("FunctionVersion=ALL starts %v, want %v", all[:len(wantHead)], wantHead)
	}
	seen := map[string]bool{}
	for _, a := range all {
		if seen[a] {
			t.Errorf("FunctionVersion=ALL lists %s twice", a)
		}
		seen[a] = true
	}
}

func TestListVersionsByFunction(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	name := "fn-versions"
	testkit.CreateActive(t, c, testkit.CreateInput(name, testkit.HandlerZip(t, "a\n")))
	const versions = 7
	for i := 1; i <= versions; i++ {
		// A new description each time makes a new version.
		v, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(name), Description: aws.String("v" + strconv.Itoa(i))})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(v.Version) != strconv.Itoa(i) {
			t.Fatalf("publish #%d gave version %s", i, aws.ToString(v.Version))
		}
	}
	var got []string
	p := lambda.NewListVersionsByFunctionPaginator(c, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String(name), MaxItems: aws.Int32(3)})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page.Versions) > 3 {
			t.Errorf("page of %d versions with MaxItems 3", len(page.Versions))
		}
		for _, v := range page.Versions {
			got = append(got, aws.ToString(v.Version))
			wantARN := testkit.FnARN(name) + ":" + aws.ToString(v.Version)
			if aws.ToString(v.FunctionArn) != wantARN {
				t.Errorf("version %s ARN = %s, want %s", aws.ToString(v.Version), aws.ToString(v.FunctionArn), wantARN)
			}
			if v.State != "" || v.LastUpdateStatus != "" || v.RuntimeVersionConfig != nil {
				t.Errorf("version item has state fields: %s %s", v.State, v.LastUpdateStatus)
			}
		}
	}
	want := []string{"$LATEST", "1", "2", "3", "4", "5", "6", "7"}
	if !slices.Equal(got, want) || pages != 3 {
		t.Errorf("versions = %v in %d pages, want %v in 3", got, pages, want)
	}
	_, err := c.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("fn-none")})
	testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.FnARN("fn-none"))
}

// TestSubresourcePagination pages through a function's aliases, event
// invoke configs and URLs one item at a time with the SDK's paginators:
// every item comes exactly once, in order.
func TestSubresourcePagination(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	name := "fn-subpages"
	fn := aws.String(name)
	testkit.CreateActive(t, c, testkit.CreateInput(name, testkit.HandlerZip(t, "a\n")))
	v, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: fn})
	if err != nil {
		t.Fatal(err)
	}
	aliases := []string{"a1", "a2", "a3", "a4"}
	for _, a := range aliases {
		if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: fn, Name: aws.String(a), FunctionVersion: v.Version}); err != nil {
			t.Fatal(err)
		}
	}
	qualifiers := append([]string{"$LATEST"}, aliases...)
	for _, q := range qualifiers {
		if _, err := c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: fn, Qualifier: aws.String(q), MaximumRetryAttempts: aws.Int32(1)}); err != nil {
			t.Fatal(err)
		}
		in := &lambda.CreateFunctionUrlConfigInput{FunctionName: fn, AuthType: types.FunctionUrlAuthTypeNone}
		if q != "$LATEST" {
			in.Qualifier = aws.String(q)
		}
		if _, err := c.CreateFunctionUrlConfig(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	one := aws.Int32(1)

	var gotAliases []string
	pa := lambda.NewListAliasesPaginator(c, &lambda.ListAliasesInput{FunctionName: fn, MaxItems: one})
	for pa.HasMorePages() {
		page, err := pa.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.Aliases {
			gotAliases = append(gotAliases, aws.ToString(a.Name))
		}
	}
	if !slices.Equal(gotAliases, aliases) {
		t.Errorf("aliases = %v, want %v", gotAliases, aliases)
	}

	var gotConfigs []string
	pc := lambda.NewListFunctionEventInvokeConfigsPaginator(c, &lambda.ListFunctionEventInvokeConfigsInput{FunctionName: fn, MaxItems: one})
	for pc.HasMorePages() {
		page, err := pc.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, cfg := range page.FunctionEventInvokeConfigs {
			arn := aws.ToString(cfg.FunctionArn)
			gotConfigs = append(gotConfigs, arn[strings.LastIndexByte(arn, ':')+1:])
		}
	}
	// Keys sort bytewise: "$LATEST" before the aliases.
	if !slices.Equal(gotConfigs, qualifiers) {
		t.Errorf("event invoke configs = %v, want %v", gotConfigs, qualifiers)
	}

	gotURLs := 0
	pu := lambda.NewListFunctionUrlConfigsPaginator(c, &lambda.ListFunctionUrlConfigsInput{FunctionName: fn, MaxItems: one})
	for pu.HasMorePages() {
		page, err := pu.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.FunctionUrlConfigs) > 1 {
			t.Errorf("a page of %d URLs with MaxItems 1", len(page.FunctionUrlConfigs))
		}
		gotURLs += len(page.FunctionUrlConfigs)
	}
	if gotURLs != len(qualifiers) {
		t.Errorf("%d URL configs over the pages, want %d", gotURLs, len(qualifiers))
	}
}
