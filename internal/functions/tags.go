package functions

import (
	"context"
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/store"
)

// maxTags is AWS's limit of tags on one function.
const maxTags = 50

// tagRef resolves the Resource of TagResource/UntagResource/ListTags: only
// a function's unqualified ARN carries tags.
func tagRef(id caller.Identity, arn string) (Ref, error) {
	a, ok := lambdaARN(arn)
	var name, qualifier string
	qualified := false
	if ok {
		// Any qualifier parses here, so that versions and aliases are
		// answered as such rather than as malformed ARNs.
		name, qualifier, qualified = strings.Cut(strings.TrimPrefix(a.Resource, "function:"), ":")
		ok = strings.HasPrefix(a.Resource, "function:") && isName(name) && (!qualified || qualifier != "" && !strings.Contains(qualifier, "\n"))
	}
	if !ok {
		return Ref{}, fault.InvalidParameterf("Invalid ARN: %s", arn)
	}
	if a.AccountID != id.Account {
		return Ref{}, accessDenied(arn)
	}
	if a.Region != id.Region {
		return Ref{}, fault.NotFoundf("Function", "Functions from '%s' are not reachable in this region ('%s')", a.Region, id.Region)
	}
	if qualified {
		return Ref{}, fault.InvalidParameterf("Tags on function aliases and versions are not supported. Please specify a function ARN.")
	}
	return Ref{Account: a.AccountID, Region: a.Region, Name: name}, nil
}

// Tag is TagResource.
func (s *Service) Tag(ctx context.Context, id caller.Identity, arn string, tags map[string]string) error {
	ref, err := tagRef(id, arn)
	if err != nil {
		return err
	}
	if len(tags) == 0 {
		return fault.InvalidParameterf("An error occurred and the request cannot be processed.")
	}
	return s.withFunction(ctx, ref, guard{}, func(_ store.Tx, rec *record, _ time.Time) error {
		if rec.Tags == nil {
			rec.Tags = map[string]string{}
		}
		for k, v := range tags {
			rec.Tags[k] = v
		}
		if len(rec.Tags) > maxTags {
			return fault.InvalidParameterf("Number of tags exceeds resource tag limit.")
		}
		newRevision(rec)
		return nil
	})
}

// Untag is UntagResource.
func (s *Service) Untag(ctx context.Context, id caller.Identity, arn string, keys []string) error {
	ref, err := tagRef(id, arn)
	if err != nil {
		return err
	}
	return s.withFunction(ctx, ref, guard{}, func(_ store.Tx, rec *record, _ time.Time) error {
		for _, k := range keys {
			delete(rec.Tags, k)
		}
		newRevision(rec)
		return nil
	})
}

// Tags is ListTags.
func (s *Service) Tags(ctx context.Context, id caller.Identity, arn string) (map[string]string, error) {
	ref, err := tagRef(id, arn)
	if err != nil {
		return nil, err
	}
	var out map[string]string
	err = s.cfg.Store.View(ctx, func(tx store.Tx) error {
		rec, err := s.loadFunction(tx, ref)
		if err != nil {
			return err
		}
		out = rec.Tags
		return nil
	})
	if out == nil {
		out = map[string]string{}
	}
	return out, err
}
