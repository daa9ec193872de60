package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

func TestMetrics(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, servertest.IsolationOff)
	testkit.CreateActive(t, c, testkit.PyFunction(t, "counted", "def handler(e, c):\n    return 1\n"))
	testkit.Call(t, c, "counted", `{}`)
	testkit.Call(t, c, "counted", `{}`)
	resp, err := http.Get(d.URL + "/_lambdad/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"lambdad_invocations_total 2\n", "lambdad_environments 1\n", "# TYPE lambdad_throttles_total counter\n"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}
