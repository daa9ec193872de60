package esm

import (
	"context"
	"encoding/json"

	"github.com/lambdad/lambdad/internal/store"
)

// checkpointBucket holds a stream mapping's place in each shard: key
// acct/region/uuid/shardId -> checkpoint. A restarted lambdad resumes
// after Seq; a shard read to its end is Done, and its children may start.
const checkpointBucket = "esmcheckpoints"

// checkpoint is one shard's progress.
type checkpoint struct {
	// Seq is the last record done with (handled, filtered out, or given
	// up to the on-failure destination); "" before any.
	Seq string `json:"seq,omitempty"`
	// Done: the shard is closed and every record of it is done.
	Done bool `json:"done,omitempty"`
	// Start is where reading began before any record was done
	// (TRIM_HORIZON, LATEST or AT_TIMESTAMP): a restart before the first
	// record starts there again rather than at the mapping's setting.
	Start string `json:"start,omitempty"`
	// Window is the tumbling window under way and its state (tumbling.go).
	Window *tumble `json:"window,omitempty"`
}

func checkpointKey(r Ref, shard string) string { return r.key() + "/" + shard }

func (s *Service) loadCheckpoints(ctx context.Context, r Ref) (map[string]checkpoint, error) {
	out := map[string]checkpoint{}
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		prefix := r.key() + "/"
		return tx.Scan(checkpointBucket, prefix, "", func(k string, v []byte) bool {
			var c checkpoint
			if json.Unmarshal(v, &c) == nil {
				out[k[len(prefix):]] = c
			}
			return true
		})
	})
	return out, err
}

func (s *Service) saveCheckpoint(ctx context.Context, r Ref, shard string, c checkpoint) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		// A mapping deleted meanwhile keeps no checkpoints.
		if tx.Get(bucket, r.key()) == nil {
			return nil
		}
		return tx.Put(checkpointBucket, checkpointKey(r, shard), b)
	})
}

// deleteCheckpoints removes a mapping's checkpoints with it.
func deleteCheckpoints(tx store.Tx, r Ref) error {
	// and its poller's lease (lease.go)
	if err := tx.Delete(bLeases, r.key()); err != nil {
		return err
	}
	var keys []string
	if err := tx.Scan(checkpointBucket, r.key()+"/", "", func(k string, _ []byte) bool {
		keys = append(keys, k)
		return true
	}); err != nil {
		return err
	}
	for _, k := range keys {
		if err := tx.Delete(checkpointBucket, k); err != nil {
			return err
		}
	}
	return nil
}
