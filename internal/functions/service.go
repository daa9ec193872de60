// Package functions is the control plane: functions, versions, tags and
// their rules (name forms, State and LastUpdateStatus, RevisionId, publish
// semantics, limits), persisted through store (metadata) and blobs (code).
package functions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lambdad/lambdad/internal/blobs"
	"github.com/lambdad/lambdad/internal/limits"
	"github.com/lambdad/lambdad/internal/store"
)

// Buckets of the store.
const (
	bFunctions = "functions" // acct/region/name -> record
	bVersions  = "versions"  // acct/region/name/%010d -> version
	bCodeRefs  = "coderefs"  // sha256hex/acct/region/name/ver -> ""
)

// S3 fetches code objects from an S3-compatible endpoint.
type S3 interface {
	GetObject(ctx context.Context, bucket, key, version string) (io.ReadCloser, error)
}

// Config wires the control plane.
type Config struct {
	Store store.Store
	Blobs *blobs.Store
	S3    S3 // nil: S3 code locations are refused with a clear error
	// Transition is how long Pending and InProgress last.
	Transition time.Duration
	// ConcurrencyLimit is the account's concurrent executions limit.
	ConcurrencyLimit int32
	Now              func() time.Time
	Logger           *slog.Logger
	// Deleted, when set, learns of every deleted function (version "") or
	// published version, so its running environments can be stopped.
	Deleted func(functionARN, version string)
	// HotReload says which directories hot-reload code may use (the zero
	// value: none).
	HotReload HotReload
	// CapacityProviders, when set, are the providers functions may run on
	// (capacity.go); nil: every CapacityProviderConfig is refused.
	CapacityProviders CapacityProviders
	// ProvisionedChanged, when set, learns that a function's provisioned
	// concurrency configs (or the aliases they follow) changed;
	// ProvisionedState reports the data plane's environments of a config
	// (provisioned.go).
	ProvisionedChanged func(fn Ref)
	ProvisionedState   func(ref Ref) (ProvisionedState, bool)
	// ManagedChanged, when set, learns that a function's published
	// versions on a capacity provider or their scaling configs changed;
	// ManagedState is the data plane's state of such a version, by
	// unqualified function ARN, version and RevisionId (managed.go).
	ManagedChanged func(fn Ref)
	ManagedState   func(functionARN, version, revision string) (ManagedState, bool)
	// CheckDestination, when set, says whether lambdad can reach the
	// service of an SQS, SNS, EventBridge or S3 ARN (a destination or a
	// dead-letter queue); nil: such targets are refused as unsupported.
	CheckDestination func(arn string) error
	// Organizations maps an account to the AWS Organizations id it belongs
	// to, for layer grants to an organization (layerperm.go); an account
	// not in it belongs to none.
	Organizations map[string]string
	// RuntimeProblem, when set, says why this host cannot run a runtime
	// at all ("" when it can): such a function shows State Failed
	// (fidelity.go).
	RuntimeProblem func(runtime string) string
	// RuntimeFallback, when set, says which other version runs a runtime
	// ("" when its own does): RuntimeVersionConfig.Error shows it.
	RuntimeFallback func(runtime string) string
}

// Service is the control plane.
type Service struct {
	cfg Config
	// cache holds resolved snapshots for the invoke path, dropped on every
	// write to the function.
	cache  sync.Map // Ref -> *cached
	gen    atomic.Uint64
	codeMu sync.RWMutex // see collect
	// beforeCodeCommit, set by tests, runs before each transaction that
	// references code just taken in.
	beforeCodeCommit func()
}

// New makes the control plane.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ConcurrencyLimit == 0 {
		cfg.ConcurrencyLimit = limits.DefaultConcurrentExecutions
	}
	s := &Service{cfg: cfg}
	if cfg.Blobs != nil {
		// A delete that waited for an environment left the shared copy:
		// collect it as any other, against the store's references.
		cfg.Blobs.OnDeferredDelete(func(h string) { s.collect([]string{h}) })
	}
	return s
}

func fnKey(r Ref) string { return r.Account + "/" + r.Region + "/" + r.Name }

func verKey(r Ref, n int) string { return fmt.Sprintf("%s/%010d", fnKey(r), n) }

func (s *Service) load(tx store.Tx, r Ref) (*record, error) {
	raw := tx.Get(bFunctions, fnKey(r))
	if raw == nil {
		return nil, nil
	}
	rec := new(record)
	if err := decodeRecord(raw, rec); err != nil {
		return nil, fmt.Errorf("decode function %s: %w", fnKey(r), err)
	}
	return rec, nil
}

func (s *Service) save(tx store.Tx, r Ref, rec *record) error {
	raw, err := encodeRecord(rec)
	if err != nil {
		return err
	}
	return tx.Put(bFunctions, fnKey(r), raw)
}

func (s *Service) loadVersion(tx store.Tx, r Ref, n int) (*version, error) {
	raw := tx.Get(bVersions, verKey(r, n))
	if raw == nil {
		return nil, nil
	}
	v := new(version)
	if err := decodeVersion(raw, v); err != nil {
		return nil, fmt.Errorf("decode version %s: %w", verKey(r, n), err)
	}
	return v, nil
}

func (s *Service) saveVersion(tx store.Tx, r Ref, n int, v *version) error {
	raw, err := encodeVersion(v)
	if err != nil {
		return err
	}
	return tx.Put(bVersions, verKey(r, n), raw)
}

// refVersion records that the version stored at key uses its code and its layers' code.
func refVersion(tx store.Tx, v *version, key string) error {
	if err := refCode(tx, v.Code, key); err != nil {
		return err
	}
	for i, l := range v.Layers {
		if err := refCode(tx, l, fmt.Sprintf("%s#L%d", key, i)); err != nil {
			return err
		}
	}
	return nil
}

// unrefVersion drops the version's uses and returns the blobs now unused.
func unrefVersion(tx store.Tx, v *version, key string) ([]string, error) {
	var unused []string
	drop := func(c Code, k string) error {
		gone, err := unrefCode(tx, c, k)
		if gone {
			unused = append(unused, c.SHA256Hex)
		}
		return err
	}
	if err := drop(v.Code, key); err != nil {
		return nil, err
	}
	for i, l := range v.Layers {
		if err := drop(l, fmt.Sprintf("%s#L%d", key, i)); err != nil {
			return nil, err
		}
	}
	return unused, nil
}

// refCode records that key uses the code blob. It fails with errCollected
// when the blob was collected since it was stored (codegc.go).
func refCode(tx store.Tx, c Code, key string) error {
	if c.SHA256Hex == "" {
		return nil
	}
	if err := checkCollected(tx, c.SHA256Hex); err != nil {
		return err
	}
	return tx.Put(bCodeRefs, c.SHA256Hex+"/"+key, []byte{})
}

// unrefCode drops a use and reports whether the blob is now unused.
func unrefCode(tx store.Tx, c Code, key string) (bool, error) {
	if c.SHA256Hex == "" {
		return false, nil
	}
	if err := tx.Delete(bCodeRefs, c.SHA256Hex+"/"+key); err != nil {
		return false, err
	}
	return !referenced(tx, c.SHA256Hex), nil
}

// collect deletes blobs no version uses any more. It runs after the commit:
// a crash in between leaves an unreferenced blob, never a dangling reference.
//
// Intakes hold codeMu shared from storing a blob until the transaction that
// references it commits; collect holds it exclusively and checks again that
// nothing references a blob, so it never deletes one an intake is about to use.
func (s *Service) collect(hexes []string) {
	if len(hexes) == 0 {
		return
	}
	s.codeMu.Lock()
	defer s.codeMu.Unlock()
	ctx := context.Background()
	for _, h := range hexes {
		if !s.cfg.Blobs.Has(h) {
			continue
		}
		// Other nodes' intakes see the collection (codegc.go).
		nonce, err := s.beginCollect(ctx, h)
		if err != nil {
			s.cfg.Logger.Warn("delete unused code", "sha256", h, "err", err)
			continue
		}
		if nonce == "" {
			continue // in use
		}
		if err := s.cfg.Blobs.Delete(h); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.cfg.Logger.Warn("delete unused code", "sha256", h, "err", err)
		}
		if err := s.endCollect(ctx, h, nonce); err != nil {
			s.cfg.Logger.Warn("delete unused code", "sha256", h, "err", err)
		}
	}
}

// CollectUnreferenced deletes the stored archives nothing refers to: those
// a crash kept from being collected, after the commit that dropped their
// last reference or while their deletion waited for environments to stop,
// or between an upload and the commit that was to refer to it. Only
// archives stored at least minAge ago are looked at: on a store shared by
// several nodes, a younger one may be about to be referred to by a commit
// in progress elsewhere.
func (s *Service) CollectUnreferenced(ctx context.Context, minAge time.Duration) error {
	all, err := s.cfg.Blobs.List()
	if err != nil {
		return err
	}
	before := time.Now().Add(-minAge)
	var unused []string
	err = s.cfg.Store.View(ctx, func(tx store.Tx) error {
		for _, l := range all {
			if (minAge <= 0 || l.Modified.Before(before)) && !referenced(tx, l.Hex) {
				unused = append(unused, l.Hex)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(unused) > 0 {
		s.cfg.Logger.Info("collecting code archives nothing refers to", "count", len(unused))
	}
	s.collect(unused) // checks each again, under codeMu
	return nil
}

// deletePrefix deletes every key of bucket under prefix: the records that
// belong to a deleted function (aliases, policies, invoke configs).
func deletePrefix(tx store.Tx, bucket, prefix string) error {
	var keys []string
	tx.Scan(bucket, prefix, "", func(k string, _ []byte) bool {
		keys = append(keys, k)
		return true
	})
	for _, k := range keys {
		if err := tx.Delete(bucket, k); err != nil {
			return err
		}
	}
	return nil
}

// referenced reports whether anything refers to the blob h: one key is
// enough, so it does not count them.
func referenced(tx store.Tx, h string) bool {
	found := false
	tx.Scan(bCodeRefs, h+"/", "", func(string, []byte) bool {
		found = true
		return false
	})
	return found
}

func (s *Service) dropIfUnusedCode(c Code) {
	if c.SHA256Hex != "" {
		s.dropIfUnused(c.SHA256Hex)
	}
}
