package invoke

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/lambdad/lambdad/internal/store"
)

// Activity keeps, per function version, what the web console charts:
// counts in time buckets. It is in memory only: a restart starts it
// afresh. (Logs are not kept here: the console reads them through the
// CloudWatch Logs API, from the log store.)
const (
	activityBucket  = 10 * time.Second
	activityBuckets = 60 // ten minutes
	// activitySamples bounds the durations kept per bucket for percentiles.
	activitySamples = 512
)

// activity is the Service's record of recent invocations (zero value ready).
type activity struct {
	mu    sync.Mutex
	fns   map[string]*fnActivity // function ARN -> its activity
	clock func() time.Time       // nil: time.Now (tests)
}

type fnActivity struct {
	buckets map[versionBucket]*bucketCounts
}

type versionBucket struct {
	version string
	start   int64 // unix seconds of the bucket's start
}

type bucketCounts struct {
	invocations, errors, throttles, coldStarts int
	durations                                  []time.Duration
}

// Bucket is one time slice of a function version's activity.
type Bucket struct {
	Start       time.Time `json:"start"`
	Version     string    `json:"version,omitempty"`
	Invocations int       `json:"invocations"`
	Errors      int       `json:"errors"`
	Throttles   int       `json:"throttles"`
	ColdStarts  int       `json:"coldStarts"`
	// P50Ms and P99Ms are the duration percentiles of the invocations that
	// ran in the bucket (0 when none ran).
	P50Ms float64 `json:"p50Ms"`
	P99Ms float64 `json:"p99Ms"`
}

func (a *activity) now() time.Time {
	if a.clock != nil {
		return a.clock()
	}
	return time.Now()
}

// fn returns functionARN's activity, creating it (a tally keeps it).
func (a *activity) fn(functionARN string) *fnActivity {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fns == nil {
		a.fns = map[string]*fnActivity{}
	}
	f := a.fns[functionARN]
	if f == nil {
		f = &fnActivity{buckets: map[versionBucket]*bucketCounts{}}
		a.fns[functionARN] = f
	}
	return f
}

// bucket returns the counts of version now, dropping buckets too old to show.
func (a *activity) bucket(f *fnActivity, version string, now time.Time) *bucketCounts {
	start := now.Truncate(activityBucket).Unix()
	k := versionBucket{version, start}
	b := f.buckets[k]
	if b == nil {
		oldest := start - int64(activityBuckets*activityBucket/time.Second)
		for k := range f.buckets {
			if k.start <= oldest {
				delete(f.buckets, k)
			}
		}
		b = &bucketCounts{}
		f.buckets[k] = b
	}
	return b
}

// ran records an invocation of f's version that ran.
func (a *activity) ran(f *fnActivity, version string, d, init time.Duration, errored bool) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.bucket(f, version, now)
	b.invocations++
	if errored {
		b.errors++
	}
	if init > 0 {
		b.coldStarts++
	}
	if len(b.durations) < activitySamples {
		b.durations = append(b.durations, d)
	}
}

// throttled records an invocation of f's version refused by a concurrency
// limit.
func (a *activity) throttled(f *fnActivity, version string) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.bucket(f, version, now).throttles++
}

// Activity returns functionARN's buckets of the last ten minutes, oldest
// first: version's, or with version "" every version's merged (Version "").
func (s *Service) Activity(functionARN, version string) []Bucket {
	a := &s.activity
	oldest := a.now().Add(-activityBuckets * activityBucket).Unix()
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.fns[functionARN]
	if f == nil {
		return []Bucket{}
	}
	merged := map[int64]*bucketCounts{}
	for k, b := range f.buckets {
		if k.start < oldest || (version != "" && k.version != version) {
			continue
		}
		m := merged[k.start]
		if m == nil {
			m = &bucketCounts{}
			merged[k.start] = m
		}
		m.invocations += b.invocations
		m.errors += b.errors
		m.throttles += b.throttles
		m.coldStarts += b.coldStarts
		m.durations = append(m.durations, b.durations...)
	}
	out := make([]Bucket, 0, len(merged))
	for start, b := range merged {
		o := Bucket{Start: time.Unix(start, 0).UTC(), Version: version, Invocations: b.invocations, Errors: b.errors, Throttles: b.throttles, ColdStarts: b.coldStarts}
		if len(b.durations) > 0 {
			slices.Sort(b.durations)
			o.P50Ms = percentile(b.durations, 0.50)
			o.P99Ms = percentile(b.durations, 0.99)
		}
		out = append(out, o)
	}
	slices.SortFunc(out, func(x, y Bucket) int { return x.Start.Compare(y.Start) })
	return out
}

// percentile is the nearest-rank percentile of sorted d, in milliseconds.
func percentile(d []time.Duration, p float64) float64 {
	i := int(p*float64(len(d))+0.999999) - 1
	i = min(max(i, 0), len(d)-1)
	return float64(d[i].Microseconds()) / 1000
}

// PendingEvent is an Event invocation waiting in the queue (or running).
type PendingEvent struct {
	ID        string    `json:"id"`
	Function  string    `json:"function"`
	Qualifier string    `json:"qualifier,omitempty"`
	Attempts  int       `json:"attempts"`
	Throttles int       `json:"throttles,omitempty"`
	Enqueued  time.Time `json:"enqueued"`
	NotBefore time.Time `json:"notBefore"`
	Running   bool      `json:"running"`
	// PayloadBytes is the payload's size; the payload itself is not shown.
	PayloadBytes int `json:"payloadBytes"`
}

// PendingEvents lists up to limit queued Event invocations of account in
// region, soonest due first.
func (s *Service) PendingEvents(ctx context.Context, account, region string, limit int) ([]PendingEvent, error) {
	out := []PendingEvent{}
	now := time.Now()
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		return tx.Scan(bEvents, "", "", func(_ string, raw []byte) bool {
			var e event
			if json.Unmarshal(raw, &e) != nil || e.Account != account || e.Region != region {
				return true
			}
			out = append(out, PendingEvent{ID: e.ID, Function: e.Name, Qualifier: e.Qualifier, Attempts: e.Attempts, Throttles: e.Throttles,
				Enqueued: e.Enqueued, NotBefore: e.NotBefore, PayloadBytes: len(e.Payload),
				Running: e.Owner != "" && e.LeaseUntil.After(now)}) // leased: running on some node
			return len(out) < limit
		})
	})
	if err != nil {
		return nil, err
	}
	if q := s.queue; q != nil {
		q.mu.Lock()
		for i := range out {
			out[i].Running = out[i].Running || q.active[out[i].ID]
		}
		q.mu.Unlock()
	}
	return out, nil
}

// ForgetActivity drops what the console keeps of functionARN's version, or
// of the whole function with version "" (it was deleted: a function made
// again under its name starts afresh, and memory does not grow with
// deleted functions).
func (s *Service) ForgetActivity(functionARN, version string) {
	a := &s.activity
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.fns[functionARN]
	if f == nil {
		return
	}
	if version == "" {
		delete(a.fns, functionARN)
		return
	}
	for k := range f.buckets {
		if k.version == version {
			delete(f.buckets, k)
		}
	}
}
