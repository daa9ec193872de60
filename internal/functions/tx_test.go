package functions

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

func TestListPage(t *testing.T) {
	f := newFixture(t)
	i32p := func(n int32) *int32 { return &n }
	cases := []struct {
		name     string
		marker   *string
		max      *int32
		wantN    int
		wantFrom string
		kind     fault.Kind
		msg      string
	}{
		{name: "no marker, no max", wantN: MaxPageSize},
		{name: "max", max: i32p(3), wantN: 3},
		{name: "max 0 is the default", max: i32p(0), wantN: MaxPageSize},
		{name: "max over the limit", max: i32p(MaxPageSize + 1), wantN: MaxPageSize},
		{name: "marker", marker: encodeMarker("k/07"), wantN: MaxPageSize, wantFrom: "k/07"},
		{name: "empty marker", marker: str(""), wantN: MaxPageSize},
		{name: "bad marker", marker: str("!!"), kind: fault.InvalidParameter, msg: "Invalid marker: !!"},
	}
	for _, c := range cases {
		var got page
		items, next, err := listPage(f.ctx, f.s, c.marker, c.max, func(_ store.Tx, p page) ([]string, *string, error) {
			got = p
			return nil, nil, nil
		})
		if c.msg != "" {
			wantFault(t, c.name, err, c.kind, "", c.msg)
			continue
		}
		if err != nil || got.n != c.wantN || got.after != c.wantFrom {
			t.Errorf("%s: page %+v, %v; want n %d after %q", c.name, got, err, c.wantN, c.wantFrom)
		}
		if items == nil || len(items) != 0 || next != nil {
			t.Errorf("%s: an empty page is %#v, %v; want [] (never null) and no marker", c.name, items, next)
		}
	}
	boom := errors.New("boom")
	if _, _, err := listPage(f.ctx, f.s, nil, nil, func(store.Tx, page) ([]int, *string, error) { return []int{1}, nil, boom }); !errors.Is(err, boom) {
		t.Errorf("a failed read: %v", err)
	}
}

// TestPagination reads every list page by page, with each page size, and
// checks the pages join up to the whole list: nothing lost, nothing twice.
func TestPagination(t *testing.T) {
	f := newFixture(t)
	for _, n := range []string{"d", "a", "e", "c", "b"} {
		f.create(n)
	}
	for _, n := range []string{"b", "d"} {
		f.publish(n)
		if _, err := f.s.UpdateConfiguration(f.ctx, f.ref(n, ""), &spec.UpdateFunctionConfigurationRequest{Description: str("2")}); err != nil {
			t.Fatal(err)
		}
		f.settle()
		f.publish(n)
	}
	fn := f.ref("b", "")
	for _, a := range []string{"zeta", "alpha", "mu"} {
		if _, err := f.s.CreateAlias(f.ctx, fn, &spec.CreateAliasRequest{Name: str(a), FunctionVersion: str("1")}); err != nil {
			t.Fatal(err)
		}
	}
	// A URL on the function itself (qualifier "") and on an alias.
	for _, q := range []string{"", "mu"} {
		if _, err := f.s.CreateURL(f.ctx, f.ref("b", q), &spec.CreateFunctionUrlConfigRequest{AuthType: str("NONE")}, urlBase); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{"1", "2", Latest} {
		if _, err := f.s.PutEventConfig(f.ctx, f.ref("b", q), i32(1), nil, nil, false); err != nil {
			t.Fatal(err)
		}
	}
	type lister func(marker *string, max int32) ([]string, *string, error)
	names := func(cs []spec.FunctionConfiguration) []string {
		var out []string
		for _, c := range cs {
			out = append(out, strings.TrimPrefix(*c.FunctionArn, arnPrefix))
		}
		return out
	}
	lists := []struct {
		name  string
		list  lister
		whole string
	}{
		{"ListFunctions", func(m *string, max int32) ([]string, *string, error) {
			l, err := f.s.List(f.ctx, f.id, m, &max, false)
			if err != nil {
				return nil, nil, err
			}
			return names(l.Functions), l.NextMarker, nil
		}, "[a b c d e]"},
		{"ListFunctions ALL", func(m *string, max int32) ([]string, *string, error) {
			l, err := f.s.List(f.ctx, f.id, m, &max, true)
			if err != nil {
				return nil, nil, err
			}
			return names(l.Functions), l.NextMarker, nil
		}, "[a:$LATEST b:$LATEST b:1 b:2 c:$LATEST d:$LATEST d:1 d:2 e:$LATEST]"},
		{"ListVersionsByFunction", func(m *string, max int32) ([]string, *string, error) {
			l, err := f.s.ListVersions(f.ctx, f.ref("d", ""), m, &max)
			if err != nil {
				return nil, nil, err
			}
			return names(l.Versions), l.NextMarker, nil
		}, "[d:$LATEST d:1 d:2]"},
		{"ListAliases", func(m *string, max int32) ([]string, *string, error) {
			l, err := f.s.ListAliases(f.ctx, fn, nil, m, &max)
			if err != nil {
				return nil, nil, err
			}
			var out []string
			for _, a := range l.Aliases {
				out = append(out, *a.Name)
			}
			return out, l.NextMarker, nil
		}, "[alpha mu zeta]"},
		{"ListFunctionUrlConfigs", func(m *string, max int32) ([]string, *string, error) {
			l, err := f.s.ListURLs(f.ctx, fn, m, &max, urlBase)
			if err != nil {
				return nil, nil, err
			}
			var out []string
			for _, u := range l.FunctionUrlConfigs {
				out = append(out, strings.TrimPrefix(*u.FunctionArn, arnPrefix))
			}
			return out, l.NextMarker, nil
		}, "[b b:mu]"},
		{"ListFunctionEventInvokeConfigs", func(m *string, max int32) ([]string, *string, error) {
			l, err := f.s.ListEventConfigs(f.ctx, fn, m, &max)
			if err != nil {
				return nil, nil, err
			}
			var out []string
			for _, c := range l.FunctionEventInvokeConfigs {
				out = append(out, strings.TrimPrefix(*c.FunctionArn, arnPrefix))
			}
			return out, l.NextMarker, nil
		}, "[b:$LATEST b:1 b:2]"},
	}
	for _, l := range lists {
		for max := int32(1); max <= 10; max++ {
			var all []string
			var marker *string
			pages := 0
			for {
				items, next, err := l.list(marker, max)
				if err != nil {
					t.Fatalf("%s max %d: %v", l.name, max, err)
				}
				if len(items) > int(max) || len(items) == 0 && pages > 0 {
					t.Errorf("%s max %d: page of %d", l.name, max, len(items))
				}
				all = append(all, items...)
				pages++
				if next == nil || pages > 20 {
					break
				}
				marker = next
			}
			if got := fmt.Sprint(all); got != l.whole {
				t.Errorf("%s by %d: %s, want %s", l.name, max, got, l.whole)
			}
		}
		_, _, err := l.list(str("!!"), 1)
		wantFault(t, l.name+" bad marker", err, fault.InvalidParameter, "", "Invalid marker: !!")
	}
}
