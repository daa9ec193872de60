package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestMetrics(t *testing.T) {
	t.Parallel()
	d, c := invokeEnv(t, isolationOff)
	createActive(t, c, pyFunction(t, "counted", "def handler(e, c):\n    return 1\n"))
	call(t, c, "counted", `{}`)
	call(t, c, "counted", `{}`)
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
