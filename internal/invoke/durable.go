package invoke

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/durable"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/ids"
)

// Durable functions (docs/durable.md 2.4): Invoke of a function with
// DurableConfig starts a durable execution, and every invocation of it (the
// first and each replay) runs through run, the same admission and sandbox
// path as any invoke. internal/durable decides what each answer means.

// msgUnqualified is AWS's answer to an unqualified durable invoke (1.2).
const msgUnqualified = "You cannot invoke a durable function using an unqualified ARN."

// syncWaitCap bounds how long a synchronous invoke waits for its execution
// to end: "limited to 15 minutes, or less if the function timeout or
// execution timeout is lower" (DG durable-invoking).
const syncWaitCap = 15 * time.Minute

// syncWait is that limit for a function's configuration.
func syncWait(snap *functions.Snapshot) time.Duration {
	d := syncWaitCap
	if t := deref32(snap.Config.Timeout, 3); t > 0 {
		d = min(d, time.Duration(t)*time.Second)
	}
	if t := deref32(snap.Config.DurableConfig.ExecutionTimeout, 0); t > 0 {
		d = min(d, time.Duration(t)*time.Second)
	}
	return d
}

// waitPoll is how often a waiting synchronous invoke re-reads its
// execution, for ends it is not told of (StopDurableExecution, the
// execution timeout): invocations it drives itself notify at once.
const waitPoll = 200 * time.Millisecond

// durableRunner drives the invocations of durable executions.
type durableRunner struct {
	s   *Service
	d   *durable.Service
	ctx context.Context
	// started guards Start: the scheduler runs once.
	started sync.Once
	mu      sync.Mutex
	// changed is closed (and replaced) when an invocation ended, so that
	// synchronous invokes waiting for an execution re-read it.
	changed chan struct{}
	// driving counts the drives of each execution on this node (durable_lease.go).
	driving map[string]int
}

func newDurableRunner(ctx context.Context, s *Service, d *durable.Service) *durableRunner {
	return &durableRunner{s: s, d: d, ctx: ctx, changed: make(chan struct{})}
}

// StartDurable re-invokes the executions that needed an invocation when
// lambdad stopped and starts the scheduler of durable timers. It is called
// once lambdad listens, so that functions know its endpoint; later calls do
// nothing.
func (s *Service) StartDurable() {
	r := s.dur
	if r == nil {
		return
	}
	r.started.Do(func() {
		arns, err := r.d.Pending(r.ctx)
		if err != nil {
			s.cfg.Logger.Error("durable: listing executions to resume", "err", err)
		}
		for _, arn := range arns {
			go r.begin(arn)
		}
		chained, err := r.d.ChainedStarted(r.ctx)
		if err != nil {
			s.cfg.Logger.Error("durable: listing chained invokes to resume", "err", err)
		}
		for _, c := range chained {
			go r.chainClaimed(c)
		}
		if r.leased() {
			go r.takeOver()
		}
		go func() {
			if err := r.d.Run(r.ctx, func(arn string) { go r.begin(arn) }); err != nil && r.ctx.Err() == nil {
				s.cfg.Logger.Error("durable: scheduler stopped", "err", err)
			}
		}()
	})
}

// WakeDurable invokes the execution arn names now: something it waited for
// (a callback) is ready. The API layer calls it with what the durable
// service answered.
func (s *Service) WakeDurable(arn string) {
	if s.dur != nil && arn != "" {
		go s.dur.begin(arn)
	}
}

// invokeDurable is Invoke of a function with DurableConfig (1.2).
func (s *Service) invokeDurable(ctx context.Context, ref functions.Ref, snap *functions.Snapshot, payload []byte, opts Options) (Result, error) {
	if ref.Qualifier == "" {
		return Result{}, fault.InvalidParameterf(msgUnqualified)
	}
	if s.dur == nil {
		return Result{}, fault.Unsupported("Durable execution")
	}
	if opts.Type == DryRun {
		return Result{}, nil
	}
	// An alias's routing picks the version once: the execution is pinned to it.
	snap, err := s.pick(ctx, ref, snap)
	if err != nil {
		return Result{}, err
	}
	dc := snap.Config.DurableConfig
	if dc == nil {
		// The alias routed to a version without DurableConfig: an
		// ordinary invoke of that version.
		plain := ref
		plain.Qualifier = snap.Version
		return s.Invoke(ctx, plain, payload, opts)
	}
	st, err := s.dur.d.Start(ctx, durable.StartInput{
		FunctionARN: ref.ARN(), Version: snap.Version, Name: opts.DurableExecutionName, Payload: string(payload),
		ExecutionTimeout: deref32(dc.ExecutionTimeout, 0), RetentionDays: deref32(dc.RetentionPeriodInDays, 0),
		KMSKeyARN: deref(dc.KMSKeyArn), TraceID: traceID(),
	})
	if err != nil {
		return Result{}, err
	}
	ex := st.Execution
	if st.New {
		go s.dur.drive(ex.ARN, st.Input)
	}
	out := Result{DurableExecutionArn: ex.ARN, ExecutedVersion: ex.Version}
	if opts.Type == Event {
		return out, nil
	}
	// A synchronous invoke waits for the whole execution (DG
	// durable-invoking); repeating a running execution's name reattaches.
	ex, err = s.dur.wait(ctx, ex.ARN, syncWait(snap))
	if err != nil {
		return out, err
	}
	out.Payload, out.FunctionError = syncAnswer(ex)
	return out, nil
}

// syncAnswer is what a synchronous invoke answers for ex: its result when
// it succeeded; otherwise, as for a function error, "Unhandled" with its
// error [?] (docs/durable.md 1.2: no recorded AWS answer was found).
func syncAnswer(ex *durable.Execution) ([]byte, string) {
	if ex.Status == durable.Succeeded {
		if ex.Result == nil {
			return []byte{}, ""
		}
		return []byte(*ex.Result), ""
	}
	doc := struct {
		ErrorType    string   `json:"errorType"`
		ErrorMessage string   `json:"errorMessage"`
		StackTrace   []string `json:"stackTrace,omitempty"`
	}{}
	switch e := ex.Error; {
	case ex.Status == durable.Running:
		// [?] The synchronous limit passed with the execution still
		// running (it goes on).
		doc.ErrorType, doc.ErrorMessage = "Sandbox.Timedout", "The synchronous invocation of the durable execution timed out; the execution continues."
	case e != nil:
		doc.ErrorType, doc.ErrorMessage, doc.StackTrace = deref(e.Type), deref(e.Message), e.StackTrace
	default: // a timeout, which has no error (durable's fire)
		doc.ErrorType, doc.ErrorMessage = ex.Status, "Durable execution "+strings.ToLower(strings.ReplaceAll(ex.Status, "_", " "))+"."
	}
	b, _ := json.Marshal(doc)
	return b, "Unhandled"
}

// wait waits until execution arn ends, ctx ends or limit passes, and
// answers it as it then is.
func (r *durableRunner) wait(ctx context.Context, arn string, limit time.Duration) (*durable.Execution, error) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(waitPoll)
	defer tick.Stop()
	for {
		r.mu.Lock()
		ch := r.changed
		r.mu.Unlock()
		ex, err := r.d.Get(ctx, arn)
		if err != nil || ex.Closed() {
			return ex, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return ex, nil
		case <-ch:
		case <-tick.C:
		}
	}
}

// notify wakes the synchronous invokes waiting for an execution.
func (r *durableRunner) notify() {
	r.mu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// begin starts a new invocation (a replay) of execution arn and drives it.
func (r *durableRunner) begin(arn string) {
	in, err := r.d.BeginInvocation(r.ctx, arn)
	if err != nil {
		if !fault.Is(err, fault.Conflict) && r.ctx.Err() == nil { // Conflict: it has ended meanwhile
			r.s.cfg.Logger.Error("durable: starting an invocation", "execution", arn, "err", err)
		}
		return
	}
	r.drive(arn, in)
}

// drive runs invocation in of execution arn and the ones that must follow
// it at once: a failed invocation is retried after a backoff, as AWS's
// backend retries infrastructure failures until the execution times out
// (1.3), and an invocation that answered PENDING while something it waits
// for became ready is replayed. Waits end here: the scheduler invokes the
// execution again when their time comes.
func (r *durableRunner) drive(arn string, in *durable.InvocationInput) {
	defer r.enter(arn)()
	ctx := r.ctx
	failures, throttles := 0, 0
	for {
		fin, failed, err := r.invokeOnce(ctx, arn, in)
		var delay time.Duration
		switch {
		case errors.Is(err, errThrottled):
			// The invocation never started: nothing to finish. It is
			// retried with a fresh token and state, as a throttled event.
			throttles++
			delay = backoff(r.s.cfg.ThrottleBase, throttles)
		case err != nil:
			if ctx.Err() == nil {
				r.s.cfg.Logger.Error("durable: finishing an invocation", "execution", arn, "err", err)
			}
			return
		default:
			r.notify()
			throttles = 0
			if !fin.Invoke {
				return
			}
			if failed {
				failures++
				delay = backoff(r.s.cfg.RetryBase, failures)
			} else {
				failures = 0
			}
		}
		if delay > 0 && !sleep(ctx, delay) {
			return // lambdad stops; Pending lists it at the next start
		}
		if in, err = r.d.BeginInvocation(ctx, arn); err != nil {
			if !fault.Is(err, fault.Conflict) && ctx.Err() == nil {
				r.s.cfg.Logger.Error("durable: starting an invocation", "execution", arn, "err", err)
			}
			return
		}
	}
}

// backoff is the delay before the n-th retry of a failed invocation, as
// the event queue's: doubling from base (RetryBase, ThrottleBase for a
// throttled one) up to five minutes.
func backoff(base time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < 5*time.Minute; i++ {
		d *= 2
	}
	return min(d, 5*time.Minute)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// errThrottled says a concurrency limit refused an invocation before it
// started.
var errThrottled = errors.New("durable: invocation throttled")

// invokeOnce runs one invocation of the execution's pinned version through
// run (concurrency limits included) and hands its end to Finish. failed
// says the invocation produced no output (crashed, timed out, could not
// start); a throttled one answers errThrottled and finishes nothing.
func (r *durableRunner) invokeOnce(ctx context.Context, arn string, in *durable.InvocationInput) (*durable.Finished, bool, error) {
	requestID := ids.UUID()
	out := durable.Outcome{Invocation: in.Invocation(), RequestID: requestID}
	payload, err := in.MarshalInput()
	if err != nil {
		return nil, false, err
	}
	ref, err := pinnedRef(arn)
	if err == nil {
		var snap *functions.Snapshot
		if snap, err = r.s.resolve(ctx, ref); err == nil {
			res, rerr := r.s.run(ctx, snap, requestID, payload, "", "")
			switch {
			case fault.Is(rerr, fault.TooManyRequests):
				return nil, false, errThrottled
			case rerr != nil:
				err = rerr
			case res.FunctionError != "":
				out.Err = functionError(res.FunctionError, res.Payload)
			default:
				out.Output = res.Payload
			}
		}
	}
	if err != nil {
		out.Err = invocationError(err)
	}
	fin, ferr := r.d.Finish(ctx, arn, out)
	return fin, out.Err != nil, ferr
}

// pinnedRef is the version-qualified function an execution ARN names
// (arn:aws:lambda:<region>:<account>:function:<name>:<version>/durable-execution/...).
func pinnedRef(arn string) (functions.Ref, error) {
	fn, _, _ := strings.Cut(arn, "/durable-execution/")
	parts := strings.Split(fn, ":")
	if len(parts) != 8 || parts[5] != "function" {
		return functions.Ref{}, errors.New("durable: malformed execution ARN " + arn)
	}
	return functions.Ref{Region: parts[3], Account: parts[4], Name: parts[6], Qualifier: parts[7]}, nil
}

// functionError is a failed invocation's error document as an ErrorObject.
func functionError(kind string, payload []byte) *durable.ErrorObject {
	var doc struct {
		ErrorType    string   `json:"errorType"`
		ErrorMessage string   `json:"errorMessage"`
		StackTrace   []string `json:"stackTrace"`
	}
	_ = json.Unmarshal(payload, &doc)
	if doc.ErrorType == "" {
		doc.ErrorType = kind
	}
	return &durable.ErrorObject{Type: &doc.ErrorType, Message: &doc.ErrorMessage, StackTrace: doc.StackTrace}
}

// invocationError is an invocation that could not run (runtime failed to
// start, function gone) as an ErrorObject.
func invocationError(err error) *durable.ErrorObject {
	kind := "ServiceException"
	msg := err.Error()
	return &durable.ErrorObject{Type: &kind, Message: &msg}
}

// ChainDurable runs the target of the CHAINED_INVOKE operation op, which a
// checkpoint of execution arn just started, and records its end; the API
// layer calls it with what the checkpoint answered. The target is invoked
// synchronously through Invoke, as any caller of the execution's account
// would (a durable target by a qualified name starts an execution of its
// own and answers when it ends).
func (s *Service) ChainDurable(arn string, op durable.Operation) {
	if s.dur == nil || op.Chained == nil {
		return
	}
	go s.dur.chain(arn, op.ID, *op.Chained)
}

func (r *durableRunner) chain(arn, opID string, c durable.ChainedState) {
	defer r.enter(arn + "#" + opID)()
	ctx := r.ctx
	status, result, e := durable.OpSucceeded, (*string)(nil), (*durable.ErrorObject)(nil)
	parent, err := pinnedRef(arn)
	var ref functions.Ref
	if err == nil {
		ref, err = functions.ParseRef(caller.Identity{Account: parent.Account, Region: parent.Region}, c.FunctionName, nil)
	}
	if err == nil {
		payload := []byte("{}")
		if c.Input != nil && *c.Input != "" {
			payload = []byte(*c.Input)
		}
		var res Result
		res, err = r.s.Invoke(ctx, ref, payload, Options{Type: Sync, TenantID: c.TenantID})
		switch {
		case err != nil:
		case res.FunctionError != "":
			status, e = durable.OpFailed, functionError(res.FunctionError, res.Payload)
		default:
			p := string(res.Payload)
			result = &p
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return // lambdad stops: the operation is run again at the next start
		}
		status, e = durable.OpFailed, chainError(err)
	}
	wake, err := r.d.ChainedInvokeDone(ctx, arn, opID, status, result, e)
	if err != nil {
		if ctx.Err() == nil {
			r.s.cfg.Logger.Error("durable: recording a chained invoke", "execution", arn, "operation", opID, "err", err)
		}
		return
	}
	r.notify()
	if wake != "" {
		r.begin(wake)
	}
}

// chainError is an Invoke refusal as the ErrorObject of a chained invoke:
// the error code AWS gives its kind, as the emulators record the refusal of
// an unqualified durable target (docs/durable.md 1.5).
func chainError(err error) *durable.ErrorObject {
	kind := "ServiceException"
	if f, ok := fault.As(err); ok {
		switch f.Kind {
		case fault.InvalidParameter:
			kind = "InvalidParameterValueException"
		case fault.NotFound:
			kind = "ResourceNotFoundException"
		case fault.TooManyRequests:
			kind = "TooManyRequestsException"
		case fault.AccessDenied:
			kind = "AccessDeniedException"
		}
	}
	msg := err.Error()
	if f, ok := fault.As(err); ok && f.Message != "" {
		msg = f.Message
	}
	return &durable.ErrorObject{Type: &kind, Message: &msg}
}
