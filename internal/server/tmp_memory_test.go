package server_test

import (
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// fillTmp writes event["mb"] MB to /tmp and reports how far it got and the
// error (errno name) that stopped it.
const fillTmp = `import errno, os
def handler(event, context):
    n, err = 0, ""
    try:
        with open("/tmp/fill", "wb") as f:
            for _ in range(event["mb"]):
                f.write(b"\0" * (1 << 20))
                f.flush()
                n += 1
    except OSError as e:
        err = errno.errorcode.get(e.errno, str(e.errno))
    try:
        os.remove("/tmp/fill")
    except OSError:
        pass
    return {"mb": n, "err": err}
`

// TestTmpApartFromMemory: on AWS /tmp (EphemeralStorage) is not part of
// MemorySize. A 128 MB function writes 1,000 MB to its 1,024 MB /tmp, and
// writing past the cap fails with ENOSPC instead of an OOM kill.
func TestTmpApartFromMemory(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("isolation needs root")
	}
	_, c := servertest.InvokeEnv(t, nil)
	in := testkit.PyFunction(t, "tmpfill", fillTmp)
	in.MemorySize = aws.Int32(128)
	in.EphemeralStorage = &types.EphemeralStorage{Size: aws.Int32(1024)}
	in.Timeout = aws.Int32(60)
	testkit.CreateActive(t, c, in)

	type filled struct {
		MB  int    `json:"mb"`
		Err string `json:"err"`
	}
	out := testkit.Call(t, c, "tmpfill", `{"mb":1000}`)
	if out.FunctionError != nil {
		t.Fatalf("128 MB function writing 1,000 MB to /tmp: %s %s", aws.ToString(out.FunctionError), out.Payload)
	}
	if v := testkit.DecodeJSON[filled](t, out.Payload); v.MB != 1000 || v.Err != "" {
		t.Fatalf("wrote %+v, want 1000 MB", v)
	}
	out = testkit.Call(t, c, "tmpfill", `{"mb":1100}`)
	if out.FunctionError != nil {
		t.Fatalf("writing past the cap: %s %s", aws.ToString(out.FunctionError), out.Payload)
	}
	if v := testkit.DecodeJSON[filled](t, out.Payload); v.Err != "ENOSPC" || v.MB < 1000 || v.MB > 1024 {
		t.Fatalf("writing 1,100 MB to a 1,024 MB /tmp: %+v, want ENOSPC after 1,000 to 1,024 MB", v)
	}
}

var maxMemoryUsed = regexp.MustCompile(`Max Memory Used: (\d+) MB`)

// TestMaxMemoryUsedPerInvoke: each REPORT gives that invocation's own peak,
// not the highest of any earlier one in the environment.
func TestMaxMemoryUsedPerInvoke(t *testing.T) {
	for _, iso := range []struct {
		name string
		tune func(*server.Config)
	}{{"isolated", nil}, {"unconfined", servertest.IsolationOff}} {
		t.Run(iso.name, func(t *testing.T) {
			if iso.tune == nil && os.Geteuid() != 0 {
				t.Skip("isolation needs root")
			}
			_, c := servertest.InvokeEnv(t, iso.tune)
			in := testkit.PyFunction(t, "peak", `def handler(event, context):
    blocks = [b"y" * (1 << 20) for _ in range(event["mb"])]
    return len(blocks)
`)
			in.MemorySize = aws.Int32(512)
			testkit.CreateActive(t, c, in)
			used := func(mb int) int {
				t.Helper()
				out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("peak"), Payload: []byte(`{"mb":` + strconv.Itoa(mb) + `}`), LogType: types.LogTypeTail})
				if out.FunctionError != nil {
					t.Fatalf("%s", out.Payload)
				}
				m := maxMemoryUsed.FindStringSubmatch(testkit.Tail(t, out))
				if m == nil {
					t.Fatalf("no Max Memory Used in %q", testkit.Tail(t, out))
				}
				n, _ := strconv.Atoi(m[1])
				return n
			}
			big := used(150)
			small := used(0)
			if big < 150 || small > big-100 {
				t.Fatalf("Max Memory Used: %d MB allocating 150 MB, then %d MB allocating nothing", big, small)
			}
		})
	}
}
