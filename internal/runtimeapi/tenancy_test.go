package runtimeapi

import (
	"net/http"
	"testing"
)

// TestTenantHeader: /next names a tenant-isolated invocation's tenant in
// Lambda-Runtime-Aws-Tenant-Id, and sends no such header otherwise.
func TestTenantHeader(t *testing.T) {
	for _, tenant := range []string{"blue tenant:1/x=y+z@-_.", ""} {
		_, addr := serveEnv(t, 1<<20, &fakeEnv{tenant: tenant})
		resp, err := http.Get("http://" + addr + "/2018-06-01/runtime/invocation/next")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got, sent := resp.Header["Lambda-Runtime-Aws-Tenant-Id"]
		if tenant == "" && sent || tenant != "" && (len(got) != 1 || got[0] != tenant) {
			t.Errorf("tenant %q: header %q (sent %v)", tenant, got, sent)
		}
	}
}
