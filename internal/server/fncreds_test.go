package server

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/lambdad/lambdad/internal/fncreds"
	"github.com/lambdad/lambdad/internal/store"
)

// TestEmbeddedStoreKeepsKeysInMemory: on the embedded store, issued keys
// are written nowhere.
func TestEmbeddedStoreKeepsKeysInMemory(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := functionCredentials(Config{}, st, make([]byte, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, release := r.Issue("111111111111", "us-east-1", "f")
	defer release()
	if _, ok := r.Lookup(c.AccessKeyID); !ok {
		t.Fatal("an issued key is not live")
	}
	n := -1
	if err := st.View(context.Background(), func(tx store.Tx) error { n = tx.Count(fncreds.Bucket, ""); return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d keys written to the embedded store", n)
	}
}
