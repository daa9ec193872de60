package functions

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/store"
)

// Collecting code that nodes share (S3). A node takes in an archive (and
// skips the upload when the remote has it already) before the transaction
// that references it; another node may meanwhile drop the archive's last
// reference and delete it from the remote. codeMu orders that within one
// node only, so across nodes a collection leaves a record in the store:
//
//   - collect writes gc/<hex> "deleting" in a transaction that finds the
//     archive unreferenced, deletes the archive, then marks the record
//     "deleted" (a gravestone);
//   - a transaction that references an archive with such a record fails
//     (errCollected): the node waits while it is "deleting", puts the
//     archive back from its own copy (blobs.Store.Reupload), removes the
//     gravestone it saw and runs its transaction again.
//
// Both transactions read what the other writes, so the store orders them:
// a reference committed first keeps collect from deleting; a gravestone
// committed first is seen by the reference. Gravestones of deleted
// archives are pruned after gcKeep, far longer than any intake takes.
const bCodeGC = "codegc"

const (
	gcDeleting = "deleting"
	gcDeleted  = "deleted"
	// gcKeep is how long a gravestone is kept.
	gcKeep = time.Hour
	// gcStale is when a "deleting" record is taken for one whose node died
	// mid-way: longer than a remote delete may take (blobs' two minutes).
	gcStale = 3 * time.Minute
	// gcWait bounds how long an intake waits for a delete in progress.
	gcWait = 10 * time.Second
)

// storedCodeCollection is a collection of one archive (bucket codegc).
type storedCodeCollection struct {
	State string    `json:"state"`
	Nonce string    `json:"nonce"`
	At    time.Time `json:"at"`
}

// errCollected is refCode's error when another node collected, or is
// collecting, the archive a transaction is about to reference.
type errCollected struct{ hex string }

func (e *errCollected) Error() string {
	return "code archive " + e.hex + " was collected by another node meanwhile"
}

// checkCollected fails with errCollected when h has a collection record.
func checkCollected(tx store.Tx, h string) error {
	if tx.Get(bCodeGC, h) != nil {
		return &errCollected{hex: h}
	}
	return nil
}

// commitCode runs commit, the transaction that references code just taken
// in, again after putting the archive back when another node collected it
// meanwhile.
func (s *Service) commitCode(ctx context.Context, commit func() error) error {
	for range 5 {
		if s.beforeCodeCommit != nil {
			s.beforeCodeCommit()
		}
		err := commit()
		var ce *errCollected
		if !errors.As(err, &ce) {
			return err
		}
		if err := s.restoreCollected(ctx, ce.hex); err != nil {
			return err
		}
	}
	return fault.New(fault.Unavailable, "The code was deleted by another node while it was stored; try again.")
}

// restoreCollected waits for a collection of h in progress, puts h back
// into the shared store and removes the collection's record.
func (s *Service) restoreCollected(ctx context.Context, h string) error {
	var rec storedCodeCollection
	for deadline := time.Now().Add(gcWait); ; {
		var raw []byte
		err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
			raw = append(raw[:0], tx.Get(bCodeGC, h)...)
			return nil
		})
		if err != nil {
			return err
		}
		if len(raw) == 0 {
			return nil // another intake restored it: commit again
		}
		if err := json.Unmarshal(raw, &rec); err != nil {
			return fmt.Errorf("code collection record %s: %w", h, err)
		}
		if rec.State == gcDeleted || s.cfg.Now().Sub(rec.At) > gcStale {
			break
		}
		if time.Now().After(deadline) {
			return fault.New(fault.Unavailable, "The code is being deleted by another node; try again.")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := s.cfg.Blobs.Reupload(ctx, h); err != nil {
		return err
	}
	// Only the record seen: a newer collection must be seen again.
	return s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		var cur storedCodeCollection
		if raw := tx.Get(bCodeGC, h); raw != nil && json.Unmarshal(raw, &cur) == nil && cur.Nonce == rec.Nonce {
			return tx.Delete(bCodeGC, h)
		}
		return nil
	})
}

// beginCollect records that h is being deleted, unless something
// references it; it prunes old gravestones on the way. It reports the
// record's nonce, "" when h is in use.
func (s *Service) beginCollect(ctx context.Context, h string) (string, error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	nonce := hex.EncodeToString(b)
	now := s.cfg.Now()
	var began bool
	err := s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		began = false
		if referenced(tx, h) {
			return nil
		}
		var old []string
		tx.Scan(bCodeGC, "", "", func(k string, raw []byte) bool {
			var r storedCodeCollection
			if k != h && json.Unmarshal(raw, &r) == nil && r.State == gcDeleted && now.Sub(r.At) > gcKeep {
				old = append(old, k)
			}
			return true
		})
		for _, k := range old {
			if err := tx.Delete(bCodeGC, k); err != nil {
				return err
			}
		}
		raw, err := json.Marshal(storedCodeCollection{State: gcDeleting, Nonce: nonce, At: now})
		if err != nil {
			return err
		}
		began = true
		return tx.Put(bCodeGC, h, raw)
	})
	if err != nil || !began {
		return "", err
	}
	return nonce, nil
}

// endCollect marks the collection of h (nonce) done: h is deleted.
func (s *Service) endCollect(ctx context.Context, h, nonce string) error {
	return s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		var cur storedCodeCollection
		if raw := tx.Get(bCodeGC, h); raw == nil || json.Unmarshal(raw, &cur) != nil || cur.Nonce != nonce {
			return nil
		}
		raw, err := json.Marshal(storedCodeCollection{State: gcDeleted, Nonce: nonce, At: s.cfg.Now()})
		if err != nil {
			return err
		}
		return tx.Put(bCodeGC, h, raw)
	})
}
