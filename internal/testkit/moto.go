package testkit

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Moto starts a real moto_server (SQS, SNS, Kinesis, DynamoDB and its
// streams, EventBridge, S3 in one) on a free loopback port for the test and
// returns its URL. moto_server comes with the machine's Python; as root
// (CI, where .ci/run checks it is there) its absence fails the test, a
// non-root run skips.
func Moto(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		if os.Geteuid() == 0 {
			tb.Fatal("moto_server is needed for the event tests (.ci/run checks for it):", err)
		}
		tb.Skip("moto_server not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/moto-api/", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		select {
		case <-exited:
			tb.Fatal("moto_server exited before it answered")
		case <-ctx.Done():
			tb.Fatal("moto_server did not answer within 30 s")
		case <-time.After(50 * time.Millisecond):
		}
	}
}
