package server_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// Confinement tests: hostile functions, run through the real API with
// isolation on, try to reach what is not theirs. They need root (CI runs as
// root): without it lambdad runs functions unconfined and says so.

func needIsolation(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("isolation needs root")
	}
}

// pyVictim answers slowly with its own marker and, when asked, the address
// of its Runtime API (a hostile function could learn it any other way:
// ports on the loopback are few).
const pyVictim = `import os, time

def handler(event, context):
    if event.get("where"):
        return {"api": os.environ["AWS_LAMBDA_RUNTIME_API"]}
    time.sleep(1)
    return {"who": "victim", "n": event.get("n")}
`

// pyHijacker loops on another environment's Runtime API: each event it
// gets from /next it answers as its own.
const pyHijacker = `import http.client, json, time

def handler(event, context):
    host, port = event["api"].split(":")
    stolen, refused = 0, 0
    end = time.time() + event["seconds"]
    while time.time() < end:
        try:
            c = http.client.HTTPConnection(host, int(port), timeout=3)
            c.request("GET", "/2018-06-01/runtime/invocation/next")
            r = c.getresponse()
            rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
            r.read()
            if r.status == 200 and rid:
                stolen += 1
                c.request("POST", "/2018-06-01/runtime/invocation/%s/response" % rid, json.dumps({"who": "attacker"}))
                c.getresponse().read()
            c.close()
        except Exception:
            refused += 1
            time.sleep(0.005)
    return {"stolen": stolen, "refused": refused}
`

// nodeHijacker is the same attack from Node.js.
const nodeHijacker = `const http = require("http");
const once = (host, port) => new Promise((resolve) => {
  const req = http.get({ host, port, path: "/2018-06-01/runtime/invocation/next", timeout: 3000, agent: false }, (res) => {
    const rid = res.headers["lambda-runtime-aws-request-id"];
    res.resume();
    res.on("end", () => {
      if (res.statusCode !== 200 || !rid) return resolve("other");
      const post = http.request({ host, port, method: "POST", path: "/2018-06-01/runtime/invocation/" + rid + "/response", agent: false }, (r) => { r.resume(); r.on("end", () => resolve("stolen")); });
      post.on("error", () => resolve("stolen"));
      post.end(JSON.stringify({ who: "attacker" }));
    });
  });
  req.on("timeout", () => req.destroy());
  req.on("error", () => resolve("refused"));
});
exports.handler = async (event) => {
  const [host, port] = event.api.split(":");
  let stolen = 0, refused = 0;
  const end = Date.now() + event.seconds * 1000;
  while (Date.now() < end) {
    const r = await once(host, Number(port));
    if (r === "stolen") stolen++;
    if (r === "refused") { refused++; await new Promise((s) => setTimeout(s, 5)); }
  }
  return { stolen, refused };
};
`

// TestRuntimeAPIHijack: functions given another environment's Runtime API
// address loop on its /next while that function is invoked by several
// callers at once. Every caller must get the victim's own answer, and the
// attackers no event.
func TestRuntimeAPIHijack(t *testing.T) {
	needIsolation(t)
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	ctx := context.Background()
	victim := testkit.PyFunction(t, "victim", pyVictim)
	victim.Timeout = aws.Int32(10)
	testkit.CreateActive(t, c, victim)
	for _, in := range []*lambda.CreateFunctionInput{
		testkit.PyFunction(t, "py-hijacker", pyHijacker),
		testkit.NodeFunction(t, "node-hijacker", "index.js", "index.handler", nodeHijacker),
	} {
		in.Timeout = aws.Int32(30)
		testkit.CreateActive(t, c, in)
	}
	api := testkit.DecodeJSON[map[string]string](t, testkit.Call(t, c, "victim", `{"where":true}`).Payload)["api"]
	if api == "" {
		t.Fatal("the victim did not say where its Runtime API is")
	}

	type tally struct{ Stolen, Refused int }
	attacks := map[string]tally{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range []string{"py-hijacker", "node-hijacker"} {
		wg.Go(func() {
			out := testkit.Call(t, c, name, `{"api":"`+api+`","seconds":5}`)
			if out.FunctionError != nil {
				t.Errorf("%s failed: %s", name, out.Payload)
				return
			}
			mu.Lock()
			attacks[name] = testkit.DecodeJSON[tally](t, out.Payload)
			mu.Unlock()
		})
	}
	time.Sleep(700 * time.Millisecond) // the attackers are looping
	check := func(n int) {
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("victim"), Payload: []byte(`{"n":` + strconv.Itoa(n) + `}`)})
		if err != nil {
			t.Errorf("caller %d: %v", n, err)
			return
		}
		got := testkit.DecodeJSON[map[string]any](t, out.Payload)
		if out.FunctionError != nil || got["who"] != "victim" || got["n"] != float64(n) {
			t.Errorf("caller %d got %s (function error %v), want the victim's own answer", n, out.Payload, aws.ToString(out.FunctionError))
		}
	}
	// One after another, the calls all go to the environment under attack;
	// then several at once, as callers do.
	for n := range 3 {
		check(n)
	}
	var callers sync.WaitGroup
	for n := 3; n < 11; n++ {
		callers.Go(func() { check(n) })
	}
	callers.Wait()
	wg.Wait()
	for name, a := range attacks {
		if a.Stolen != 0 {
			t.Errorf("%s took %d of the victim's events", name, a.Stolen)
		}
		if a.Refused == 0 {
			t.Errorf("%s never reached the victim's Runtime API: %+v", name, a)
		}
	}
	if len(attacks) != 2 {
		t.Errorf("attack results: %v", attacks)
	}
}

// pyProber and nodeProber report what a function can see and do.
const pyProber = `import json, os, pwd, socket, ssl, urllib.request

def probe(f):
    try:
        return {"ok": f()}
    except Exception as e:
        return {"err": type(e).__name__}

def handler(event, context):
    out = {"try": {}}
    for p in event["reads"]:
        out["try"]["read " + p] = probe(lambda p=p: open(p, "rb").read(16).hex())
    for p in event["lists"]:
        out["try"]["list " + p] = probe(lambda p=p: os.listdir(p))
    out["root"] = sorted(os.listdir("/"))
    out["uid"] = os.getuid()
    out["status"] = {l.split(":")[0]: l.split(":", 1)[1].strip() for l in open("/proc/self/status").read().splitlines()}
    out["lambda_api"] = probe(lambda: urllib.request.urlopen(os.environ["AWS_ENDPOINT_URL_LAMBDA"] + "/_lambdad/health", timeout=5).read().decode())
    def tcp():
        s = socket.create_connection(("127.0.0.1", event["tcp"]), timeout=5)
        data = s.recv(100).decode()
        s.close()
        return data
    out["tcp"] = probe(tcp)
    # What programs need of /etc still works: users, resolver, certificates.
    out["user"] = probe(lambda: pwd.getpwuid(os.getuid()).pw_name)
    out["resolve"] = probe(lambda: socket.gethostbyname("localhost"))
    out["ca_certs"] = probe(lambda: ssl.create_default_context().cert_store_stats()["x509_ca"])
    return out
`

const nodeProber = `const fs = require("fs"), net = require("net"), http = require("http");
const probe = (f) => { try { return { ok: f() }; } catch (e) { return { err: e.code || e.name }; } };
exports.handler = async (event) => {
  const out = { try: {} };
  for (const p of event.reads) out.try["read " + p] = probe(() => fs.readFileSync(p).subarray(0, 16).toString("hex"));
  for (const p of event.lists) out.try["list " + p] = probe(() => fs.readdirSync(p));
  out.root = fs.readdirSync("/").sort();
  out.uid = process.getuid();
  out.status = {};
  for (const l of fs.readFileSync("/proc/self/status", "utf8").split("\n")) {
    const i = l.indexOf(":");
    if (i > 0) out.status[l.slice(0, i)] = l.slice(i + 1).trim();
  }
  out.lambda_api = await new Promise((resolve) => {
    http.get(process.env.AWS_ENDPOINT_URL_LAMBDA + "/_lambdad/health", (r) => {
      let b = ""; r.on("data", (d) => (b += d)); r.on("end", () => resolve({ ok: b }));
    }).on("error", (e) => resolve({ err: e.code }));
  });
  out.tcp = await new Promise((resolve) => {
    const s = net.connect(event.tcp, "127.0.0.1");
    let b = "";
    s.on("data", (d) => (b += d));
    s.on("end", () => resolve({ ok: b }));
    s.on("error", (e) => resolve({ err: e.code }));
  });
  return out;
};
`

// probeReport is what pyProber and nodeProber answer.
type probeReport struct {
	Try       map[string]map[string]any
	Root      []string
	UID       int
	Status    map[string]string
	LambdaAPI map[string]any `json:"lambda_api"`
	TCP       map[string]any
	// Python only.
	User, Resolve map[string]any
	CACerts       map[string]any `json:"ca_certs"`
}

// TestConfinement: Python and Node functions try to read the host's
// secrets, lambdad's data and the checkout this test runs in; they see only
// the allow-listed root, run as an unprivileged user without capabilities,
// and still reach lambdad's API and a TCP server on the host's loopback.
func TestConfinement(t *testing.T) {
	needIsolation(t)
	t.Parallel()
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	// The data directory sits where a function could see it if the root
	// were the host's (t.TempDir is under /tmp, which is private anyway).
	dataDir, err := os.MkdirTemp(home, ".lambdad-confinement-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dataDir) })
	d := servertest.StartLambdad(t, dataDir, nil)
	c := servertest.InvokeClient(d)
	checkout, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Write([]byte("hello from the host"))
			conn.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port

	testkit.CreateActive(t, c, testkit.PyFunction(t, "py-prober", pyProber))
	testkit.CreateActive(t, c, testkit.NodeFunction(t, "node-prober", "index.js", "index.handler", nodeProber))
	reads := []string{"/etc/shadow", "/etc/gshadow", filepath.Join(dataDir, "metadata.db"), filepath.Join(dataDir, "secret"), filepath.Join(checkout, "confinement_test.go")}
	lists := []string{"/root", "/home", "/srv", "/work", checkout, dataDir, filepath.Join(dataDir, "blobs"), "/sys", "/boot"}
	for _, f := range reads[2:4] {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("the test's premise: %v", err)
		}
	}
	ev, err := json.Marshal(map[string]any{"reads": reads, "lists": lists, "tcp": port})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, runtime string }{{"py-prober", "python"}, {"node-prober", "node"}} {
		t.Run(tc.runtime, func(t *testing.T) {
			out := testkit.Call(t, c, tc.name, string(ev))
			if out.FunctionError != nil {
				t.Fatalf("prober failed: %s", out.Payload)
			}
			got := testkit.DecodeJSON[probeReport](t, out.Payload)
			for what, r := range got.Try {
				if r["err"] == nil {
					t.Errorf("%s succeeded: %v", what, r["ok"])
				}
			}
			if len(got.Try) != len(reads)+len(lists) {
				t.Errorf("prober tried %d things, want %d", len(got.Try), len(reads)+len(lists))
			}
			if want := expectedRoot(t, tc.runtime); !slices.Equal(got.Root, want) {
				t.Errorf("/ holds %v, want %v", got.Root, want)
			}
			if got.UID == 0 {
				t.Error("the function runs as root")
			}
			for _, f := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
				if strings.Trim(got.Status[f], "0") != "" || got.Status[f] == "" {
					t.Errorf("%s = %q, want none", f, got.Status[f])
				}
			}
			if got.Status["NoNewPrivs"] != "1" {
				t.Errorf("NoNewPrivs = %q", got.Status["NoNewPrivs"])
			}
			if got.LambdaAPI["ok"] != `{"status":"ok"}` {
				t.Errorf("lambdad's API from the function: %v", got.LambdaAPI)
			}
			if got.TCP["ok"] != "hello from the host" {
				t.Errorf("a TCP server on the host's loopback: %v", got.TCP)
			}
			if tc.runtime == "python" {
				if got.User["ok"] != "sbx_user1051" || got.Resolve["ok"] != "127.0.0.1" {
					t.Errorf("user name %v, localhost resolves to %v", got.User, got.Resolve)
				}
				if n, _ := got.CACerts["ok"].(float64); n == 0 {
					t.Errorf("CA certificates: %v", got.CACerts)
				}
			}
		})
	}
}

// expectedRoot is what an isolated environment's / holds: the system dirs
// the host has, the environment's own mount points, and the first
// component of the interpreter's install prefix when it is not under /usr.
func expectedRoot(t *testing.T, runtime string) []string {
	t.Helper()
	want := []string{"dev", "etc", "opt", "proc", "tmp", "usr", "var"}
	for _, d := range []string{"bin", "sbin", "lib", "lib32", "lib64", "libx32"} {
		if _, err := os.Lstat("/" + d); err == nil {
			want = append(want, d)
		}
	}
	var prefix []byte
	var err error
	if runtime == "python" {
		// lambdad runs python3.12 with python3 when 3.12 does not run
		// (a version manager's shim may exist and fail).
		for _, py := range []string{"python3.12", "python3"} {
			prefix, err = exec.Command(py, "-c", "import os, sys; print(os.path.realpath(sys.base_prefix))").Output()
			if err == nil {
				break
			}
		}
	} else {
		var node []byte
		node, err = exec.Command("node", "-p", "process.execPath").Output()
		if err == nil {
			real, _ := filepath.EvalSymlinks(strings.TrimSpace(string(node)))
			prefix = []byte(filepath.Dir(filepath.Dir(real)))
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if top := strings.Split(strings.TrimSpace(string(prefix)), "/")[1]; !slices.Contains(want, top) {
		want = append(want, top)
	}
	slices.Sort(want)
	return want
}
