package testkit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"go/build"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"golang.org/x/sys/unix"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
)

// HandlerZip is a small valid Python deployment package: handler.py is body.
func HandlerZip(t testing.TB, body string) []byte {
	t.Helper()
	return archivetest.Zip(t, archivetest.File{Name: "handler.py", Body: body})
}

// SHA256B64 is the base64 SHA-256 of b, as CodeSha256 spells it.
func SHA256B64(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// CreateInput is a minimal valid CreateFunction request for a python3.12
// function.
func CreateInput(name string, zip []byte) *lambda.CreateFunctionInput {
	return &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Role:         aws.String(Role),
		Runtime:      types.RuntimePython312,
		Handler:      aws.String("handler.handler"),
		Code:         &types.FunctionCode{ZipFile: zip},
	}
}

// PyFunction is a CreateFunction request for a python3.12 function whose
// handler.py is src.
func PyFunction(t testing.TB, name, src string) *lambda.CreateFunctionInput {
	t.Helper()
	return CreateInput(name, HandlerZip(t, src))
}

// NodeFunction is a CreateFunction request for a nodejs20.x function made of
// one file.
func NodeFunction(t testing.TB, name, file, handler, src string) *lambda.CreateFunctionInput {
	t.Helper()
	return &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Role:         aws.String(Role),
		Runtime:      types.RuntimeNodejs20x,
		Handler:      aws.String(handler),
		Code:         &types.FunctionCode{ZipFile: archivetest.Zip(t, archivetest.File{Name: file, Body: src})},
	}
}

// GoFunction is a CreateFunction request for a provided.al2023 function
// whose zip holds an executable bootstrap (see GoBootstrapZip).
func GoFunction(name string, zip []byte) *lambda.CreateFunctionInput {
	in := CreateInput(name, zip)
	in.Runtime, in.Handler = types.RuntimeProvidedal2023, aws.String("bootstrap")
	return in
}

// GoBootstrapZip compiles the main package in dir (relative to the test's
// directory, e.g. "testdata/goecho") with BuildGoBootstrap and zips it as an
// executable bootstrap. The zip is cached on disk by a hash of what goes into
// it, under a file lock, so parallel tests, test binaries and later runs
// build it once.
func GoBootstrapZip(t testing.TB, dir string) []byte {
	t.Helper()
	mod := moduleRoot(t)
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", filepath.ToSlash(dir))
	srcs := goSources(t, dir)
	for _, f := range append(srcs, filepath.Join(mod, "go.mod"), filepath.Join(mod, "go.sum")) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(f), len(b))
		h.Write(b)
	}
	fmt.Fprintf(h, "%s/%s", runtime.Version(), runtime.GOARCH)
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	cacheDir := filepath.Join(cache, "lambdad-test-gobootstrap")
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(cacheDir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer unix.Flock(int(lock.Fd()), unix.LOCK_UN)
	cached := filepath.Join(cacheDir, hex.EncodeToString(h.Sum(nil))[:20]+".zip")
	if b, err := os.ReadFile(cached); err == nil {
		return b
	}

	out := filepath.Join(t.TempDir(), "bootstrap")
	if err := BuildGoBootstrap(dir, out); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	zip := archivetest.Zip(t, archivetest.File{Name: "bootstrap", Body: string(bin), Mode: 0o755})
	tmp := cached + ".tmp"
	if err := os.WriteFile(tmp, zip, 0o644); err == nil {
		os.Rename(tmp, cached)
	}
	return zip
}

// BuildGoBootstrap compiles the main package in dir (relative to the
// test's directory) to the executable out, as AWS documents for a Go
// function on provided.al2023: for Linux, static, with aws-lambda-go's
// lambda.norpc tag.
func BuildGoBootstrap(dir, out string) error {
	pkg := dir
	if !filepath.IsAbs(pkg) {
		pkg = "./" + filepath.ToSlash(filepath.Clean(pkg))
	}
	cmd := exec.Command(goTool(), "build", "-tags", "lambda.norpc", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+runtime.GOARCH, "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", dir, err, msg)
	}
	return nil
}

// goSources lists the files of the package in dir, sorted, for the cache key.
func goSources(t testing.TB, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// moduleRoot is the directory of the go.mod above the test's directory.
func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// goTool is the go command: from PATH, else the one this binary was built by.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(build.Default.GOROOT, "bin", "go")
}

// Create makes a function and fails the test if it cannot.
func Create(t testing.TB, c *lambda.Client, in *lambda.CreateFunctionInput) *lambda.CreateFunctionOutput {
	t.Helper()
	out, err := c.CreateFunction(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateFunction %s: %v", aws.ToString(in.FunctionName), err)
	}
	return out
}

// WaitActive waits with the SDK's own waiter, polling fast.
func WaitActive(t testing.TB, c *lambda.Client, name string) *lambda.GetFunctionOutput {
	t.Helper()
	return waitFunction(t, "FunctionActiveV2", name, lambda.NewFunctionActiveV2Waiter(c).WaitForOutput,
		func(o *lambda.FunctionActiveV2WaiterOptions) { o.MinDelay, o.MaxDelay = minPoll, maxPoll })
}

// WaitVersionActive waits with the SDK's published_version_active waiter
// until version q of name is Active (a Lambda Managed Instances version is
// Pending until its minimum environments are started).
func WaitVersionActive(t testing.TB, c *lambda.Client, name, q string) *lambda.GetFunctionConfigurationOutput {
	t.Helper()
	out, err := lambda.NewPublishedVersionActiveWaiter(c).WaitForOutput(context.Background(),
		&lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name), Qualifier: aws.String(q)}, 60*time.Second,
		func(o *lambda.PublishedVersionActiveWaiterOptions) { o.MinDelay, o.MaxDelay = minPoll, maxPoll })
	if err != nil {
		t.Fatalf("PublishedVersionActive waiter %s:%s: %v", name, q, err)
	}
	return out
}

// WaitUpdated waits until the last update of name finished.
func WaitUpdated(t testing.TB, c *lambda.Client, name string) *lambda.GetFunctionOutput {
	t.Helper()
	return waitFunction(t, "FunctionUpdatedV2", name, lambda.NewFunctionUpdatedV2Waiter(c).WaitForOutput,
		func(o *lambda.FunctionUpdatedV2WaiterOptions) { o.MinDelay, o.MaxDelay = minPoll, maxPoll })
}

// The SDK waiters' delays, short so tests stay quick.
const minPoll, maxPoll = 10 * time.Millisecond, 50 * time.Millisecond

// waitFunction runs one of the SDK's GetFunction waiters, with opt, on name
// for up to 20 s, failing the test when it gives up.
func waitFunction[O any](t testing.TB, waiter, name string,
	wait func(context.Context, *lambda.GetFunctionInput, time.Duration, ...func(*O)) (*lambda.GetFunctionOutput, error),
	opt func(*O)) *lambda.GetFunctionOutput {
	t.Helper()
	out, err := wait(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String(name)}, 20*time.Second, opt)
	if err != nil {
		t.Fatalf("%s waiter %s: %v", waiter, name, err)
	}
	return out
}

// CreateActive creates a function and waits for it to be Active.
func CreateActive(t testing.TB, c *lambda.Client, in *lambda.CreateFunctionInput) *lambda.GetFunctionOutput {
	t.Helper()
	Create(t, c, in)
	return WaitActive(t, c, aws.ToString(in.FunctionName))
}
