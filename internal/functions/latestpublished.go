package functions

import (
	"context"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/ids"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// LatestPublished is the version Lambda Managed Instances functions publish
// with PublishVersion's PublishTo: LATEST_PUBLISHED: one version, replaced
// by each such publish, that an unqualified invoke of the function runs.
const LatestPublished = "$LATEST.PUBLISHED"

// bLatestPublished holds acct/region/name -> the $LATEST.PUBLISHED version.
const bLatestPublished = "latestpublished"

func latestPublishedKey(ref Ref) string { return fnKey(ref) + "/" + LatestPublished }

func (s *Service) loadLatestPublished(tx store.Tx, ref Ref) (*version, error) {
	raw := tx.Get(bLatestPublished, fnKey(ref))
	if raw == nil {
		return nil, nil
	}
	v := new(version)
	if err := decodeVersion(raw, v); err != nil {
		return nil, err
	}
	return v, nil
}

// PublishLatest is PublishVersion with PublishTo: LATEST_PUBLISHED: it
// creates or replaces the function's $LATEST.PUBLISHED version with
// $LATEST's code and configuration.
func (s *Service) PublishLatest(ctx context.Context, ref Ref, codeSha256, desc, revision *string) (*spec.FunctionConfiguration, error) {
	return s.publishLatest(ctx, ref, codeSha256, desc, guard{idle: true, revision: revision})
}

func (s *Service) publishLatest(ctx context.Context, ref Ref, codeSha256, desc *string, g guard) (*spec.FunctionConfiguration, error) {
	var out spec.FunctionConfiguration
	var unused []string
	err := s.withFunction(ctx, ref, g, func(tx store.Tx, rec *record, now time.Time) error {
		cur := *rec.Latest.Config.CodeSha256
		if codeSha256 != nil && *codeSha256 != cur {
			return fault.InvalidParameterf("CodeSHA256 (%s) is different from current CodeSHA256 in $LATEST (%s). Please try again with the CodeSHA256 in $LATEST.", *codeSha256, cur)
		}
		v, gone, err := s.publishLatestTx(tx, ref, rec, desc, now)
		if err != nil {
			return err
		}
		unused = gone
		out = v.view(now)
		s.managedState(&out)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.managedChanged(ref, &out)
	s.collect(unused)
	return &out, nil
}

// checkPublishTo refuses PublishTo for a function not on a capacity
// provider [?]: AWS documents $LATEST.PUBLISHED for Lambda Managed
// Instances only; its wording for other functions is unknown.
func checkPublishTo(c *spec.FunctionConfiguration) error {
	if capacityARN(c) == "" {
		return fault.InvalidParameterf("PublishTo LATEST_PUBLISHED is only supported for functions that use a capacity provider.")
	}
	return nil
}

// publishLatestTx replaces rec's $LATEST.PUBLISHED with its $LATEST and
// returns it and the blobs the old one leaves unused.
func (s *Service) publishLatestTx(tx store.Tx, ref Ref, rec *record, desc *string, now time.Time) (*version, []string, error) {
	if err := checkPublishTo(&rec.Latest.Config); err != nil {
		return nil, nil, err
	}
	old, err := s.loadLatestPublished(tx, ref)
	if err != nil {
		return nil, nil, err
	}
	var unused []string
	if old != nil {
		if unused, err = unrefVersion(tx, old, latestPublishedKey(ref)); err != nil {
			return nil, nil, err
		}
	}
	v := &version{Config: rec.Latest.Config, Code: rec.Latest.Code, Layers: rec.Latest.Layers}
	v.Config.Version = str(LatestPublished)
	v.Config.FunctionArn = str(ref.ARN() + ":" + LatestPublished)
	v.Config.LastModified = lastModified(now)
	v.Config.RevisionId = str(ids.UUID())
	v.Trans, v.NextRevision = "", ""
	if desc != nil {
		v.Config.Description = desc
	}
	if err := refVersion(tx, v, latestPublishedKey(ref)); err != nil {
		return nil, nil, err
	}
	raw, err := encodeVersion(v)
	if err != nil {
		return nil, nil, err
	}
	if err := tx.Put(bLatestPublished, fnKey(ref), raw); err != nil {
		return nil, nil, err
	}
	// Publishing changes $LATEST's RevisionId too, as publishTx does.
	if rec.Latest.settled(now) {
		rec.Latest.settle(now)
		rec.Latest.Config.RevisionId = str(ids.UUID())
	} else {
		rec.Latest.NextRevision = ids.UUID()
	}
	return v, unused, nil
}

// dropLatestPublished removes a deleted function's $LATEST.PUBLISHED and
// returns the blobs it leaves unused.
func (s *Service) dropLatestPublished(tx store.Tx, ref Ref) ([]string, error) {
	v, err := s.loadLatestPublished(tx, ref)
	if err != nil || v == nil {
		return nil, err
	}
	if err := tx.Delete(bLatestPublished, fnKey(ref)); err != nil {
		return nil, err
	}
	return unrefVersion(tx, v, latestPublishedKey(ref))
}

// invokedVersion is what an invoke of ref runs: for an unqualified invoke of
// a function on a capacity provider, its $LATEST.PUBLISHED when there is
// one (AWS: "Lambda implicitly invokes the $LATEST.PUBLISHED version").
func (s *Service) invokedVersion(tx store.Tx, ref Ref, rec *record, v *version) (*version, error) {
	if ref.Qualifier != "" || capacityARN(&rec.Latest.Config) == "" {
		return v, nil
	}
	lp, err := s.loadLatestPublished(tx, ref)
	if err != nil || lp == nil {
		return v, err
	}
	return lp, nil
}
