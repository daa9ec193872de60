package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
	"github.com/lambdad/lambdad/internal/blobs"
	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// TestSharedCodeSurvivesConcurrentDeletes creates and deletes functions
// that share one zip, concurrently: no surviving function may lose its code
// to the collection of the blob another function stopped using.
func TestSharedCodeSurvivesConcurrentDeletes(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	zip := testkit.HandlerZip(t, "def handler(e, c):\n    return 'shared'\n")
	check := func(name string) error {
		out, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
		if err != nil {
			return err
		}
		resp, err := http.Get(aws.ToString(out.Code.Location))
		if err != nil {
			return err
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(got, zip) {
			return fmt.Errorf("%s lost its code: HTTP %d, %d bytes", name, resp.StatusCode, len(got))
		}
		return nil
	}
	// Each worker creates, checks and deletes, so the blob's last
	// reference keeps going away while other creates are under way.
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				name := fmt.Sprintf("share-%d-%d", w, i)
				if _, err := c.CreateFunction(ctx, testkit.CreateInput(name, zip)); err != nil {
					t.Errorf("create %s: %v", name, err)
					return
				}
				if err := check(name); err != nil {
					t.Error(err)
					return
				}
				if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(name)}); err != nil {
					t.Errorf("delete %s: %v", name, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestInvokeWhileCodeUpdates: UpdateFunctionCode every 30 ms while three
// callers invoke must fail no invoke: a run and every environment hold the
// unpacked code they start from, so collecting the replaced code waits for
// them. Afterwards the replaced trees are all collected.
func TestInvokeWhileCodeUpdates(t *testing.T) {
	t.Parallel()
	invokeWhileCodeUpdates(t, nil, "blobs")
}

// invokeWhileCodeUpdates is TestInvokeWhileCodeUpdates on a lambdad tuned
// by tune, whose code store's local directory is <data dir>/<codeDir>.
func invokeWhileCodeUpdates(t *testing.T, tune func(*server.Config), codeDir string) {
	d, c := servertest.InvokeEnv(t, tune)
	ctx := context.Background()
	zipOf := func(n int) []byte {
		return archivetest.Zip(t,
			archivetest.File{Name: "handler.py", Body: "import helper\ndef handler(e, c):\n    return helper.N\n"},
			archivetest.File{Name: "helper.py", Body: fmt.Sprintf("N = %d\n", n)})
	}
	testkit.CreateActive(t, c, testkit.CreateInput("coderace", zipOf(0)))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calls, failed, updates atomic.Int64
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				calls.Add(1)
				out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("coderace")})
				switch {
				case err != nil:
					if failed.Add(1) <= 5 {
						t.Errorf("invoke: %v", err)
					}
				case out.FunctionError != nil:
					if failed.Add(1) <= 5 {
						t.Errorf("invoke: %s: %s", *out.FunctionError, out.Payload)
					}
				}
			}
		})
	}
	// Four seconds, or longer on a slow machine, until enough invokes met
	// enough updates.
	start := time.Now()
	enough := func() bool {
		el := time.Since(start)
		return el > 30*time.Second || el > 4*time.Second && calls.Load() >= 60 && updates.Load() >= 20
	}
	for n := 1; !enough(); n++ {
		_, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("coderace"), ZipFile: zipOf(n)})
		var conflict *types.ResourceConflictException
		if err != nil && !errors.As(err, &conflict) { // a conflict: the last update is still in progress
			t.Fatalf("UpdateFunctionCode: %v", err)
		}
		if err == nil {
			updates.Add(1)
		}
		time.Sleep(30 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d invokes over %d code updates, %d failed", calls.Load(), updates.Load(), failed.Load())
	if updates.Load() < 20 || calls.Load() < 60 {
		t.Errorf("only %d invokes over %d code updates", calls.Load(), updates.Load())
	}
	// The last update's code runs, and retires the environments of the
	// ones before it; then only its tree is left.
	time.Sleep(2 * servertest.FastTransition)
	testkit.Eventually(t, 5*time.Second, "the last code did not run", func() bool {
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("coderace")})
		return err == nil && out.FunctionError == nil && string(out.Payload) != ""
	})
	unpacked := filepath.Join(d.Dir, codeDir, "unpacked")
	var left int
	testkit.Eventually(t, 10*time.Second, "replaced code trees were not collected", func() bool {
		ents, _ := os.ReadDir(unpacked)
		if len(ents) != left {
			left = len(ents)
			t.Logf("%d unpacked trees", left)
		}
		return len(ents) == 1
	})
	objects, _ := filepath.Glob(filepath.Join(d.Dir, codeDir, "objects", "*", "*"))
	if len(objects) != 1 {
		t.Errorf("%d code archives left, want 1: %v", len(objects), objects)
	}
}

// TestStartCollectsUnreferencedCode: code whose collection a crash cut short
// (the last reference was dropped, or its delete waited for environments
// that never stopped) is collected when lambdad starts again; code in use
// is kept.
func TestStartCollectsUnreferencedCode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := servertest.StartLambdad(t, dir, nil)
	c := servertest.InvokeClient(d)
	testkit.CreateActive(t, c, testkit.PyFunction(t, "kept", "def handler(e, c):\n    return 'kept'\n"))
	d.Stop()

	// What a crash leaves: an archive and its tree that nothing refers to.
	bl, err := blobs.Open(filepath.Join(dir, "blobs"), nil)
	if err != nil {
		t.Fatal(err)
	}
	stray, err := bl.PutBytes(context.Background(), testkit.HandlerZip(t, "def handler(e, c):\n    return 'stray'\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bl.Unpacked(context.Background(), stray.Hex); err != nil {
		t.Fatal(err)
	}

	d = servertest.StartLambdad(t, dir, nil)
	c = servertest.InvokeClient(d)
	if out := testkit.Call(t, c, "kept", `{}`); string(out.Payload) != `"kept"` {
		t.Errorf("the function in use answered %s", out.Payload)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "unpacked", stray.Hex)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the unreferenced tree is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "objects", stray.Hex[:2], stray.Hex)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the unreferenced archive is still there: %v", err)
	}
}
