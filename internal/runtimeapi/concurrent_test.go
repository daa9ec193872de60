package runtimeapi

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrentNext: a Lambda Managed Instances runtime calls /next from
// several connections at once. Every one waits at the same time, each gets
// the invocation delivered to it, and results route by request id, posted
// from any connection (here each worker answers its neighbour's).
func TestConcurrentNext(t *testing.T) {
	const n = 8
	f := &fakeEnv{later: make(chan *Waiter, n)}
	_, addr := serveEnv(t, 1<<20, f)
	base := "http://" + addr + "/2018-06-01/runtime/"
	hc := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 2 * n, MaxIdleConnsPerHost: 2 * n}}
	t.Cleanup(hc.CloseIdleConnections)

	got := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, err := hc.Get(base + "invocation/next")
			if err != nil {
				t.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
			if resp.StatusCode != 200 || string(body) != `{"id":"`+id+`"}` {
				t.Errorf("worker %d: %d %s (id %s)", i, resp.StatusCode, body, id)
			}
			got[i] = id
		})
	}
	// All n /next requests wait at once before any is answered.
	waiters := make([]*Waiter, 0, n)
	for range n {
		select {
		case w := <-f.later:
			waiters = append(waiters, w)
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d /next requests reached the environment at once", len(waiters), n)
		}
	}
	for k, w := range waiters {
		id := "req-" + strconv.Itoa(k)
		inv := &Invocation{RequestID: id, FunctionARN: "arn:f", DeadlineMs: time.Now().Add(time.Minute).UnixMilli(), Payload: []byte(`{"id":"` + id + `"}`)}
		if !w.Deliver(inv) {
			t.Fatalf("delivery of %s failed", id)
		}
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, id := range got {
		if id == "" || seen[id] {
			t.Fatalf("ids delivered: %v", got)
		}
		seen[id] = true
	}
	// Each worker posts the result of the next worker's invocation.
	for i := range n {
		wg.Go(func() {
			id := got[(i+1)%n]
			resp, err := hc.Post(base+"invocation/"+id+"/response", "application/json", strings.NewReader(`"done `+id+`"`))
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 202 {
				t.Errorf("response for %s: %d", id, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range got {
		if string(f.results[id]) != `"done `+id+`"` || f.kinds[id] != Response {
			t.Errorf("result of %s: %s (%v)", id, f.results[id], f.kinds[id])
		}
	}
}
