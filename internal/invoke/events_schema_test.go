package invoke

import (
	"encoding/json"
	"testing"
	"time"
)

// TestEventRecordGolden pins the JSON of a queued event, which the store
// keeps across restarts: it is part of the stored schema (see
// functions.SchemaVersion). A difference means the schema changed: bump the
// version and migrate instead of changing this.
func TestEventRecordGolden(t *testing.T) {
	at := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)
	e := event{ID: "id", Account: "000000000000", Region: "us-east-1", Name: "f", Qualifier: "live",
		Payload: []byte(`{"k":1}`), Attempts: 1, Throttles: 2, NotBefore: at, Enqueued: at.Add(-time.Second)}
	raw, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"id":"id","account":"000000000000","region":"us-east-1","name":"f","qualifier":"live",` +
		`"payload":"eyJrIjoxfQ==","attempts":1,"throttles":2,"notBefore":"2020-01-02T03:04:05.000000006Z","enqueued":"2020-01-02T03:04:04.000000006Z"}`
	if string(raw) != want {
		t.Errorf("stored event:\n got %s\nwant %s", raw, want)
	}
	// The fixture's queued event (written by schema v0) still decodes.
	var old event
	v0 := `{"id":"888a3c56-52c3-4c33-9089-dbf1dd5eebe2","account":"000000000000","region":"us-east-1","name":"queued","payload":"eyJxdWV1ZWQiOnRydWV9","attempts":0,"throttles":1,"notBefore":"2026-12-04T21:32:34.867805538Z","enqueued":"2026-12-04T20:41:42.222286408Z"}`
	if err := json.Unmarshal([]byte(v0), &old); err != nil || old.Name != "queued" || string(old.Payload) != `{"queued":true}` || old.Throttles != 1 {
		t.Errorf("v0 event: %v %+v", err, old)
	}
}
