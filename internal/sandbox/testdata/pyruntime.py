# A minimal Runtime API client for tests that need raw control over the
# protocol (status codes, init errors, oversized responses, isolation probes).
import http.client, json, os, resource, sys, time

host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
conn = http.client.HTTPConnection(host, int(port))


def call(method, path, body=None, headers=None):
    conn.request(method, "/2018-06-01/runtime/" + path, body=body, headers=headers or {})
    r = conn.getresponse()
    return r.status, r.headers, r.read()


mode = os.environ.get("PYMODE", "")
if mode == "initerror":
    print("init failing", flush=True)
    call("POST", "init/error",
         json.dumps({"errorMessage": "bad init", "errorType": "Runtime.ImportModuleError"}),
         {"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"})
    sys.exit(1)
if mode == "crashinit":
    print("dying", flush=True)
    sys.exit(2)
if mode == "slowinit":
    time.sleep(float(os.environ.get("SLEEP", "1")))

state = {}
while True:
    st, h, body = call("GET", "invocation/next")
    rid = h["Lambda-Runtime-Aws-Request-Id"]
    ev = json.loads(body or b"{}")
    op = ev.get("op", "")
    out = None
    if op == "big":
        state["big"] = call("POST", "invocation/%s/response" % rid, b"x" * ev["n"])[0]
        continue
    if op == "hangup":
        # Answer, then ask for the next invocation on a connection hung up
        # at once, and come back for it on the usual one only later.
        call("POST", "invocation/%s/response" % rid, b'"hung up"')
        import socket
        s = socket.create_connection((host, int(port)))
        s.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
        s.close()
        time.sleep(ev["s"])
        continue
    if op == "error":
        call("POST", "invocation/%s/error" % rid,
             json.dumps({"errorMessage": "boom", "errorType": "MyError"}),
             {"Lambda-Runtime-Function-Error-Type": "MyError"})
        continue
    if op == "state":
        out = state
    elif op == "headers":
        out = {k: v for k, v in h.items()}
    elif op == "badid":
        out = {"status": call("POST", "invocation/nope/response", b"{}")[0],
               "body": json.loads(call("POST", "invocation/nope/response", b"{}")[2])}
    elif op == "exit":
        sys.exit(ev.get("code", 1))
    elif op == "pid":
        out = {"pid": os.getpid(), "ppid": os.getppid()}
    elif op == "read":
        try:
            out = {"data": open(ev["path"]).read()}
        except Exception as e:
            out = {"err": type(e).__name__}
    elif op == "write":
        try:
            with open(ev["path"], "w") as f:
                f.write(ev.get("data", "x"))
            out = {"err": ""}
        except Exception as e:
            out = {"err": type(e).__name__}
    elif op == "ls":
        try:
            out = {"names": sorted(os.listdir(ev["path"]))}
        except Exception as e:
            out = {"err": type(e).__name__}
    elif op == "fill":
        n = 0
        try:
            with open("/tmp/fill", "wb") as f:
                for _ in range(ev["mb"]):
                    f.write(b"\0" * (1 << 20))
                    f.flush()
                    n += 1
            out = {"mb": n, "err": ""}
        except Exception as e:
            out = {"mb": n, "err": type(e).__name__, "errno": getattr(e, "errno", None)}
        try:
            os.remove("/tmp/fill")
        except OSError:
            pass
    elif op == "alloc":
        blocks = []
        for _ in range(ev["mb"]):
            blocks.append(b"y" * (1 << 20))
        out = {"allocated": len(blocks)}
        del blocks  # the next run starts without it
    elif op == "fork":
        n = 0
        try:
            for _ in range(ev["n"]):
                pid = os.fork()
                if pid == 0:
                    time.sleep(30)
                    os._exit(0)
                n += 1
        except OSError as e:
            out = {"forked": n, "err": type(e).__name__}
        else:
            out = {"forked": n, "err": ""}
    elif op == "exec":
        g = {"os": os}
        try:
            exec(ev["code"], g)
            out = g.get("out")
        except Exception as e:
            out = {"err": type(e).__name__, "msg": str(e)}
    elif op == "sleep":
        time.sleep(ev["s"])
        out = "slept"
    elif op == "id":
        out = {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups()}
    elif op == "stat":
        try:
            st_ = os.stat(ev["path"])
            out = {"uid": st_.st_uid, "mode": st_.st_mode & 0o7777}
        except Exception as e:
            out = {"err": type(e).__name__}
    elif op == "statvfs":
        sv = os.statvfs(ev["path"])
        out = {"mb": sv.f_blocks * sv.f_frsize // (1 << 20)}
    elif op == "steal":
        # Another environment's Runtime API, as a hostile function would try it.
        h2, p2 = ev["api"].split(":")
        try:
            c2 = http.client.HTTPConnection(h2, int(p2), timeout=2)
            c2.request("GET", "/2018-06-01/runtime/invocation/next")
            out = {"status": c2.getresponse().status}
        except Exception as e:
            out = {"err": type(e).__name__}
    elif op == "shmget":
        # A System V shared memory segment by key: create it, or find one.
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        flags = 0o1666 if ev.get("create") else 0  # IPC_CREAT|0666
        shmid = libc.shmget(ev["key"], 4096 if ev.get("create") else 0, flags)
        out = {"id": shmid, "errno": ctypes.get_errno() if shmid < 0 else 0}
    elif op == "nofile":
        out = {"nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0]}
    elif op == "env":
        out = dict(os.environ)
    elif op == "print":
        for line in ev.get("lines", []):
            print(line, flush=True)
        out = "printed"
    else:
        out = ev
    st = call("POST", "invocation/%s/response" % rid, json.dumps(out))[0]
    if op == "dup":
        state["dup"] = call("POST", "invocation/%s/response" % rid, b"{}")[0]
