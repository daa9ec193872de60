#!/usr/bin/env python3
"""Routes moto's server-mode traffic: Lambda (SigV4 scope 'lambda', function
URL hosts, /_lambdad/) to lambdad, everything else to moto_server;
/moto-api/reset resets both."""
import http.client, re, sys, urllib.parse
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

LISTEN, LAMBDAD, MOTO = int(sys.argv[1]), sys.argv[2], sys.argv[3]
SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/")

def forward(base, method, path, headers, body):
    u = urllib.parse.urlsplit(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.getheaders(), data

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "transfer-encoding")}
        if self.path.startswith("/moto-api/reset"):
            forward(LAMBDAD, "POST", "/_lambdad/reset", {}, b"")
            target = MOTO
        else:
            m = SCOPE.search(self.headers.get("Authorization", ""))
            host = self.headers.get("Host", "")
            lam = (m and m.group(1) == "lambda") or ".lambda-url." in host or self.path.startswith("/_lambdad/")
            target = LAMBDAD if lam else MOTO
        st, hdrs, data = forward(target, self.command, self.path, headers, body)
        self.send_response(st)
        for k, v in hdrs:
            if k.lower() not in ("connection", "transfer-encoding", "content-length", "server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any

ThreadingHTTPServer(("127.0.0.1", LISTEN), H).serve_forever()
