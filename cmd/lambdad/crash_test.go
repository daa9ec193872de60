package main

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/testkit"
)

// The crash test drives lambdad with concurrent writers, kills it with
// SIGKILL mid-load, restarts it on the same data directory and checks that
// every write it acknowledged survived. A write whose answer never arrived
// may or may not have landed; the model tracks it as in flight and accepts
// either outcome, but nothing else.

const (
	crashWorkers   = 10
	crashCycles    = 3
	crashMaxFns    = 6              // per worker
	crashAccountID = "000000000000" // the access key "test" is not 12 digits
)

type opKind int

const (
	opCreate opKind = iota
	opConfig
	opCode
	opPublish
	opTag
)

func (k opKind) String() string {
	return [...]string{"create", "config", "code", "publish", "tag"}[k]
}

// fnConfig is the part of a configuration the writers change.
type fnConfig struct {
	desc string
	mem  int32
	env  string // value of the variable NUM
}

type versionModel struct {
	sha, desc, rev string
	mem            int32
	env            string
}

// pendingOp is a write that was sent but not acknowledged.
type pendingOp struct {
	kind    opKind
	cfg     fnConfig // opConfig
	sha     string   // opCode, opCreate
	tagKey  string   // opTag
	pubDesc string   // opPublish
}

type fnModel struct {
	name     string
	arn      string
	created  bool // CreateFunction acknowledged (or seen after a restart)
	code     string
	cfg      fnConfig
	tags     map[string]string
	versions map[string]versionModel
	// dirty: an acknowledged change since the last publish, so PublishVersion
	// must make a new version.
	dirty bool
	// rev is the RevisionId read once the last acknowledged write settled;
	// "" when unknown (a write was sent after it, or it never settled).
	rev      string
	inflight *pendingOp
}

// worker owns its functions: one goroutine writes each function, so the
// order of acknowledgements is the order of commits.
type worker struct {
	id  int
	seq int
	fns []*fnModel
}

func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 durability test builds and runs the binary")
	}
	bin := lambdadBin.Path(t)
	dir := filepath.Join(t.TempDir(), "data")
	args := []string{"--listen", "127.0.0.1:0", "--data-dir", dir, "--transition", "20ms", "--log-level", "info", "--runtime-fallback"}

	workers := make([]*worker, crashWorkers)
	for i := range workers {
		workers[i] = &worker{id: i}
	}
	p := testkit.StartProcess(t, bin, "", nil, args...)
	acked := 0
	for cycle := range crashCycles {
		cl := newLambdaClient(p.Addr)
		var killed atomic.Bool
		var wg sync.WaitGroup
		var writes atomic.Int64
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for _, w := range workers {
			wg.Go(func() { w.load(ctx, t, cl, &killed, &writes) })
		}
		// Kill at a random moment once some writes have been acknowledged.
		time.Sleep(time.Duration(800+rand.IntN(1200)) * time.Millisecond)
		killed.Store(true)
		p.Kill(syscall.SIGKILL)
		wg.Wait()
		cancel()
		acked += int(writes.Load())
		inflight, unsettled, fns := 0, 0, 0
		for _, w := range workers {
			for _, f := range w.fns {
				fns++
				if f.inflight != nil {
					inflight++
				} else if f.rev == "" {
					unsettled++
				}
			}
		}
		t.Logf("cycle %d: %d functions, %d writes acknowledged before SIGKILL, %d in flight, %d more not yet settled",
			cycle, fns, writes.Load(), inflight, unsettled)
		if t.Failed() {
			t.Logf("lambdad log:\n%s", p.Log())
			return
		}

		p = testkit.StartProcess(t, bin, "", nil, args...)
		verify(t, newLambdaClient(p.Addr), workers)
		if t.Failed() {
			t.Logf("lambdad log after restart:\n%s", p.Log())
			return
		}
	}
	if acked < 20 {
		t.Errorf("only %d writes acknowledged over %d cycles: the load did not run", acked, crashCycles)
	}
}

func newLambdaClient(base string) *lambda.Client {
	// testkit.Client does not retry: a retried write could land twice and
	// blur what was acknowledged.
	return testkit.Client(base, "test", "test", "us-east-1", func(o *lambda.Options) {
		o.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	})
}

// load writes until lambdad dies (or the context ends).
func (w *worker) load(ctx context.Context, t *testing.T, cl *lambda.Client, killed *atomic.Bool, writes *atomic.Int64) {
	for ctx.Err() == nil {
		err := w.step(ctx, cl, writes)
		if err == nil {
			continue
		}
		if !killed.Load() && ctx.Err() == nil {
			t.Errorf("worker %d before the kill: %v", w.id, err)
		}
		return
	}
}

func (w *worker) step(ctx context.Context, cl *lambda.Client, writes *atomic.Int64) error {
	w.seq++
	n := w.seq
	if len(w.fns) == 0 || (len(w.fns) < crashMaxFns && rand.IntN(4) == 0) {
		return w.create(ctx, cl, n, writes)
	}
	f := w.fns[rand.IntN(len(w.fns))]
	if !f.created || f.inflight != nil {
		// Left over from an earlier cycle without an outcome; never happens
		// after verify, which settles every function.
		return fmt.Errorf("%s: unsettled model", f.name)
	}
	r := rand.IntN(100)
	var err error
	var kind opKind
	switch {
	case r < 35 || (r < 75 && r >= 50 && !f.dirty):
		kind, err = opConfig, f.update(ctx, cl, n)
	case r < 50:
		kind, err = opCode, f.updateCode(ctx, cl, n)
	case r < 75:
		kind, err = opPublish, f.publish(ctx, cl, n)
	default:
		kind, err = opTag, f.tag(ctx, cl, n)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", kind, f.name, err)
	}
	writes.Add(1)
	if err := f.settle(ctx, cl, 10*time.Second); err != nil {
		return fmt.Errorf("settle %s after %s: %w", f.name, kind, err)
	}
	return nil
}

// makeZip builds a distinct archive for (name, n). Most of it is random, so
// truncated or mixed-up code cannot pass for the original.
func makeZip(name string, n int) ([]byte, string) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h, _ := zw.Create("handler.py")
	fmt.Fprintf(h, "# %s %d\ndef handler(event, context):\n    return %d\n", name, n, n)
	blob, _ := zw.CreateHeader(&zip.FileHeader{Name: "data.bin", Method: zip.Store})
	rnd := rand.NewChaCha8([32]byte{byte(n), byte(n >> 8), byte(len(name))})
	junk := make([]byte, 16<<10+rand.IntN(16<<10))
	rnd.Read(junk)
	blob.Write(junk)
	zw.Close()
	return buf.Bytes(), testkit.SHA256B64(buf.Bytes())
}

func configOf(n int) fnConfig {
	return fnConfig{desc: "d-" + strconv.Itoa(n), mem: 128 + int32(n%8)*64, env: strconv.Itoa(n)}
}

func (w *worker) create(ctx context.Context, cl *lambda.Client, n int, writes *atomic.Int64) error {
	name := fmt.Sprintf("crash-w%d-%d", w.id, n)
	code, sha := makeZip(name, n)
	c := configOf(n)
	f := &fnModel{name: name, tags: map[string]string{}, versions: map[string]versionModel{},
		inflight: &pendingOp{kind: opCreate, sha: sha, cfg: c}}
	w.fns = append(w.fns, f)
	out, err := cl.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Runtime:      types.RuntimePython312,
		Role:         aws.String(testkit.Role),
		Handler:      aws.String("handler.handler"),
		Code:         &types.FunctionCode{ZipFile: code},
		Description:  aws.String(c.desc),
		MemorySize:   aws.Int32(c.mem),
		Environment:  &types.Environment{Variables: map[string]string{"NUM": c.env}},
	})
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	writes.Add(1)
	if got := aws.ToString(out.CodeSha256); got != sha {
		return fmt.Errorf("create %s: CodeSha256 %s, sent %s", name, got, sha)
	}
	f.created, f.code, f.cfg, f.arn, f.dirty, f.inflight = true, sha, c, aws.ToString(out.FunctionArn), true, nil
	if err := f.settle(ctx, cl, 10*time.Second); err != nil {
		return fmt.Errorf("settle %s after create: %w", name, err)
	}
	return nil
}

func (f *fnModel) update(ctx context.Context, cl *lambda.Client, n int) error {
	c := configOf(n)
	rev := f.rev
	f.rev, f.inflight = "", &pendingOp{kind: opConfig, cfg: c}
	out, err := cl.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(f.name),
		Description:  aws.String(c.desc),
		MemorySize:   aws.Int32(c.mem),
		Environment:  &types.Environment{Variables: map[string]string{"NUM": c.env}},
		RevisionId:   aws.String(rev),
	})
	if err != nil {
		return err
	}
	if got := cfgOf(out.Description, out.MemorySize, out.Environment); got != c {
		return fmt.Errorf("answered %+v, sent %+v", got, c)
	}
	f.cfg, f.dirty, f.inflight = c, true, nil
	return nil
}

func (f *fnModel) updateCode(ctx context.Context, cl *lambda.Client, n int) error {
	code, sha := makeZip(f.name, n)
	rev := f.rev
	f.rev, f.inflight = "", &pendingOp{kind: opCode, sha: sha}
	out, err := cl.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{
		FunctionName: aws.String(f.name),
		ZipFile:      code,
		RevisionId:   aws.String(rev),
	})
	if err != nil {
		return err
	}
	if got := aws.ToString(out.CodeSha256); got != sha {
		return fmt.Errorf("CodeSha256 %s, sent %s", got, sha)
	}
	f.code, f.dirty, f.inflight = sha, true, nil
	return nil
}

func (f *fnModel) publish(ctx context.Context, cl *lambda.Client, n int) error {
	desc := "p-" + strconv.Itoa(n)
	rev := f.rev
	f.rev, f.inflight = "", &pendingOp{kind: opPublish, pubDesc: desc}
	out, err := cl.PublishVersion(ctx, &lambda.PublishVersionInput{
		FunctionName: aws.String(f.name),
		CodeSha256:   aws.String(f.code),
		Description:  aws.String(desc),
		RevisionId:   aws.String(rev),
	})
	if err != nil {
		return err
	}
	v := aws.ToString(out.Version)
	if _, dup := f.versions[v]; dup {
		return fmt.Errorf("published version %s again although $LATEST changed", v)
	}
	if want := strconv.Itoa(len(f.versions) + 1); v != want {
		return fmt.Errorf("published version %q, want %q", v, want)
	}
	got := versionModel{sha: aws.ToString(out.CodeSha256), desc: aws.ToString(out.Description), rev: aws.ToString(out.RevisionId),
		mem: aws.ToInt32(out.MemorySize), env: envN(out.Environment)}
	want := versionModel{sha: f.code, desc: desc, rev: got.rev, mem: f.cfg.mem, env: f.cfg.env}
	if got != want || got.rev == "" {
		return fmt.Errorf("version %s is %+v, want %+v", v, got, want)
	}
	f.versions[v], f.dirty, f.inflight = got, false, nil
	return nil
}

func (f *fnModel) tag(ctx context.Context, cl *lambda.Client, n int) error {
	k, v := "k"+strconv.Itoa(n), "v"+strconv.Itoa(n)
	f.rev, f.inflight = "", &pendingOp{kind: opTag, tagKey: k}
	if _, err := cl.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(f.arn), Tags: map[string]string{k: v}}); err != nil {
		return err
	}
	f.tags[k], f.inflight = v, nil
	return nil
}

// settle waits until the function is Active with its last update done and
// records the RevisionId it then has.
func (f *fnModel) settle(ctx context.Context, cl *lambda.Client, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		out, err := cl.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(f.name)})
		if err != nil {
			return err
		}
		if out.State == types.StateActive && out.LastUpdateStatus == types.LastUpdateStatusSuccessful {
			if got := cfgOf(out.Description, out.MemorySize, out.Environment); f.inflight == nil && got != f.cfg {
				return fmt.Errorf("settled with %+v, last acknowledged %+v", got, f.cfg)
			}
			f.rev = aws.ToString(out.RevisionId)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still State=%s LastUpdateStatus=%s: %w", out.State, out.LastUpdateStatus, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func cfgOf(desc *string, mem *int32, env *types.EnvironmentResponse) fnConfig {
	return fnConfig{desc: aws.ToString(desc), mem: aws.ToInt32(mem), env: envN(env)}
}

func envN(env *types.EnvironmentResponse) string {
	if env == nil {
		return ""
	}
	return env.Variables["NUM"]
}

func isNotFound(err error) bool {
	var ae interface{ ErrorCode() string }
	return errors.As(err, &ae) && ae.ErrorCode() == "ResourceNotFoundException"
}

// verify checks a restarted lambdad against the model, then makes the model
// what was found, so the next cycle starts from certain ground.
func verify(t *testing.T, cl *lambda.Client, workers []*worker) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	listed := map[string]bool{}
	pg := lambda.NewListFunctionsPaginator(cl, &lambda.ListFunctionsInput{MaxItems: aws.Int32(7)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			t.Errorf("ListFunctions after restart: %v", err)
			break
		}
		for _, fc := range page.Functions {
			listed[aws.ToString(fc.FunctionName)] = true
		}
	}
	for _, w := range workers {
		kept := w.fns[:0]
		for _, f := range w.fns {
			if keep := verifyFunction(ctx, t, cl, f, listed[f.name]); keep {
				kept = append(kept, f)
			}
		}
		w.fns = kept
	}
}

func verifyFunction(ctx context.Context, t *testing.T, cl *lambda.Client, f *fnModel, listed bool) bool {
	in, settledRev := f.inflight, f.rev
	_, err := cl.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(f.name)})
	switch {
	case isNotFound(err) && !f.created:
		if listed {
			t.Errorf("%s: listed by ListFunctions but GetFunction says not found", f.name)
		}
		return false // its create never landed: fine
	case isNotFound(err):
		t.Errorf("%s: acknowledged function lost after SIGKILL", f.name)
		return false
	case err != nil:
		t.Errorf("%s: GetFunction after restart: %v", f.name, err)
		return false
	}
	if !listed {
		t.Errorf("%s: exists but ListFunctions does not list it", f.name)
	}
	// Transitions that were under way at the kill must finish after restart.
	if err := f.settle(ctx, cl, 10*time.Second); err != nil {
		t.Errorf("%s: not settled after restart: %v", f.name, err)
		return false
	}
	got, err := cl.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(f.name)})
	if err != nil {
		t.Errorf("%s: GetFunction: %v", f.name, err)
		return false
	}
	c := got.Configuration
	sha := aws.ToString(c.CodeSha256)
	cfg := cfgOf(c.Description, c.MemorySize, c.Environment)

	if !f.created { // an unacknowledged create that landed: all of it must have
		if sha != in.sha || cfg != in.cfg {
			t.Errorf("%s: unacknowledged create landed as code %s %+v, sent %s %+v", f.name, sha, cfg, in.sha, in.cfg)
		}
	} else {
		if sha != f.code && !(in != nil && in.kind == opCode && sha == in.sha) {
			t.Errorf("%s: CodeSha256 %s after restart, acknowledged %s (in flight: %+v)", f.name, sha, f.code, in)
		}
		if cfg != f.cfg && !(in != nil && in.kind == opConfig && cfg == in.cfg) {
			t.Errorf("%s: config %+v after restart, acknowledged %+v (in flight: %+v)", f.name, cfg, f.cfg, in)
		}
		// With nothing in flight and the last write settled before the kill,
		// nothing may move the revision.
		if in == nil && settledRev != "" && aws.ToString(c.RevisionId) != settledRev {
			t.Errorf("%s: RevisionId %s after restart, was %s when settled before the kill", f.name, aws.ToString(c.RevisionId), settledRev)
		}
	}
	for k, v := range f.tags {
		if got.Tags[k] != v {
			t.Errorf("%s: acknowledged tag %s=%s is %q after restart", f.name, k, v, got.Tags[k])
		}
	}
	for k := range got.Tags {
		if _, ok := f.tags[k]; !ok && !(in != nil && in.kind == opTag && in.tagKey == k) {
			t.Errorf("%s: tag %s appeared that was never sent", f.name, k)
		}
	}
	checkCode(ctx, t, f.name, "$LATEST", got.Code, sha)

	versions := listVersions(ctx, t, cl, f.name)
	for v, want := range f.versions {
		g, ok := versions[v]
		if !ok {
			t.Errorf("%s: acknowledged version %s lost", f.name, v)
			continue
		}
		if g != want {
			t.Errorf("%s: version %s is %+v after restart, acknowledged %+v", f.name, v, g, want)
		}
	}
	extra := 0
	for v, g := range versions {
		if _, ok := f.versions[v]; ok {
			continue
		}
		extra++
		if in == nil || in.kind != opPublish || g.sha != f.code || g.desc != in.pubDesc {
			t.Errorf("%s: version %s (%+v) appeared that was never acknowledged (in flight: %+v)", f.name, v, g, in)
		}
	}
	if extra > 1 {
		t.Errorf("%s: %d unacknowledged versions, at most 1 publish was in flight", f.name, extra)
	}
	for i := 1; i <= len(versions); i++ {
		if _, ok := versions[strconv.Itoa(i)]; !ok {
			t.Errorf("%s: versions not numbered 1..%d: %v", f.name, len(versions), versions)
			break
		}
	}
	for v, g := range versions {
		vf, err := cl.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(f.name), Qualifier: aws.String(v)})
		if err != nil {
			t.Errorf("%s:%s: GetFunction: %v", f.name, v, err)
			continue
		}
		checkCode(ctx, t, f.name, v, vf.Code, g.sha)
	}

	// From here on, what is there is what the model knows.
	f.created, f.code, f.cfg, f.arn = true, sha, cfg, aws.ToString(c.FunctionArn)
	f.tags = map[string]string{}
	for k, v := range got.Tags {
		f.tags[k] = v
	}
	f.versions = versions
	f.inflight = nil
	f.dirty = false // unknown whether a landed write changed $LATEST: publish only after a new change
	f.rev = aws.ToString(c.RevisionId)
	return true
}

func listVersions(ctx context.Context, t *testing.T, cl *lambda.Client, name string) map[string]versionModel {
	out := map[string]versionModel{}
	pg := lambda.NewListVersionsByFunctionPaginator(cl, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String(name)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			t.Errorf("%s: ListVersionsByFunction: %v", name, err)
			return out
		}
		for _, v := range page.Versions {
			if aws.ToString(v.Version) == "$LATEST" {
				continue
			}
			out[aws.ToString(v.Version)] = versionModel{sha: aws.ToString(v.CodeSha256), desc: aws.ToString(v.Description),
				rev: aws.ToString(v.RevisionId), mem: aws.ToInt32(v.MemorySize), env: envN(v.Environment)}
		}
	}
	return out
}

// checkCode downloads Code.Location and compares its SHA-256 with want.
func checkCode(ctx context.Context, t *testing.T, name, qualifier string, loc *types.FunctionCodeLocation, want string) {
	t.Helper()
	if loc == nil || loc.Location == nil {
		t.Errorf("%s:%s: no Code.Location", name, qualifier)
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *loc.Location, nil)
	if err != nil {
		t.Errorf("%s:%s: Code.Location %q: %v", name, qualifier, *loc.Location, err)
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s:%s: download code: %v", name, qualifier, err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("%s:%s: download code: HTTP %d, %v", name, qualifier, resp.StatusCode, err)
		return
	}
	if got := testkit.SHA256B64(body); got != want {
		t.Errorf("%s:%s: downloaded code has SHA-256 %s, want %s (%d bytes)", name, qualifier, got, want, len(body))
	}
}
