package functions

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/ids"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// Publish is PublishVersion.
func (s *Service) Publish(ctx context.Context, ref Ref, codeSha256, desc, revision *string) (*spec.FunctionConfiguration, error) {
	var out spec.FunctionConfiguration
	err := s.withFunction(ctx, ref, guard{idle: true, revision: revision}, func(tx store.Tx, rec *record, now time.Time) error {
		cur := *rec.Latest.Config.CodeSha256
		if codeSha256 != nil && *codeSha256 != cur {
			return fault.InvalidParameterf("CodeSHA256 (%s) is different from current CodeSHA256 in $LATEST (%s). Please try again with the CodeSHA256 in $LATEST.", *codeSha256, cur)
		}
		v, err := s.publishTx(tx, ref, rec, desc, now, false)
		if err != nil {
			return err
		}
		out = v.view(now)
		s.managedState(&out)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.managedChanged(ref, &out)
	return &out, nil
}

// publishTx publishes rec's $LATEST as a new version, or returns the last
// published one when nothing changed since.
func (s *Service) publishTx(tx store.Tx, ref Ref, rec *record, desc *string, t time.Time, pending bool) (*version, error) {
	d := rec.Latest.digest()
	if rec.LastPublish != nil && rec.LastPublish.Digest == d && desc == nil {
		if v, err := s.loadVersion(tx, ref, versionNumber(rec.LastPublish.Version)); err == nil && v != nil {
			return v, nil
		}
	}
	rec.LastVersion++
	n := rec.LastVersion
	vref := ref
	vref.Qualifier = strconv.Itoa(n)
	// The runtime management mode goes with the RuntimeVersionConfig it
	// chose [?: that AWS's new version inherits it].
	v := &version{Config: rec.Latest.Config, Code: rec.Latest.Code, RuntimeUpdate: rec.Latest.RuntimeUpdate}
	v.Config.Version = str(vref.Qualifier)
	v.Config.FunctionArn = str(vref.QualifiedARN())
	v.Config.LastModified = lastModified(t)
	if desc != nil {
		v.Config.Description = desc
	}
	if ss := v.Config.SnapStart; ss != nil && ss.ApplyOn != nil && *ss.ApplyOn == "PublishedVersions" {
		v.Config.SnapStart = &spec.SnapStartResponse{ApplyOn: ss.ApplyOn, OptimizationStatus: str("On")}
	}
	if pending {
		// Published with Publish=true on create or code update: it starts Pending.
		v.begin(transPublish, t, s.cfg.Transition)
	} else {
		v.Config.RevisionId = str(ids.UUID())
		v.Trans, v.NextRevision = "", ""
	}
	v.Layers = rec.Latest.Layers
	if err := refVersion(tx, v, verKey(ref, n)); err != nil {
		return nil, err
	}
	if err := s.saveVersion(tx, ref, n, v); err != nil {
		return nil, err
	}
	rec.LastPublish = &publishMark{Version: vref.Qualifier, Digest: d}
	// Publishing changes $LATEST's RevisionId too.
	if rec.Latest.settled(t) {
		rec.Latest.settle(t)
		rec.Latest.Config.RevisionId = str(ids.UUID())
	} else {
		rec.Latest.NextRevision = ids.UUID()
	}
	return v, nil
}

// publishAfterUpdate publishes $LATEST right after a code update, even though
// the update transition is still running.
func (s *Service) publishAfterUpdate(ctx context.Context, ref Ref) (*spec.FunctionConfiguration, error) {
	var out spec.FunctionConfiguration
	err := s.withFunction(ctx, ref, guard{}, func(tx store.Tx, rec *record, now time.Time) error {
		v, err := s.publishTx(tx, ref, rec, nil, now, true)
		if err != nil {
			return err
		}
		out = v.view(now)
		s.managedState(&out)
		return nil
	})
	if err == nil {
		s.managedChanged(ref, &out)
	}
	return &out, err
}

// ListVersions is ListVersionsByFunction: $LATEST, then 1, 2, 3…
func (s *Service) ListVersions(ctx context.Context, ref Ref, marker *string, max *int32) (*spec.ListVersionsByFunctionResponse, error) {
	now := s.cfg.Now()
	versions, next, err := listPage(ctx, s, marker, max, func(tx store.Tx, p page) ([]spec.FunctionConfiguration, *string, error) {
		rec, err := s.loadFunction(tx, ref.Unqualified())
		if err != nil {
			return nil, nil, err
		}
		var out []spec.FunctionConfiguration
		var next *string
		vafter := ""
		if p.after == "" {
			out = append(out, rec.Latest.listView(now, true))
		} else if p.after != Latest {
			vafter = fnKey(ref) + "/" + p.after
		}
		last := Latest
		tx.Scan(bVersions, fnKey(ref)+"/", vafter, func(k string, raw []byte) bool {
			if len(out) == p.n {
				next = encodeMarker(last)
				return false
			}
			var v version
			if decodeVersion(raw, &v) != nil {
				return true
			}
			out = append(out, v.listView(now, false))
			last = k[strings.LastIndexByte(k, '/')+1:]
			return true
		})
		return out, next, nil
	})
	if err != nil {
		return nil, err
	}
	return &spec.ListVersionsByFunctionResponse{Versions: versions, NextMarker: next}, nil
}

// versionNumber parses a published version qualifier.
func versionNumber(q string) int {
	n, _ := strconv.Atoi(q)
	return n
}
