package logs

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ErrToken is a pagination token this store did not give out.
var ErrToken = errors.New("logs: invalid token")

// Page limits, as CloudWatch Logs: at most 10,000 events and 1 MB.
const (
	MaxPageEvents = 10000
	maxPageBytes  = 1 << 20
)

// FilterInput is a FilterLogEvents request, parsed.
type FilterInput struct {
	Query
	Limit int    // 0: MaxPageEvents
	Token string // from a previous page's Next
}

// FilterOutput is one page; Next is "" on the last.
type FilterOutput struct {
	Events []Event
	Next   string
}

// pos orders events across streams: by time, then stream, then position.
type pos struct {
	ts     int64
	stream string
	ord    int64
}

func (a pos) less(b pos) bool {
	if a.ts != b.ts {
		return a.ts < b.ts
	}
	if a.stream != b.stream {
		return a.stream < b.stream
	}
	return a.ord < b.ord
}

// Filter answers FilterLogEvents: the events of q in time order across
// streams (interleaved), a page at a time.
func (s *Store) Filter(group string, in FilterInput) (FilterOutput, error) {
	limit := in.Limit
	if limit <= 0 || limit > MaxPageEvents {
		limit = MaxPageEvents
	}
	var after *pos
	if in.Token != "" {
		p, err := decodeFilterToken(in.Token)
		if err != nil {
			return FilterOutput{}, err
		}
		after = &p
	}
	// Blocks are read in time order; once limit+1 events are held, a
	// block that starts after the last of them cannot change the page.
	need := limit + 1
	threshold := int64(math.MaxInt64)
	var evs []Event
	q := in.Query
	q.byTime = true
	q.next = func(minTs int64) bool { return minTs <= threshold }
	err := s.Scan(group, q, func(e Event) bool {
		if after != nil && !after.less(pos{e.Timestamp, e.Stream, e.Ord}) {
			return true
		}
		evs = append(evs, e)
		if len(evs) >= 2*need {
			sortEvents(evs)
			clear(evs[need:])
			evs = evs[:need]
			threshold = evs[need-1].Timestamp
		}
		return true
	})
	if err != nil {
		return FilterOutput{}, err
	}
	sortEvents(evs)
	return filterPage(evs, limit), nil
}

// filterPage cuts evs (sorted, up to limit+1 of them) to a page of at most
// limit events and 1 MB, with the token of what follows.
func filterPage(evs []Event, limit int) FilterOutput {
	out := FilterOutput{Events: evs}
	n, size := 0, 0
	for n < len(evs) && n < limit {
		size += len(evs[n].Message) + 26
		if size > maxPageBytes && n > 0 {
			break
		}
		n++
	}
	if n < len(evs) {
		out.Events = evs[:n]
		last := evs[n-1]
		out.Next = encodeFilterToken(pos{last.Timestamp, last.Stream, last.Ord})
	}
	return out
}

func encodeFilterToken(p pos) string {
	raw := strconv.FormatInt(p.ts, 10) + "\x00" + strconv.FormatInt(p.ord, 10) + "\x00" + p.stream
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeFilterToken(tok string) (pos, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return pos{}, ErrToken
	}
	parts := strings.SplitN(string(raw), "\x00", 3)
	if len(parts) != 3 {
		return pos{}, ErrToken
	}
	ts, err1 := strconv.ParseInt(parts[0], 10, 64)
	ord, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return pos{}, ErrToken
	}
	return pos{ts, parts[2], ord}, nil
}

// GetInput is a GetLogEvents request, parsed.
type GetInput struct {
	Stream        string
	Start, End    int64
	Limit         int
	StartFromHead bool
	Token         string // "f/…" or "b/…" from a previous page
}

// GetOutput is one page of a stream, with AWS's tokens: "f/<position>/s"
// reads on after the page, "b/<position>/s" before it; at either end a
// token comes back unchanged.
type GetOutput struct {
	Events            []Event
	Forward, Backward string
}

// Positions are zero-padded to AWS's 56 digits.
func token(dir byte, ord int64) string {
	return fmt.Sprintf("%c/%056d/s", dir, ord)
}

func parseToken(tok string) (dir byte, ord int64, err error) {
	if len(tok) < 5 || (tok[0] != 'f' && tok[0] != 'b') || tok[1] != '/' {
		return 0, 0, ErrToken
	}
	digits := strings.TrimSuffix(tok[2:], "/s")
	ord, err = strconv.ParseInt(strings.TrimLeft(digits, "0")+"0", 10, 64)
	if err != nil || ord < 0 {
		return 0, 0, ErrToken
	}
	return tok[0], ord / 10, nil
}

// start reads where a GetLogEvents page starts: its size, the token's
// direction ('f', 'b' or 0 for none) and position, and which way it reads.
func (in GetInput) start() (limit int, dir byte, at int64, forward bool, err error) {
	limit = in.Limit
	if limit <= 0 || limit > MaxPageEvents {
		limit = MaxPageEvents
	}
	if in.Token != "" {
		if dir, at, err = parseToken(in.Token); err != nil {
			return 0, 0, 0, false, err
		}
	}
	return limit, dir, at, dir == 'f' || (dir == 0 && in.StartFromHead), nil
}

// Get answers GetLogEvents.
func (s *Store) Get(group string, in GetInput) (GetOutput, error) {
	limit, dir, at, forward, err := in.start()
	if err != nil {
		return GetOutput{}, err
	}
	var evs []Event
	err = s.Scan(group, Query{Streams: []string{in.Stream}, Start: in.Start, End: in.End}, func(e Event) bool {
		switch {
		case dir == 'f' && e.Ord < at, dir == 'b' && e.Ord >= at:
			return true
		}
		evs = append(evs, e)
		if !forward && len(evs) >= 2*limit { // only the last limit are kept
			evs = append(evs[:0], evs[len(evs)-limit:]...)
		}
		return !forward || len(evs) < limit
	})
	if err != nil {
		return GetOutput{}, err
	}
	return getPage(evs, limit, forward, dir, at, in.Token), nil
}

// getPage cuts evs (in stream order, the page's and maybe more) to limit
// events and 1 MB, kept from the start reading forward, from the end
// reading backward, with the tokens around it; dir and at are the request
// token's (0 without one).
func getPage(evs []Event, limit int, forward bool, dir byte, at int64, tok string) GetOutput {
	if len(evs) > limit {
		if forward {
			evs = evs[:limit]
		} else {
			evs = evs[len(evs)-limit:]
		}
	}
	for size, i := 0, 0; i < len(evs); i++ {
		if size += len(evs[i].Message) + 26; size > maxPageBytes && i > 0 {
			if forward {
				evs = evs[:i]
			} else {
				evs = evs[i:]
			}
			break
		}
	}
	if len(evs) == 0 {
		switch dir {
		case 'f':
			return GetOutput{Forward: tok, Backward: token('b', at)}
		case 'b':
			return GetOutput{Forward: token('f', at), Backward: tok}
		}
		return GetOutput{Forward: token('f', 0), Backward: token('b', 0)}
	}
	return GetOutput{Events: evs, Forward: token('f', evs[len(evs)-1].Ord+1), Backward: token('b', evs[0].Ord)}
}

func sortEvents(evs []Event) {
	slices.SortFunc(evs, func(a, b Event) int {
		pa, pb := pos{a.Timestamp, a.Stream, a.Ord}, pos{b.Timestamp, b.Stream, b.Ord}
		switch {
		case pa.less(pb):
			return -1
		case pb.less(pa):
			return 1
		}
		return 0
	})
}
