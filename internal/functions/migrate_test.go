package functions

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lambdad/lambdad/internal/store"
)

// fixtureBuckets are the buckets a store has; snapshot reads them all.
var fixtureBuckets = []string{bMeta, bFunctions, bVersions, bAliases, bLayers, bLayerNext, bPolicies, bURLs, bURLIDs, bInvokeConfigs, bCodeRefs, bReservations, "events"}

// openFixture opens a copy of testdata/v0-datadir's metadata store, made by
// the lambdad of commit ceb31ba (see testdata/README.md).
func openFixture(t *testing.T) (*store.Bolt, string) {
	t.Helper()
	src, err := os.Open("testdata/v0-datadir/metadata.db")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(t.TempDir(), "metadata.db")
	dst, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	st, err := store.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, path
}

// snapshot is every key and value of the store, by bucket.
func snapshot(t *testing.T, st store.Store) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	st.View(context.Background(), func(tx store.Tx) error {
		for _, b := range fixtureBuckets {
			m := map[string]string{}
			tx.Scan(b, "", "", func(k string, v []byte) bool { m[k] = string(v); return true })
			out[b] = m
		}
		return nil
	})
	return out
}

// asJSON decodes raw into generic JSON values, to compare documents
// regardless of member order.
func asJSON(t *testing.T, raw []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return v
}

// TestMigrateV0DataDir upgrades the v0 fixture and checks that every record
// says what it said before, in the v1 form, and that upgrading again does
// nothing.
func TestMigrateV0DataDir(t *testing.T) {
	ctx := context.Background()
	st, _ := openFixture(t)
	before := snapshot(t, st)
	if len(before[bMeta]) != 0 {
		t.Fatalf("fixture already has a schema: %v", before[bMeta])
	}
	if err := Migrate(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	after := snapshot(t, st)
	if got := after[bMeta][metaKeySchema]; got != "2" {
		t.Fatalf("schema = %q, want 2", got)
	}
	// Unchanged buckets are byte for byte the same.
	for _, b := range []string{bAliases, bLayers, bLayerNext, bPolicies, bURLIDs, bInvokeConfigs, bCodeRefs, "events"} {
		if !reflect.DeepEqual(before[b], after[b]) {
			t.Errorf("bucket %s changed:\n%v\n%v", b, before[b], after[b])
		}
	}
	wantKeys := map[string]int{bFunctions: 3, bVersions: 2, bURLs: 1, bAliases: 2, bLayers: 2, bPolicies: 1, bInvokeConfigs: 1, "events": 1}
	for b, n := range wantKeys {
		if len(after[b]) != n {
			t.Errorf("bucket %s has %d records, want %d", b, len(after[b]), n)
		}
	}

	// A migrated version shows the same configuration as the v0 record:
	// v0 stored the API's JSON, so the API's JSON of the v1 record must equal it.
	sameConfig := func(key, v0raw string, v version) {
		t.Helper()
		var old struct {
			Config json.RawMessage `json:"config"`
			Latest struct {
				Config json.RawMessage `json:"config"`
			} `json:"latest"`
		}
		json.Unmarshal([]byte(v0raw), &old)
		cfg := old.Config
		if cfg == nil {
			cfg = old.Latest.Config
		}
		now, _ := json.Marshal(v.Config)
		if !reflect.DeepEqual(asJSON(t, cfg), asJSON(t, now)) {
			t.Errorf("%s: configuration changed:\nv0 %s\nv1 %s", key, cfg, now)
		}
		if strings.Contains(after[bFunctions][key]+after[bVersions][key], `"FunctionName"`) {
			t.Errorf("%s: still stored in spec's shape", key)
		}
	}
	for k, raw := range after[bFunctions] {
		var rec record
		if err := decodeRecord([]byte(raw), &rec); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		sameConfig(k, before[bFunctions][k], rec.Latest)
		var v0 v0Function
		json.Unmarshal([]byte(before[bFunctions][k]), &v0)
		// v2 indexes the reservation.
		if idx, ok := after[bReservations][k]; ok != (rec.Reserved != nil) || ok && idx != fmt.Sprint(*rec.Reserved) {
			t.Errorf("%s: reserved %v, index %q (%v)", k, rec.Reserved, idx, ok)
		}
		if !reflect.DeepEqual(rec.Tags, v0.Tags) || rec.LastVersion != v0.LastVersion || !reflect.DeepEqual(rec.Reserved, v0.Reserved) ||
			rec.Latest.Trans != v0.Latest.Trans || !rec.Latest.Until.Equal(v0.Latest.Until) || rec.Latest.NextRevision != v0.Latest.NextRevision ||
			rec.Latest.Code != v0.Latest.Code.v1().load() || len(rec.Latest.Layers) != len(v0.Latest.Layers) {
			t.Errorf("%s: function settings changed:\nv0 %s\nv1 %s", k, before[bFunctions][k], raw)
		}
	}
	for k, raw := range after[bVersions] {
		var v version
		if err := decodeVersion([]byte(raw), &v); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		sameConfig(k, before[bVersions][k], v)
	}
	for k, raw := range after[bURLs] {
		var c URLConfig
		if err := decodeURL([]byte(raw), &c); err != nil {
			t.Fatal(err)
		}
		var old struct {
			Cors json.RawMessage `json:"cors"`
		}
		json.Unmarshal([]byte(before[bURLs][k]), &old)
		now, _ := json.Marshal(c.Cors)
		if !reflect.DeepEqual(asJSON(t, old.Cors), asJSON(t, now)) || c.ID != "radbq9ii3soiojaa52tyt2upgssrbir5" || c.AuthType != "NONE" {
			t.Errorf("%s: URL changed:\nv0 %s\nv1 %s", k, before[bURLs][k], raw)
		}
	}

	// hello's $LATEST is what version 2 was published from: v0's digest
	// said so, and v1's must too, so publishing again returns version 2.
	var hello record
	decodeRecord([]byte(after[bFunctions]["000000000000/us-east-1/hello"]), &hello)
	if hello.LastPublish == nil || hello.LastPublish.Version != "2" || hello.LastPublish.Digest != hello.Latest.digest() {
		t.Errorf("hello's last publish mark %+v does not match $LATEST's digest %s", hello.LastPublish, hello.Latest.digest())
	}
	var helloV0 v0Function
	json.Unmarshal([]byte(before[bFunctions]["000000000000/us-east-1/hello"]), &helloV0)
	if hello.LastPublish.Digest == helloV0.LastPublish.Digest {
		t.Error("digest kept its v0 value")
	}

	// Upgrading again changes nothing.
	if err := Migrate(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	if again := snapshot(t, st); !reflect.DeepEqual(after, again) {
		t.Error("a second Migrate changed the store")
	}
}

// TestV0DigestIsV0s checks the frozen v0 types against the fixture: v0's
// digest of hello's $LATEST is the one v0 lambdad stored when it published
// version 2 from it. It fails if a v0 type drifts from what v0 wrote.
func TestV0DigestIsV0s(t *testing.T) {
	st, _ := openFixture(t)
	raw := snapshot(t, st)[bFunctions]["000000000000/us-east-1/hello"]
	var r v0Function
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		t.Fatal(err)
	}
	d, err := r.Latest.digest()
	if err != nil || r.LastPublish == nil || d != r.LastPublish.Digest {
		t.Fatalf("v0 digest %s (%v), stored %+v", d, err, r.LastPublish)
	}
}

func TestMigrateRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	st, _ := openFixture(t)
	st.Update(ctx, func(tx store.Tx) error { return tx.Put(bMeta, metaKeySchema, []byte("3")) })
	before := snapshot(t, st)
	err := Migrate(ctx, st, nil)
	if err == nil || !strings.Contains(err.Error(), "schema version 3, newer than this lambdad's 2") {
		t.Fatalf("Migrate = %v", err)
	}
	if !reflect.DeepEqual(before, snapshot(t, st)) {
		t.Error("a refused store was changed")
	}
	st.Update(ctx, func(tx store.Tx) error { return tx.Put(bMeta, metaKeySchema, []byte("x")) })
	if err := Migrate(ctx, st, nil); err == nil || !strings.Contains(err.Error(), `"x" is not a version number`) {
		t.Fatalf("Migrate of a bad schema = %v", err)
	}
}

// TestMigrateFreshStore: a new data directory is stamped with the current
// schema and nothing else.
func TestMigrateFreshStore(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := Migrate(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	snap := snapshot(t, st)
	for b, m := range snap {
		if b != bMeta && len(m) != 0 {
			t.Errorf("bucket %s: %v", b, m)
		}
	}
	if snap[bMeta][metaKeySchema] != "2" {
		t.Errorf("meta = %v", snap[bMeta])
	}
}

// TestMigrateRollsBackOnError: a record v0 cannot read stops the upgrade,
// and nothing of it is kept.
func TestMigrateRollsBackOnError(t *testing.T) {
	ctx := context.Background()
	st, _ := openFixture(t)
	st.Update(ctx, func(tx store.Tx) error {
		return tx.Put(bVersions, "000000000000/us-east-1/zz/0000000001", []byte("{broken"))
	})
	before := snapshot(t, st)
	err := Migrate(ctx, st, nil)
	if err == nil || !strings.Contains(err.Error(), "versions 000000000000/us-east-1/zz/0000000001") {
		t.Fatalf("Migrate = %v", err)
	}
	if after := snapshot(t, st); !reflect.DeepEqual(before, after) {
		t.Error("a failed upgrade left changes")
	}
	if !bytes.Contains([]byte(before[bFunctions]["000000000000/us-east-1/hello"]), []byte(`"FunctionName"`)) {
		t.Error("fixture is not v0")
	}
}

// TestMigrateRefusesV1WithoutSchema: records of a later schema whose version
// key was lost are not misread as v0.
func TestMigrateRefusesV1WithoutSchema(t *testing.T) {
	ctx := context.Background()
	st, _ := openFixture(t)
	if err := Migrate(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	st.Update(ctx, func(tx store.Tx) error { return tx.Delete(bMeta, metaKeySchema) })
	if err := Migrate(ctx, st, nil); err == nil || !strings.Contains(err.Error(), "not a schema 0 record") {
		t.Fatalf("Migrate = %v", err)
	}
}
