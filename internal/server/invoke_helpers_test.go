package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"go/build"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"golang.org/x/sys/unix"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
	"github.com/lambdad/lambdad/internal/server"
)

// The invoke tests act as the default account: an access key that is not 12
// digits, so messages name 000000000000 as AWS's own examples do.
const (
	invokeKey     = "test"
	invokeAccount = "000000000000"
)

// invokeAuth is the SigV4 Authorization header raw requests carry; lambdad
// reads the identity from it and does not check signatures by default.
const invokeAuth = "AWS4-HMAC-SHA256 Credential=" + invokeKey + "/20250101/" + testRegion +
	"/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000"

// uuidRe is the form of AWS request ids.
var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// invokeARN is the unqualified ARN of name in the invoke tests' account.
func invokeARN(name string) string {
	return "arn:aws:lambda:" + testRegion + ":" + invokeAccount + ":function:" + name
}

// startLambdad serves a lambdad over dir on a loopback port until the test
// ends (or Stop). The listener exists before the server so PublicURL is the
// real address functions can call back on. tune adjusts the config.
func startLambdad(t testing.TB, dir string, tune func(*server.Config)) *daemon {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	url := "http://" + ln.Addr().String()
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("LAMBDAD_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg := server.Config{
		DataDir:     dir,
		Transition:  fastTransition,
		Isolation:   "auto",
		IdleTimeout: time.Minute,
		RetryBase:   50 * time.Millisecond,
		PublicURL:   url,
		Logger:      log,
	}
	if tune != nil {
		tune(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		ln.Close()
		t.Fatalf("server.New: %v", err)
	}
	return serveDaemon(t, srv, ln, dir)
}

// invokeEnv starts a lambdad on a fresh data directory and returns it with
// an SDK client of the default account.
func invokeEnv(t testing.TB, tune func(*server.Config)) (*daemon, *lambda.Client) {
	t.Helper()
	d := startLambdad(t, t.TempDir(), tune)
	return d, invokeClient(d)
}

// invokeClient is an SDK client of the default account. Invokes can take
// seconds (timeouts, cold starts), so the SDK's timeouts are left alone.
func invokeClient(d *daemon) *lambda.Client {
	cfg := aws.Config{
		Region:      testRegion,
		Credentials: credentials.NewStaticCredentialsProvider(invokeKey, "secret", ""),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
	}
	return lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = aws.String(d.URL) })
}

func isolationOff(c *server.Config) { c.Isolation = "off" }

// pyFunction is a CreateFunction request for a python3.12 function whose
// handler.py is src.
func pyFunction(t testing.TB, name, src string) *lambda.CreateFunctionInput {
	t.Helper()
	return createInput(name, handlerZip(t, src))
}

// nodeFunction is a CreateFunction request for a nodejs20.x function made of
// one file.
func nodeFunction(t testing.TB, name, file, handler, src string) *lambda.CreateFunctionInput {
	t.Helper()
	return &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Role:         aws.String(testRole),
		Runtime:      types.RuntimeNodejs20x,
		Handler:      aws.String(handler),
		Code:         &types.FunctionCode{ZipFile: archivetest.Zip(t, archivetest.File{Name: file, Body: src})},
	}
}

// goEchoZip compiles testdata/goecho with aws-lambda-go for Linux, as AWS
// documents for provided.al2023, and zips it as an executable bootstrap.
// The zip is cached on disk by a hash of what goes into it, under a file
// lock, so parallel tests and later runs build it once.
func goEchoZip(t testing.TB) []byte {
	t.Helper()
	h := sha256.New()
	for _, f := range []string{"testdata/goecho/main.go", "../../go.mod", "../../go.sum"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(b)
	}
	fmt.Fprintf(h, "%s/%s", runtime.Version(), runtime.GOARCH)
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "lambdad-test-goecho")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer unix.Flock(int(lock.Fd()), unix.LOCK_UN)
	cached := filepath.Join(dir, hex.EncodeToString(h.Sum(nil))[:20]+".zip")
	if b, err := os.ReadFile(cached); err == nil {
		return b
	}

	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(build.Default.GOROOT, "bin", "go")
	}
	out := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command(goBin, "build", "-tags", "lambda.norpc", "-o", out, "./testdata/goecho")
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+runtime.GOARCH, "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build goecho: %v\n%s", err, msg)
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

// goFunction is a CreateFunction request for the goecho bootstrap.
func goFunction(name string, zip []byte) *lambda.CreateFunctionInput {
	in := createInput(name, zip)
	in.Runtime, in.Handler = types.RuntimeProvidedal2023, aws.String("bootstrap")
	return in
}

// mustInvoke invokes and fails the test on an API error.
func mustInvoke(t testing.TB, c *lambda.Client, in *lambda.InvokeInput) *lambda.InvokeOutput {
	t.Helper()
	out, err := c.Invoke(context.Background(), in)
	if err != nil {
		t.Fatalf("Invoke %s: %v", aws.ToString(in.FunctionName), err)
	}
	return out
}

// call is a RequestResponse invoke of name with a JSON payload.
func call(t testing.TB, c *lambda.Client, name, payload string) *lambda.InvokeOutput {
	t.Helper()
	return mustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(payload)})
}

// decodeJSON unmarshals b into a T, failing the test when it cannot.
func decodeJSON[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %q: %v", truncate(b), err)
	}
	return v
}

// jsonKeys lists an object's top-level keys in wire order: AWS's error
// bodies have a fixed key order that clients may print verbatim.
func jsonKeys(t testing.TB, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %q", truncate(b))
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("keys of %q: %v", truncate(b), err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("keys of %q: %v", truncate(b), err)
		}
	}
	return keys
}

// tail decodes X-Amz-Log-Result.
func tail(t testing.TB, out *lambda.InvokeOutput) string {
	t.Helper()
	if out.LogResult == nil {
		t.Fatal("no LogResult")
	}
	b, err := base64.StdEncoding.DecodeString(*out.LogResult)
	if err != nil {
		t.Fatalf("LogResult is not base64: %v", err)
	}
	return string(b)
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// rawResponse is an HTTP exchange with lambdad outside the SDK, for checks
// on the exact bytes AWS sends.
type rawResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// rawInvoke POSTs body to the Invoke route of name with extra headers.
func rawInvoke(t testing.TB, d *daemon, name string, header map[string]string, body []byte) rawResponse {
	t.Helper()
	req, err := http.NewRequest("POST", d.URL+"/2015-03-31/functions/"+name+"/invocations", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", invokeAuth)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("raw invoke: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{resp.StatusCode, resp.Header, b}
}

// eventually polls cond every 20 ms until it holds or within passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// markers lists the files in dir whose names start with prefix.
func markers(t testing.TB, dir, prefix string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// requestIDOf pulls the request id out of "RequestId: <id> Error: ..." messages.
func requestIDOf(t testing.TB, msg string) string {
	t.Helper()
	m := regexp.MustCompile(`^RequestId: (\S+) Error: `).FindStringSubmatch(msg)
	if m == nil || !uuidRe.MatchString(m[1]) {
		t.Fatalf("message %q does not start with RequestId: <uuid> Error:", msg)
	}
	return m[1]
}
