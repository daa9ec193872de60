"""lambdad's Python runtime: runs a handler behind the Lambda Runtime API.

Standard library only; runs on Python 3.9 and later. Started through
bootstrap.py:

    python -u -S bootstrap.py [OPT_DIR]

The environment provides AWS_LAMBDA_RUNTIME_API, _HANDLER and LAMBDA_TASK_ROOT.

Every import here is paid by every cold start, so the path to the first
/next imports only C modules beyond os: _socket rather than socket (enum,
selectors), _json rather than json (re), and logging (about 10 ms) only when
user code imports it.
"""

import _socket
import os
import sys
import time

try:
    import _json
except ImportError:  # every CPython has it; json then works without it
    _json = None

API_PREFIX = "/2018-06-01/runtime"
_THIS_FILE = os.path.abspath(__file__)

# The request id of the invocation in progress, for log records.
_current_request_id = ""
# Its tenant (tenant-isolated functions), for JSON log records.
_current_tenant_id = None


class Fault(Exception):
    """An error the runtime reports with a Runtime.* error type."""

    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


# --- Runtime API client -----------------------------------------------------


class Headers(dict):
    """Response headers, looked up without regard to case."""

    def get(self, name, default=None):
        return dict.get(self, name.lower(), default)


class RuntimeClient:
    # A small HTTP/1.1 client on a raw socket: http.client pulls in the email
    # package and would cost every cold start about 30 ms.

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.addr = (host.strip("[]") or "127.0.0.1", int(port))
        self.sock = None
        self.buf = b""

    def _connect(self):
        host, port = self.addr
        # An ASCII bytes host keeps getaddrinfo from loading the idna codec.
        if host.isascii():
            host = host.encode("ascii")
        addrs = _socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM)
        for i, (family, kind, proto, _, addr) in enumerate(addrs):
            sock = _socket.socket(family, kind, proto)
            try:
                sock.connect(addr)
                break
            except OSError:
                sock.close()
                if i == len(addrs) - 1:
                    raise
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        self.sock = sock
        self.buf = b""

    def _close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock, self.buf = None, b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the Runtime API closed the connection")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _exactly(self, n):
        if len(self.buf) < n:
            # Gather the chunks and join once: appending each to the buffer
            # would copy a large event over and over.
            parts, have = [self.buf], len(self.buf)
            while have < n:
                chunk = self.sock.recv(max(65536, n - have))
                if not chunk:
                    raise ConnectionError("the Runtime API closed the connection")
                parts.append(chunk)
                have += len(chunk)
            self.buf = b"".join(parts)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _read_response(self):
        status = int(self._line().split(b" ", 2)[1])
        headers = Headers()
        while True:
            line = self._line()
            if not line:
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():
                        pass
                    break
                parts.append(self._exactly(size))
                self._exactly(2)
            data = b"".join(parts)
        else:
            data = self._exactly(int(headers.get("Content-Length") or 0))
        if headers.get("Connection", "").lower() == "close":
            self._close()
        return status, headers, data

    def _request(self, method, path, body=None, headers=None):
        # One persistent connection; reopened once if the server closed it
        # while idle.
        body = body or b""
        head = "%s %s%s HTTP/1.1\r\nHost: %s:%d\r\nContent-Length: %d\r\n" % (
            method, API_PREFIX, path, self.addr[0], self.addr[1], len(body))
        for name, value in (headers or {}).items():
            head += "%s: %s\r\n" % (name, value)
        raw = head.encode("latin-1") + b"\r\n" + body
        for attempt in (0, 1):
            try:
                if self.sock is None:
                    self._connect()
                self.sock.sendall(raw)
                return self._read_response()
            except (OSError, ValueError, IndexError):
                self._close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def next(self):
        status, headers, body = self._request("GET", "/invocation/next")
        if status != 200:
            raise RuntimeError("/invocation/next returned %d: %r" % (status, body[:200]))
        return headers, body

    def response(self, request_id, body, content_type):
        self._post("/invocation/%s/response" % request_id, body, {"Content-Type": content_type})

    def error(self, request_id, error):
        self._post_error("/invocation/%s/error" % request_id, error)

    def init_error(self, error):
        self._post_error("/init/error", error)

    def _post_error(self, path, error):
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Function-Error-Type": error.get("errorType") or "Runtime.Unknown",
        }
        self._post(path, to_json(error).encode("utf-8"), headers)

    def _post(self, path, body, headers):
        status, _, data = self._request("POST", path, body, headers)
        if status >= 300:
            sys.stderr.write("lambdad runtime: POST %s returned %d: %s\n" % (path, status, data[:200]))


# --- JSON -------------------------------------------------------------------


def _default(obj):
    decimal = sys.modules.get("decimal")  # only user code can make a Decimal
    if decimal is not None and isinstance(obj, decimal.Decimal):
        if obj == obj.to_integral_value():
            return int(obj)
        return float(obj)
    raise TypeError("Object of type %s is not JSON serializable" % type(obj).__name__)


def _runtime_minor():
    # The runtime id, not the host interpreter, decides: python3.12 may run
    # on another host Python.
    env = os.environ.get("AWS_EXECUTION_ENV", "")
    try:
        return int(env.rsplit("python3.", 1)[1])
    except (IndexError, ValueError):
        return sys.version_info[1]


# AWS's python3.12+ runtimes emit UTF-8 rather than \u escapes.
_ENSURE_ASCII = _runtime_minor() < 12


class _DecoderSettings:
    # What the C scanner reads from a json.JSONDecoder() with no arguments.
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__


_scan = _json.make_scanner(_DecoderSettings()) if _json is not None else None


def json_loads(data):
    """json.loads(data), through the C scanner json itself uses. Anything
    but a plain UTF-8 object, array or string (other encodings, leading
    whitespace, errors) goes to json.loads, which decides and words errors."""
    if _scan is not None and data[:1] in (b"{", b"[", b'"', "{", "[", '"') and len(data) > 1 and data[1]:
        try:
            s = data.decode("utf-8", "surrogatepass") if isinstance(data, bytes) else data
            obj, end = _scan(s, 0)
            if not s[end:].strip(" \t\n\r"):
                return obj
        except Exception:
            pass
    import json

    return json.loads(data)


def json_dumps(obj, default, ensure_ascii):
    """json.dumps(obj, default=default, ensure_ascii=ensure_ascii), through
    the C encoder json itself uses; on any error json.dumps runs again to
    raise its own exception."""
    if _json is not None:
        try:
            if isinstance(obj, str):
                return _json.encode_basestring_ascii(obj) if ensure_ascii else _json.encode_basestring(obj)
            encoder = _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring
            enc = _json.make_encoder({}, default, encoder, None, ": ", ", ", False, False, True)
            return "".join(enc(obj, 0))
        except Exception:
            pass
    import json

    return json.dumps(obj, default=default, ensure_ascii=ensure_ascii)


def to_json(obj):
    return json_dumps(obj, _default, _ENSURE_ASCII)


def marshal_response(response):
    if isinstance(response, (bytes, bytearray)):
        return bytes(response), "application/unknown"
    try:
        return to_json(response).encode("utf-8"), "application/json"
    except Exception as e:
        raise Fault("Runtime.MarshalError", "Unable to marshal response: %s" % e)


def unmarshal_event(body, content_type):
    if content_type and "json" not in content_type.lower():
        return body
    if not body.strip():
        return {}
    try:
        return json_loads(body)
    except Exception as e:
        raise Fault("Runtime.UnmarshalError", "Unable to unmarshal input: %s" % e)


# --- Errors -----------------------------------------------------------------


def make_error(message, error_type, stack_trace, request_id=""):
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id or "",
        "stackTrace": stack_trace or [],
    }


def user_stack(tb):
    """Formats a traceback like AWS: frames from our own file left out."""
    import traceback  # on errors only: it is slow to import

    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    while frames and frames[0][0] == _THIS_FILE:
        frames.pop(0)
    # Plain tuples carry no column data, so no caret lines on 3.11+.
    return traceback.format_list(frames)


def error_from_exception(exc, request_id=""):
    if isinstance(exc, Fault):
        return make_error(exc.message, exc.error_type, exc.trace, request_id)
    return make_error(str(exc), type(exc).__name__, user_stack(exc.__traceback__), request_id)


def log_error(error, json_format):
    if json_format:
        record = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()), "level": "ERROR"}
        record.update(error)
        sys.stdout.write(to_json(record) + "\n")
        return
    head = "[ERROR]"
    if error.get("errorType"):
        head += " " + error["errorType"]
    if error.get("errorMessage"):
        if error.get("errorType"):
            head += ":"
        head += " " + error["errorMessage"]
    lines = [head]
    stack = error.get("stackTrace")
    if stack is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack:
            if element == "":
                lines.append("")
                continue
            for line in element.splitlines():
                stripped = line.lstrip(" ")
                # Leading spaces become no-break spaces so log viewers keep the indent.
                lines.append("\u00a0" * (len(line) - len(stripped)) + stripped)
    # One record per error: lines joined with carriage returns, as AWS does.
    sys.stdout.write("\r".join(lines) + "\n")


# --- Logging ----------------------------------------------------------------


def _logging_classes(logging):
    class RequestIdFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _current_request_id
            return True

    class StdoutHandler(logging.Handler):
        def emit(self, record):
            try:
                sys.stdout.write(self.format(record))
            except Exception:
                self.handleError(record)

    standard_attrs = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
        "message",
        "asctime",
        "aws_request_id",
        "taskName",
    }

    class JsonFormatter(logging.Formatter):
        def format(self, record):
            level = min(50, max(0, record.levelno)) // 10 * 10
            created = time.gmtime(record.created)
            out = {
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", created) + ".%03dZ" % int(record.msecs),
                "level": logging.getLevelName(level),
                "message": record.getMessage(),
                "logger": record.name,
            }
            if record.exc_info:
                etype, value, tb = record.exc_info
                import traceback

                out["stackTrace"] = traceback.format_tb(tb)
                out["errorType"] = etype.__name__
                out["errorMessage"] = str(value)
            out["requestId"] = getattr(record, "aws_request_id", "")
            if _current_tenant_id is not None:
                out["tenantId"] = _current_tenant_id
            if record.exc_info:
                out["location"] = "%s:%s:%d" % (record.pathname, record.funcName, record.lineno)
            for key, value in record.__dict__.items():
                if key not in standard_attrs and key not in out:
                    out[key] = value
            out = {k: v for k, v in out.items() if v is not None}
            return json_dumps(out, str, False) + "\n"

    return RequestIdFilter, StdoutHandler, JsonFormatter


def setup_logging(logging, json_format, level):
    request_id_filter, stdout_handler, json_formatter = _logging_classes(logging)
    logging.Formatter.converter = time.gmtime
    handler = stdout_handler()
    if json_format:
        handler.setFormatter(json_formatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                "%Y-%m-%dT%H:%M:%S",
            )
        )
    handler.addFilter(request_id_filter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = level.upper()
    if level == "TRACE":
        level = "DEBUG"
    elif level == "FATAL":
        level = "CRITICAL"
    if not level and json_format:
        # Lambda's default application log level under JSON logging.
        level = "INFO"
    if level in ("DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL"):
        root.setLevel(level if level != "WARN" else "WARNING")


class _LoggingLoader:
    """Runs the real loader of the logging module, then sets up Lambda's
    handler before anyone else gets hold of the module."""

    def __init__(self, hook, loader):
        self.hook, self.loader = hook, loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        # Put the real loader back first: the module's attributes should
        # not show this wrapper.
        module.__loader__ = module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        self.hook.loaded(module)


class LoggingHook:
    """A meta path finder that configures the logging module the first time
    anything imports it. Logging costs a cold start about 10 ms; set up
    this way, only functions that log pay for it, and they see the module
    exactly as if it had been set up at start. It is found on the
    interpreter's own path, as if imported before the function's code and
    layers went onto sys.path."""

    def __init__(self, path, json_format):
        self.path, self.json_format = list(path), json_format
        # The configuration as of the start, whenever it is applied.
        self.level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "")

    def install(self):
        if "logging" in sys.modules:
            setup_logging(sys.modules["logging"], self.json_format, self.level)
        else:
            sys.meta_path.insert(0, self)

    def find_spec(self, name, path=None, target=None):
        if name != "logging" or "logging" in sys.modules:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, self.path if finder is _PathFinder else None)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _LoggingLoader(self, spec.loader)
                return spec
        return None

    def loaded(self, module):
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass
        setup_logging(module, self.json_format, self.level)


_PathFinder = sys.modules["_frozen_importlib_external"].PathFinder


# --- Context ----------------------------------------------------------------


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, data):
        data = data or {}
        self.cognito_identity_id = data.get("cognitoIdentityId")
        self.cognito_identity_pool_id = data.get("cognitoIdentityPoolId")

    def __repr__(self):
        return "CognitoIdentity([cognito_identity_id=%s,cognito_identity_pool_id=%s])" % (
            self.cognito_identity_id,
            self.cognito_identity_pool_id,
        )


class Client:
    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")

    def __init__(self, data):
        for field in self.__slots__:
            setattr(self, field, data.get(field))

    def __repr__(self):
        return "Client([%s])" % ",".join("%s=%s" % (f, getattr(self, f)) for f in self.__slots__)


class ClientContext:
    __slots__ = ("custom", "env", "client")

    def __init__(self, data):
        self.custom = data.get("custom")
        self.env = data.get("env")
        client = data.get("client")
        self.client = Client(client) if isinstance(client, dict) else client

    def __repr__(self):
        return "ClientContext([custom=%s,env=%s,client=%s])" % (self.custom, self.env, self.client)


class LambdaContext:
    def __init__(self, request_id, arn, deadline_ms, client_context, identity):
        env = os.environ
        self.aws_request_id = request_id
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = arn
        self.client_context = ClientContext(client_context) if isinstance(client_context, dict) else None
        self.identity = CognitoIdentity(identity if isinstance(identity, dict) else None)
        self._deadline_ms = deadline_ms
        self.tenant_id = _current_tenant_id

    def get_remaining_time_in_millis(self):
        left = self._deadline_ms - int(time.time() * 1000)
        return left if left > 0 else 0

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            "LambdaContext([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,function_name=%s,"
            "memory_limit_in_mb=%s,function_version=%s,invoked_function_arn=%s,client_context=%s,identity=%s])"
            % (
                self.aws_request_id,
                self.log_group_name,
                self.log_stream_name,
                self.function_name,
                self.memory_limit_in_mb,
                self.function_version,
                self.invoked_function_arn,
                self.client_context,
                self.identity,
            )
        )


def _json_header(value, name):
    if not value:
        return None
    try:
        return json_loads(value)
    except Exception as e:
        raise Fault("Runtime.LambdaContextUnmarshalError", "Unable to parse %s JSON: %s" % (name, e))


# --- Handler loading --------------------------------------------------------


def load_handler(handler):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise Fault("Runtime.MalformedHandlerName", "Bad handler '%s': %s" % (handler, e))
    if modname.split(".")[0] in sys.builtin_module_names:
        raise Fault(
            "Runtime.BuiltInModuleConflict",
            "Cannot use built-in module %s as a handler module" % modname,
        )
    import importlib  # import_module's frame is part of AWS's stack traces

    try:
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise Fault("Runtime.ImportModuleError", "Unable to import module '%s': %s" % (modname, e))
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise Fault("Runtime.UserCodeSyntaxError", "Syntax error in module '%s': %s" % (modname, e), trace)
    try:
        return getattr(module, fname)
    except AttributeError:
        raise Fault("Runtime.HandlerNotFound", "Handler '%s' missing on module '%s'" % (fname, modname))


# --- Main loop --------------------------------------------------------------


def host_site_packages():
    # lambdad starts Python with -S: the .pth files of the host's
    # site-packages can import whole packages (certifi, ...) and cost every
    # cold start tens of milliseconds. The directories stay importable (AWS
    # runtimes ship boto3 too), after the function's own code and layers.
    if not sys.flags.no_site:
        return []
    import site

    dirs = list(site.getsitepackages())
    try:
        dirs.append(site.getusersitepackages())
    except Exception:
        pass
    return [d for d in dirs if os.path.isdir(d)]


def setup_paths(task_root, opt_dir):
    import site

    # A layer's packages sit under the runtime's version (python3.12 finds
    # python/lib/python3.12/site-packages even when the host's interpreter
    # is another Python 3).
    version = "python3.%d" % _runtime_minor()
    front = [task_root, os.path.join(opt_dir, "python", "lib", version, "site-packages"), os.path.join(opt_dir, "python")]
    sys.path[:] = front + [p for p in sys.path if p not in front]
    # AWS makes the layer directories site directories: their .pth files
    # add paths (and may run import lines, with the whole stdlib on the
    # path), and those paths go right after the layer's.
    n = len(sys.path)
    known = set(sys.path)
    for d in front[1:]:
        if os.path.isdir(d):
            site.addsitedir(d, known)
    added = sys.path[n:]
    del sys.path[n:]
    sys.path[len(front):len(front)] = added
    sys.path.extend(p for p in host_site_packages() if p not in sys.path)


def handle(client, handler, headers, body, json_format):
    global _current_request_id, _current_tenant_id
    request_id = headers.get("Lambda-Runtime-Aws-Request-Id", "")
    _current_request_id = request_id
    _current_tenant_id = headers.get("Lambda-Runtime-Aws-Tenant-Id")
    trace_id = headers.get("Lambda-Runtime-Trace-Id")
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    try:
        try:
            deadline = int(headers.get("Lambda-Runtime-Deadline-Ms") or 0)
        except ValueError:
            deadline = 0
        context = LambdaContext(
            request_id,
            headers.get("Lambda-Runtime-Invoked-Function-Arn"),
            deadline,
            _json_header(headers.get("Lambda-Runtime-Client-Context"), "Client Context"),
            _json_header(headers.get("Lambda-Runtime-Cognito-Identity"), "Cognito Identity"),
        )
        event = unmarshal_event(body, headers.get("Content-Type"))
        result, content_type = marshal_response(handler(event, context))
    except Exception as e:
        error = error_from_exception(e, request_id)
        log_error(error, json_format)
        client.error(request_id, error)
        return
    client.response(request_id, result, content_type)


def _max_concurrency():
    try:
        return int(os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY") or 1)
    except ValueError:
        return 1


# Bytes per worker in the supervisor's table: the request id it is on.
_SLOT = 64


def _supervise(workers):
    """Lambda Managed Instances: as AWS's Python runtime does, run one worker
    process per concurrent invocation. Each worker does its own init and
    handles one invocation at a time; processes share nothing but /tmp.
    This process forks them before any user code loads and returns only in
    a worker, with the worker's slot of a shared table where it notes the
    invocation it is on. A worker that exits is replaced, as AWS keeps the
    environment up with its other workers, and its invocation is answered
    with a Runtime.ExitError [?: AWS documents no error for it]; one that
    dies within a second of starting is replaced a second later, so a
    failing init cannot spin."""
    import mmap

    table = mmap.mmap(-1, _SLOT * workers)
    slots = {}  # worker pid -> slot
    started = {}

    def fork(i):
        pid = os.fork()
        if pid == 0:
            return memoryview(table)[i * _SLOT:(i + 1) * _SLOT]
        slots[pid] = i
        started[pid] = time.monotonic()
        return None

    for i in range(workers):
        slot = fork(i)
        if slot is not None:
            return slot
    client = None
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:
            continue
        i = slots.pop(pid, None)
        if i is None:
            continue
        held = bytes(table[i * _SLOT:(i + 1) * _SLOT]).rstrip(b"\0").decode("latin-1")
        if held:
            table[i * _SLOT:(i + 1) * _SLOT] = bytes(_SLOT)
            try:
                client = client or RuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
                client.error(held, make_error(
                    "RequestId: %s Error: Runtime exited with error: %s" % (held, _exit_text(status)),
                    "Runtime.ExitError", []))
            except Exception:
                client = None
        if time.monotonic() - started.pop(pid, 0) < 1:
            time.sleep(1)
        slot = fork(i)
        if slot is not None:
            return slot


def _exit_text(status):
    """A wait status as the platform words it: "exit status 1", "signal: killed"."""
    if os.WIFSIGNALED(status):
        import signal

        return "signal: " + (signal.strsignal(os.WTERMSIG(status)) or str(os.WTERMSIG(status))).lower()
    return "exit status %d" % os.WEXITSTATUS(status)


def _serve_worker(client, handler, json_format, slot):
    """A worker's loop: the invocation it is on is noted in its slot, for
    the supervisor to answer should the worker die."""
    empty = bytes(_SLOT)
    while True:
        headers, body = client.next()
        slot[:] = headers.get("Lambda-Runtime-Aws-Request-Id", "").encode("latin-1")[:_SLOT].ljust(_SLOT, b"\0")
        handle(client, handler, headers, body, json_format)
        slot[:] = empty


def main():
    workers = _max_concurrency()
    slot = _supervise(workers) if workers > 1 else None
    opt_dir = sys.argv[1] if len(sys.argv) > 1 else "/opt"
    # User code sees the argv AWS's runtime has: just the script.
    del sys.argv[1:]
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or "/var/task"
    try:
        os.chdir(task_root)
    except OSError:
        pass
    interpreter_path = list(sys.path)
    setup_paths(task_root, opt_dir)
    json_format = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"
    LoggingHook(interpreter_path, json_format).install()

    client = RuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except Exception as e:
        error = error_from_exception(e)
        log_error(error, json_format)
        client.init_error(error)
        sys.exit(1)

    if slot is not None:
        _serve_worker(client, handler, json_format, slot)
    while True:
        headers, body = client.next()
        handle(client, handler, headers, body, json_format)
