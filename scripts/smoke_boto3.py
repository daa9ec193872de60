#!/usr/bin/env python3
"""Drive a running lambdad through the core Lambda flow with boto3.

Usage: smoke_boto3.py --endpoint http://127.0.0.1:PORT[,http://127.0.0.1:PORT2,...]

Prints one line per check and finally "smoke_boto3: N passed, M failed";
exits non-zero when any check failed.
"""

import argparse
import base64
import hashlib
import io
import json
import sys
import urllib.request
import zipfile

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ACCOUNT = "000000000000"  # the access key "test" is not 12 digits
REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/lambda-role"
HANDLER_SRC = (
    "import os\n\n"
    "def handler(event, context):\n"
    "    return {\"echo\": event, \"env\": os.environ.get(\"SMOKE\")}\n"
)


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, cond, detail=""):
        if cond:
            self.passed += 1
            print(f"ok   - boto3: {name}")
        else:
            self.failed += 1
            print(f"FAIL - boto3: {name} {detail}"[:2000])
        return cond

    def call(self, name, fn, **kw):
        """Call fn(**kw), counting a check for its success; None on error."""
        try:
            out = fn(**kw)
        except Exception as e:  # noqa: BLE001 - any failure is a failed check
            self.check(name, False, repr(e))
            return None
        self.check(name, True)
        return out

    def error(self, name, code, status, fn, **kw):
        """fn(**kw) must raise ClientError with this code and HTTP status."""
        try:
            fn(**kw)
        except ClientError as e:
            got = (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
            self.check(name, got == (code, status), f"got {got}, want {(code, status)}")
            return e
        except Exception as e:  # noqa: BLE001
            self.check(name, False, repr(e))
            return None
        self.check(name, False, "call succeeded")
        return None


class RoundRobin:
    """A Lambda client whose every operation goes to the next of clients."""

    def __init__(self, clients):
        self._clients = clients
        self._n = 0

    def __getattr__(self, name):
        c = self._clients[self._n % len(self._clients)]
        self._n += 1
        return getattr(c, name)


def sha(b):
    return base64.b64encode(hashlib.sha256(b).digest()).decode()


def main():
    ap = argparse.ArgumentParser()
    # Several endpoints (comma-separated, the nodes of a cluster): each call
    # goes to the next, so every write is read back on another node.
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--name", default="smoke-boto3")
    args = ap.parse_args()

    clients = [
        boto3.client(
            "lambda",
            endpoint_url=ep,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}),
        )
        for ep in args.endpoint.split(",")
    ]
    lam = clients[0] if len(clients) == 1 else RoundRobin(clients)
    c = Checks()
    fn = args.name
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn}"
    fast = {"Delay": 1, "MaxAttempts": 30}

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("handler.py", HANDLER_SRC)
    code = buf.getvalue()

    try:
        run(c, lam, fn, arn, code, fast)
    except Exception as e:  # noqa: BLE001 - report, do not crash without counts
        c.check("flow aborted", False, repr(e))
    print(f"smoke_boto3: {c.passed} passed, {c.failed} failed")
    return 1 if c.failed else 0


def run(c, lam, fn, arn, code, fast):
    out = c.call(
        "create_function",
        lam.create_function,
        FunctionName=fn,
        Runtime="python3.12",
        Role=ROLE,
        Handler="handler.handler",
        Code={"ZipFile": code},
        Environment={"Variables": {"SMOKE": "yes"}},
        Tags={"team": "smoke"},
    ) or {}
    c.check("create: HTTP 201", out.get("ResponseMetadata", {}).get("HTTPStatusCode") == 201)
    c.check("create: arn/version", out.get("FunctionArn") == arn and out.get("Version") == "$LATEST")
    c.check("create: code sha/size", out.get("CodeSha256") == sha(code) and out.get("CodeSize") == len(code))
    c.check(
        "create: Pending, no LastUpdateStatus",
        out.get("State") == "Pending" and out.get("StateReasonCode") == "Creating" and "LastUpdateStatus" not in out,
        out,
    )
    rev_create = out.get("RevisionId")
    c.error(
        "create again: ResourceConflictException 409",
        "ResourceConflictException",
        409,
        lam.create_function,
        FunctionName=fn,
        Runtime="python3.12",
        Role=ROLE,
        Handler="handler.handler",
        Code={"ZipFile": code},
    )
    e = c.error(
        "bad runtime: InvalidParameterValueException 400",
        "InvalidParameterValueException",
        400,
        lam.create_function,
        FunctionName=fn + "-x",
        Runtime="python2.1",
        Role=ROLE,
        Handler="h.h",
        Code={"ZipFile": code},
    )
    c.error(
        "bad role: ValidationException 400",
        "ValidationException",
        400,
        lam.create_function,
        FunctionName=fn + "-x",
        Runtime="python3.12",
        Role="r1",
        Handler="h.h",
        Code={"ZipFile": code},
    )

    c.call("waiter function_active_v2", lam.get_waiter("function_active_v2").wait, FunctionName=fn, WaiterConfig=fast)
    got = c.call("get_function", lam.get_function, FunctionName=fn) or {}
    cfg = got.get("Configuration", {})
    c.check(
        "get_function: Active/Successful, reasons gone",
        cfg.get("State") == "Active"
        and cfg.get("LastUpdateStatus") == "Successful"
        and not {"StateReason", "StateReasonCode", "LastUpdateStatusReason"} & set(cfg),
        cfg,
    )
    c.check("get_function: RevisionId moved on activation", cfg.get("RevisionId") not in (None, rev_create))
    c.check("get_function: tags", got.get("Tags") == {"team": "smoke"}, got.get("Tags"))
    loc = got.get("Code", {}).get("Location", "")
    try:
        body = urllib.request.urlopen(loc, timeout=10).read()
        c.check("Code.Location bytes match", sha(body) == sha(code))
    except Exception as e:  # noqa: BLE001
        c.check("Code.Location download", False, repr(e))

    cfg = c.call("get_function_configuration", lam.get_function_configuration, FunctionName=fn) or {}
    c.check("get_function_configuration: fields", cfg.get("FunctionArn") == arn and cfg.get("MemorySize") == 128, cfg)

    upd = c.call("update_function_configuration", lam.update_function_configuration,
                 FunctionName=fn, MemorySize=256, Description="updated") or {}
    c.check("update: InProgress", upd.get("LastUpdateStatus") == "InProgress" and upd.get("MemorySize") == 256, upd)
    c.error(
        "update while InProgress: ResourceConflictException 409",
        "ResourceConflictException",
        409,
        lam.update_function_configuration,
        FunctionName=fn,
        Timeout=9,
    )
    c.call("waiter function_updated_v2", lam.get_waiter("function_updated_v2").wait, FunctionName=fn, WaiterConfig=fast)
    cfg = c.call("get_function_configuration after update", lam.get_function_configuration, FunctionName=fn) or {}
    c.check("update settled", cfg.get("LastUpdateStatus") == "Successful" and cfg.get("Description") == "updated", cfg)
    c.error(
        "stale RevisionId: PreconditionFailedException 412",
        "PreconditionFailedException",
        412,
        lam.update_function_configuration,
        FunctionName=fn,
        Timeout=9,
        RevisionId=upd.get("RevisionId") or "00000000-0000-0000-0000-000000000000",
    )

    pub = c.call("publish_version", lam.publish_version, FunctionName=fn) or {}
    c.check("publish: HTTP 201, version 1",
            pub.get("ResponseMetadata", {}).get("HTTPStatusCode") == 201 and pub.get("Version") == "1"
            and pub.get("FunctionArn") == arn + ":1", pub)
    c.call("waiter published_version_active", lam.get_waiter("published_version_active").wait,
           FunctionName=fn, Qualifier="1", WaiterConfig=fast)
    c.error(
        "publish with wrong CodeSha256: InvalidParameterValueException 400",
        "InvalidParameterValueException",
        400,
        lam.publish_version,
        FunctionName=fn,
        CodeSha256="nope",
    )

    # A second function so the paginator has more than one page at MaxItems=1.
    c.call("create second function", lam.create_function, FunctionName=fn + "-2", Runtime="python3.12",
           Role=ROLE, Handler="handler.handler", Code={"ZipFile": code})
    names = []
    pages = 0
    try:
        for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 1}):
            pages += 1
            names += [f["FunctionName"] for f in page["Functions"]]
        c.check("list_functions paginator", sorted(names) == sorted([fn, fn + "-2"]) and pages >= 2,
                f"names={names} pages={pages}")
    except Exception as e:  # noqa: BLE001
        c.check("list_functions paginator", False, repr(e))

    vers = c.call("list_versions_by_function", lam.list_versions_by_function, FunctionName=fn) or {}
    c.check("list_versions: $LATEST, 1", [v["Version"] for v in vers.get("Versions", [])] == ["$LATEST", "1"], vers)

    tag = c.call("tag_resource", lam.tag_resource, Resource=arn, Tags={"stage": "dev"}) or {}
    c.check("tag_resource: HTTP 204", tag.get("ResponseMetadata", {}).get("HTTPStatusCode") == 204)
    tags = c.call("list_tags", lam.list_tags, Resource=arn) or {}
    c.check("list_tags", tags.get("Tags") == {"team": "smoke", "stage": "dev"}, tags.get("Tags"))
    c.error("list_tags missing function: ResourceNotFoundException 404", "ResourceNotFoundException", 404,
            lam.list_tags, Resource=arn + "-nope")

    acct = c.call("get_account_settings", lam.get_account_settings) or {}
    c.check("account usage", acct.get("AccountUsage", {}).get("FunctionCount") == 2
            and acct.get("AccountLimit", {}).get("ConcurrentExecutions", 0) > 0, acct)

    try:
        inv = lam.invoke(FunctionName=fn, Payload=json.dumps({"x": 1}).encode())
        payload = json.loads(inv["Payload"].read())
        c.check("invoke", inv["StatusCode"] == 200 and inv.get("ExecutedVersion") == "$LATEST"
                and "FunctionError" not in inv and payload == {"echo": {"x": 1}, "env": "yes"}, (inv, payload))
    except ClientError as e:
        c.check("invoke", False, repr(e))

    e = c.error("get_function missing: ResourceNotFoundException 404", "ResourceNotFoundException", 404,
                lam.get_function, FunctionName="no-such-function")
    if e is not None:
        c.check("missing function message",
                e.response["Error"]["Message"]
                == f"Function not found: arn:aws:lambda:{REGION}:{ACCOUNT}:function:no-such-function",
                e.response["Error"])

    for name in (fn, fn + "-2"):
        d = c.call(f"delete_function {name}", lam.delete_function, FunctionName=name) or {}
        c.check(f"delete_function {name}: HTTP 204", d.get("ResponseMetadata", {}).get("HTTPStatusCode") == 204)
    c.error("get_function after delete: 404", "ResourceNotFoundException", 404, lam.get_function, FunctionName=fn)


if __name__ == "__main__":
    sys.exit(main())
