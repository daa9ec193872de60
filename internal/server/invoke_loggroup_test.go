package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/logs"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// TestLongLogGroup: a LoggingConfig.LogGroup of 512 characters (the model's
// limit, past the 255-byte file name limit) keeps its function's logs, and
// its real name can be read back beside them.
func TestLongLogGroup(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, nil)
	group := "/custom/" + strings.Repeat("a-b_c.d#e/", 50) + "tail"
	if len(group) != 512 {
		t.Fatalf("group has %d characters", len(group))
	}
	in := testkit.PyFunction(t, "long-group", "def handler(e, c):\n    print('logged to a long group')\n    return 1\n")
	in.LoggingConfig = &types.LoggingConfig{LogGroup: aws.String(group)}
	testkit.CreateActive(t, c, in)
	out := testkit.Call(t, c, "long-group", `{}`)
	id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	var file string
	testkit.Eventually(t, 5*time.Second, "the invoke's log never reached the log store", func() bool {
		filepath.WalkDir(filepath.Join(d.Dir, "logs"), func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() && strings.HasSuffix(p, ".log") {
				if b, _ := os.ReadFile(p); strings.Contains(string(b), "START RequestId: "+id) && strings.Contains(string(b), "logged to a long group") {
					file = p
				}
			}
			return nil
		})
		return file != ""
	})
	if name, err := os.ReadFile(filepath.Join(filepath.Dir(file), logs.GroupFile)); err != nil || string(name) != group {
		t.Errorf("the log's folder names its group %q (%v), want the 512-character group", name, err)
	}
}
