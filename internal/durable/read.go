package durable

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/store"
)

// Get is GetDurableExecution.
func (s *Service) Get(ctx context.Context, arn string) (*Execution, error) {
	var ex *Execution
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		ex, err = loadARN(tx, arn)
		return err
	})
	return ex, err
}

// State is GetDurableExecutionState: the operations in start order, a page
// at a time. The token must be the current one; reading does not consume it
// (1.4, 1.6).
func (s *Service) State(ctx context.Context, arn, token, marker string, maxItems int) ([]Operation, *string, *Execution, error) {
	after, err := decodeMarker(marker)
	if err != nil {
		return nil, nil, nil, err
	}
	var ops []Operation
	var next *string
	var ex *Execution
	err = s.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		if ex, err = checkToken(tx, arn, token, false); err != nil {
			return err
		}
		ops, next, err = statePage(tx, ex, after, pageSize(maxItems), 0)
		return err
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return ops, next, ex, nil
}

// checkToken loads the execution arn names and requires token to be its
// current checkpoint token; closedOK lets a read pass after the end.
//
// An execution that does not exist is an invalid token too: neither
// operation has ResourceNotFoundException among its errors [M].
func checkToken(tx store.Tx, arn, token string, closedOK bool) (*Execution, error) {
	id, ok := parseARN(arn)
	if !ok {
		return nil, invalidToken()
	}
	ex, err := loadARN(tx, arn)
	if fault.Is(err, fault.NotFound) {
		return nil, invalidToken()
	}
	if err != nil {
		return nil, err
	}
	if tokExec, err := TokenExec(token); err != nil || tokExec != id {
		return nil, invalidToken()
	}
	tok, err := CheckToken(token, ex.Key)
	if err != nil || tok.Invocation != ex.Invocation || tok.Seq != ex.Seq ||
		ex.InvocationStarted.IsZero() || (ex.Closed() && !closedOK) {
		return nil, invalidToken()
	}
	return ex, nil
}

// statePage reads up to n operations after order key after (its "%08d"
// part), and up to maxBytes of them when maxBytes > 0 (at least one).
// Children of a closed CONTEXT are left out unless it replays them (1.6).
func statePage(tx store.Tx, ex *Execution, after string, n, maxBytes int) ([]Operation, *string, error) {
	prefix := ex.ID + "/"
	start := ""
	if after != "" {
		start = prefix + after
	}
	hidden := map[string]bool{}
	byID := map[string]*Operation{}
	var ops []Operation
	var next *string
	var bad error
	size := 0
	err := tx.Scan(bOp, prefix, start, func(k string, raw []byte) bool {
		op, err := decodeOp(raw)
		if err != nil {
			bad = err
			return false
		}
		byID[op.ID] = op
		if h, err := isHidden(tx, ex, op, byID, hidden); err != nil {
			bad = err
			return false
		} else if h {
			return true
		}
		weight := len(raw)
		if op.Type == TypeExecution {
			weight += len(ex.Input) // the answer carries it as InputPayload
		}
		if len(ops) == n || (maxBytes > 0 && len(ops) > 0 && size+weight > maxBytes) {
			m := encodeMarker(fmt.Sprintf("%08d", ops[len(ops)-1].Order))
			next = &m
			return false
		}
		size += weight
		ops = append(ops, *op)
		return true
	})
	if err == nil {
		err = bad
	}
	if ops == nil {
		ops = []Operation{}
	}
	return ops, next, err
}

// isHidden says whether op is under a closed CONTEXT that does not replay
// its children, at any depth.
func isHidden(tx store.Tx, ex *Execution, op *Operation, byID map[string]*Operation, hidden map[string]bool) (bool, error) {
	if op.ParentID == "" {
		return false, nil
	}
	if h, ok := hidden[op.ID]; ok {
		return h, nil
	}
	parent, ok := byID[op.ParentID]
	if !ok {
		t := newTxn(tx, ex, time.Time{})
		p, err := t.op(op.ParentID)
		if err != nil || p == nil {
			return false, err
		}
		parent, byID[p.ID] = p, p
	}
	h := parent.Type == TypeContext && (parent.Status == OpSucceeded || parent.Status == OpFailed) &&
		(parent.Context == nil || !parent.Context.ReplayChildren)
	if !h {
		var err error
		if h, err = isHidden(tx, ex, parent, byID, hidden); err != nil {
			return false, err
		}
	}
	hidden[op.ID] = h
	return h, nil
}

// History is GetDurableExecutionHistory: events in order (newest first
// when reverse), a page at a time; without includeData their payloads and
// errors are left out.
func (s *Service) History(ctx context.Context, arn string, includeData bool, marker string, maxItems int, reverse bool) ([]Event, *string, error) {
	after, err := decodeMarker(marker)
	if err != nil {
		return nil, nil, err
	}
	var from int64
	if after != "" {
		if from, err = strconv.ParseInt(after, 10, 32); err != nil || from < 0 {
			return nil, nil, invalidMarker(marker)
		}
	}
	n := pageSize(maxItems)
	var evs []Event
	var next *string
	err = s.cfg.Store.View(ctx, func(tx store.Tx) error {
		ex, err := loadARN(tx, arn)
		if err != nil {
			return err
		}
		// Event ids are 1..ex.Events without gaps, so a page is read by id
		// in either direction (the store scans forward only).
		id, step := int32(from)+1, int32(1)
		if reverse {
			id, step = ex.Events, -1
			if after != "" {
				id = int32(from) - 1
			}
		}
		for ; id >= 1 && id <= ex.Events; id += step {
			if len(evs) == n {
				m := encodeMarker(strconv.Itoa(int(id - step)))
				next = &m
				break
			}
			raw := tx.Get(bEvent, eventKey(ex.ID, id))
			if raw == nil {
				return fmt.Errorf("durable: event %d of %s missing", id, ex.ID)
			}
			ev, err := readEvent(ex, raw)
			if err != nil {
				return err
			}
			if !includeData {
				ev.Payload, ev.Error = nil, nil
			}
			evs = append(evs, *ev)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if evs == nil {
		evs = []Event{}
	}
	return evs, next, nil
}

// ListInput is ListDurableExecutionsByFunction's query.
type ListInput struct {
	// FunctionARN is unqualified; the API layer checks the function exists.
	FunctionARN string
	// Version keeps the executions of one version ("" for all).
	Version       string
	Name          string
	Statuses      []string
	StartedAfter  time.Time
	StartedBefore time.Time
	OldestFirst   bool
	Marker        string
	MaxItems      int
}

// ListByFunction is ListDurableExecutionsByFunction, newest first (oldest
// first when OldestFirst).
func (s *Service) ListByFunction(ctx context.Context, in ListInput) ([]Execution, *string, error) {
	after, err := decodeMarker(in.Marker)
	if err != nil {
		return nil, nil, err
	}
	n := pageSize(in.MaxItems)
	prefix := in.FunctionARN + "/"
	var out []Execution
	var next *string
	err = s.cfg.Store.View(ctx, func(tx store.Tx) error {
		// Keys are small; newest first reads them all, as the store scans
		// forward only.
		var keys []string
		if err := tx.Scan(bByFn, prefix, "", func(k string, _ []byte) bool {
			keys = append(keys, k[len(prefix):])
			return true
		}); err != nil {
			return err
		}
		if !in.OldestFirst {
			slices.Reverse(keys)
		}
		if after != "" {
			i := slices.Index(keys, after)
			if i < 0 {
				return invalidMarker(in.Marker)
			}
			keys = keys[i+1:]
		}
		var last string
		for _, k := range keys {
			_, id, _ := strings.Cut(k, "/")
			ex, err := loadExec(tx, id)
			if err != nil {
				return err
			}
			if ex == nil || !listed(ex, &in) {
				continue
			}
			if len(out) == n {
				m := encodeMarker(last)
				next = &m
				break
			}
			out = append(out, *ex)
			last = k
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if out == nil {
		out = []Execution{}
	}
	return out, next, nil
}

func listed(ex *Execution, in *ListInput) bool {
	return (in.Version == "" || ex.Version == in.Version) &&
		(in.Name == "" || ex.Name == in.Name) &&
		(len(in.Statuses) == 0 || slices.Contains(in.Statuses, ex.Shown())) &&
		(in.StartedAfter.IsZero() || ex.Started.After(in.StartedAfter)) &&
		(in.StartedBefore.IsZero() || ex.Started.Before(in.StartedBefore))
}

// readEvent decodes a stored event of ex, with what txn.event left out as
// the execution holds it: the execution's events' operation id (its own)
// and ExecutionStarted's input.
func readEvent(ex *Execution, raw []byte) (*Event, error) {
	ev, err := decodeEvent(raw)
	if err != nil {
		return nil, err
	}
	if ev.OpID == "" && ev.Type != EvInvocationCompleted {
		ev.OpID = ex.ID
	}
	if ev.Type == EvExecutionStarted && ev.Payload == nil {
		ev.Payload = &ex.Input
	}
	return ev, nil
}
