// lambdad's Node.js runtime: runs a handler behind the Lambda Runtime API.
//
// No dependencies; runs on Node.js 18 and later. Usage:
//
//     node index.cjs [OPT_DIR]
//
// The environment provides AWS_LAMBDA_RUNTIME_API, _HANDLER and LAMBDA_TASK_ROOT.
//
// CommonJS, unlike AWS's index.mjs: an ES module entry point costs every
// cold start about 8 ms of ES module loader. ES module handlers still load
// through import(). User code sees what it would under AWS's runtime: no
// require.main, and the same require stack in module-not-found errors.
'use strict';

const net = require('node:net');
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');
const Module = require('node:module');
const { pathToFileURL } = require('node:url');

// The require that loads handlers: AWS's names /var/runtime/index.mjs as
// the requiring module in "Cannot find module" errors.
const requireHandler = Module.createRequire(path.join(__dirname, 'index.mjs'));
// Under an ES module entry point, as on AWS, user code has no require.main.
process.mainModule = undefined;
const API_PREFIX = '/2018-06-01/runtime';

const optDir = process.argv[2] || '/opt';
// User code sees the argv AWS's runtime has: node and this script.
process.argv.splice(2);
const taskRoot = process.env.LAMBDA_TASK_ROOT || '/var/task';
const runtimeDir = __dirname;
const nodeMajor = parseInt(process.versions.node, 10);
const runtimeMajor = parseInt((/^AWS_Lambda_nodejs(\d+)/.exec(process.env.AWS_EXECUTION_ENV || '') || [])[1] || String(nodeMajor), 10);

// NODE_PATH normally arrives from the launcher; rebuild it if it did not, so
// layers under /opt/nodejs resolve either way.
if (!process.env.NODE_PATH || process.env.NODE_PATH.includes('{')) {
  process.env.NODE_PATH = [
    `${optDir}/nodejs/node${runtimeMajor}/node_modules`,
    `${optDir}/nodejs/node_modules`,
    `${runtimeDir}/node_modules`,
    runtimeDir,
    taskRoot,
  ].join(':');
  if (typeof Module._initPaths === 'function') Module._initPaths();
}
try {
  process.chdir(taskRoot);
} catch {
  // The sandbox decides the working directory when the task root is absent.
}

// ---------------------------------------------------------------- errors

function defineError(name) {
  const cls = class extends Error {};
  Object.defineProperty(cls, 'name', { value: name });
  cls.prototype.name = `Runtime.${name}`;
  return cls;
}
const ImportModuleError = defineError('ImportModuleError');
const HandlerNotFound = defineError('HandlerNotFound');
const MalformedHandlerName = defineError('MalformedHandlerName');
const UserCodeSyntaxError = defineError('UserCodeSyntaxError');
const UnhandledPromiseRejection = defineError('UnhandledPromiseRejection');
const CallbackHandlerDeprecated = defineError('CallbackHandlerDeprecated');
const JSONStringifyError = defineError('JSONStringifyError');
const NodeJsExit = defineError('NodeJsExit');

function looksLikeError(v) {
  return v && typeof v.name === 'string' && typeof v.message === 'string' && typeof v.stack === 'string';
}

// The body posted to /error: AWS's {errorType, errorMessage, trace} shape.
function toRapidResponse(err) {
  try {
    if (util.types.isNativeError(err) || looksLikeError(err)) {
      return {
        errorType: err.name,
        errorMessage: err.message,
        trace: typeof err.stack === 'string' ? err.stack.split('\n') : [],
      };
    }
    return { errorType: typeof err, errorMessage: String(err), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage: 'callback called with Error argument, but its name, message or stack could not be read',
    };
  }
}

function intoError(err) {
  return err instanceof Error ? err : new Error(err);
}

// The text log form of an error: a tab, then JSON with the stack as lines.
function toFormatted(err) {
  const withProps = (_k, v) => {
    if (!(v instanceof Error)) return v;
    const out = Object.assign({ errorType: v.name, errorMessage: v.message, code: v.code }, v);
    if (typeof v.stack === 'string') out.stack = v.stack.split('\n');
    return out;
  };
  try {
    return '\t' + JSON.stringify(err, withProps);
  } catch {
    return '\t' + JSON.stringify(toRapidResponse(err));
  }
}

// ---------------------------------------------------------------- logging

const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');
const TENANT_ID = Symbol.for('aws.lambda.runtime.tenantId');
const jsonFormat = (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';
const LEVELS = { TRACE: 1, DEBUG: 2, INFO: 3, WARN: 4, ERROR: 5, FATAL: 6 };

function jsonErrorReplacer(_k, v) {
  if (v instanceof Error) {
    return Object.assign(
      {
        errorType: v?.constructor?.name ?? 'UnknownError',
        errorMessage: v.message,
        stackTrace: typeof v.stack === 'string' ? v.stack.split('\n') : v.stack,
      },
      v,
    );
  }
  return v;
}

function formatJson(level, params) {
  const rec = { timestamp: new Date().toISOString(), level, requestId: globalThis[REQUEST_ID] };
  if (globalThis[TENANT_ID] !== undefined) rec.tenantId = globalThis[TENANT_ID];
  if (params.length === 1) {
    rec.message = params[0];
    try {
      return JSON.stringify(rec, jsonErrorReplacer);
    } catch {
      rec.message = util.format(rec.message);
      return JSON.stringify(rec);
    }
  }
  rec.message = util.format(...params);
  const err = params.find((p) => p instanceof Error);
  if (err) {
    rec.errorType = err?.constructor?.name ?? 'UnknownError';
    rec.errorMessage = err.message;
    rec.stackTrace = typeof err.stack === 'string' ? err.stack.split('\n') : [];
  }
  return JSON.stringify(rec);
}

function writeLog(level, params) {
  const line = jsonFormat
    ? formatJson(level, params)
    : `${new Date().toISOString()}\t${globalThis[REQUEST_ID]}\t${level}\t${util.format(...params)}`;
  // A multi-line message stays one record: newlines become carriage returns.
  process.stdout.write(line.replace(/\n/g, '\r') + '\n');
}

function patchConsole() {
  let threshold = LEVELS[(process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()];
  if (threshold === undefined) threshold = jsonFormat ? LEVELS.INFO : LEVELS.TRACE;
  const make = (level) => (LEVELS[level] >= threshold ? (...params) => writeLog(level, params) : () => {});
  console.trace = make('TRACE');
  console.debug = make('DEBUG');
  console.info = make('INFO');
  console.log = console.info;
  console.warn = make('WARN');
  console.error = make('ERROR');
  console.fatal = make('FATAL');
}

function logError(label, err) {
  if (jsonFormat) console.error(intoError(err));
  else console.error(label, toFormatted(intoError(err)));
}

// ---------------------------------------------------------------- Runtime API client

const [apiHost, apiPort] = (() => {
  const addr = process.env.AWS_LAMBDA_RUNTIME_API || '';
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return [host, Number(addr.slice(i + 1))];
})();

// A small HTTP/1.1 client on one kept-alive socket: the http module costs
// each invoke about as much again as the rest of the round trip. The socket
// is unref'd between requests so that an empty event loop still means the
// handler's work is done.
let sock = null;
let inbuf = Buffer.alloc(0);
// Chunks not yet joined onto inbuf: a large event arrives in many chunks,
// and joining each one would copy it over and over.
let pending = [];
let pendingLen = 0;
let need = 0; // the length inbuf must reach before the response can be complete
let waiting = null; // { resolve, reject } of the request in flight

function connection() {
  if (sock && !sock.destroyed) return sock;
  inbuf = Buffer.alloc(0);
  pending = [];
  pendingLen = 0;
  need = 0;
  sock = net.createConnection({ host: apiHost, port: apiPort });
  sock.setNoDelay(true);
  sock.on('data', (chunk) => {
    pending.push(chunk);
    pendingLen += chunk.length;
    if (inbuf.length + pendingLen < need) return;
    inbuf = inbuf.length || pending.length > 1 ? Buffer.concat([inbuf, ...pending]) : chunk;
    pending = [];
    pendingLen = 0;
    parseResponse();
  });
  const fail = (err) => {
    sock = null;
    const w = waiting;
    waiting = null;
    if (w) w.reject(err || new Error('the Runtime API closed the connection'));
  };
  sock.on('error', fail);
  sock.on('close', () => fail());
  return sock;
}

function parseResponse() {
  if (!waiting) return;
  const end = inbuf.indexOf('\r\n\r\n');
  if (end < 0) return;
  const lines = inbuf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(lines[0].split(' ')[1]);
  const headers = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body;
  let rest;
  if ((headers['transfer-encoding'] || '').toLowerCase() === 'chunked') {
    const parts = [];
    let at = end + 4;
    for (;;) {
      const eol = inbuf.indexOf('\r\n', at);
      if (eol < 0) return;
      const size = parseInt(inbuf.subarray(at, eol).toString('latin1'), 16);
      if (size === 0) {
        const fin = inbuf.indexOf('\r\n\r\n', eol);
        if (fin < 0) return;
        rest = inbuf.subarray(fin + 4);
        break;
      }
      if (inbuf.length < eol + 2 + size + 2) return;
      parts.push(inbuf.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else {
    const len = Number(headers['content-length'] || 0);
    if (inbuf.length < end + 4 + len) {
      need = end + 4 + len;
      return;
    }
    need = 0;
    body = Buffer.from(inbuf.subarray(end + 4, end + 4 + len));
    rest = inbuf.subarray(end + 4 + len);
  }
  inbuf = rest;
  const w = waiting;
  waiting = null;
  if ((headers.connection || '').toLowerCase() === 'close') {
    sock.destroy();
    sock = null;
  } else {
    sock.unref();
  }
  w.resolve({ status, headers, body });
}

function requestOnce(method, urlPath, body, headers) {
  return new Promise((resolve, reject) => {
    const s = connection();
    waiting = { resolve, reject };
    const payload = body ? (Buffer.isBuffer(body) ? body : Buffer.from(body)) : Buffer.alloc(0);
    let head = `${method} ${API_PREFIX}${urlPath} HTTP/1.1\r\nHost: ${apiHost}:${apiPort}\r\nContent-Length: ${payload.length}\r\n`;
    for (const [k, v] of Object.entries(headers || {})) {
      if (k.toLowerCase() !== 'content-length') head += `${k}: ${v}\r\n`;
    }
    s.ref();
    s.write(Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), payload]));
  });
}

// request retries once on a fresh connection if the server closed the
// kept-alive one while it was idle.
async function request(method, urlPath, body, headers) {
  try {
    return await requestOnce(method, urlPath, body, headers);
  } catch (err) {
    if (sock) sock.destroy();
    sock = null;
    return requestOnce(method, urlPath, body, headers);
  }
}

async function post(urlPath, body, headers) {
  const buf = Buffer.from(body, 'utf8');
  const res = await request('POST', urlPath, buf, { ...headers, 'Content-Length': buf.length });
  if (res.status >= 300) {
    process.stderr.write(`lambdad runtime: POST ${urlPath} returned ${res.status}: ${res.body.toString().slice(0, 200)}\n`);
  }
}

function postError(urlPath, err) {
  const body = toRapidResponse(err);
  return post(urlPath, JSON.stringify(body), {
    'Content-Type': 'application/json',
    'Lambda-Runtime-Function-Error-Type': String(body.errorType),
  });
}

function fatal(err) {
  process.stderr.write(`lambdad runtime: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
}

// ---------------------------------------------------------------- handler loading

function hasTypeModule(dir) {
  for (;;) {
    if (dir.endsWith('/node_modules')) return false;
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        return JSON.parse(fs.readFileSync(pj, 'utf8')).type === 'module';
      } catch (e) {
        console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
        return false;
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return false;
    dir = parent;
  }
}

function requireIfExists(file) {
  return fs.existsSync(file) ? requireHandler(file) : undefined;
}

async function importIfExists(file) {
  if (!fs.existsSync(file)) return undefined;
  layerImports();
  return await import(pathToFileURL(file).href);
}

// ES modules do not search NODE_PATH, yet on AWS an ES module handler
// imports packages from its layers' nodejs/nodeN/node_modules and
// nodejs/node_modules, and the runtime's AWS SDK, as require() finds them
// [?: AWS documents that it works from Node.js 18 on, not how]. A bare
// specifier that resolves nowhere else is resolved again as if imported
// from <opt>/nodejs/nodeN/, whose lookup walks exactly those two layer
// directories, in that order; then from beside each other node_modules of
// NODE_PATH (the SDK of lambdad runtimes install). Set up before the first
// ES module handler loads and only when one of them exists: Node's
// off-thread hooks (before Node 22.15) cost ~30 ms.
let layerImportsDone = false;
function layerImports() {
  if (layerImportsDone) return;
  layerImportsDone = true;
  const dirs = [`${optDir}/nodejs/node${runtimeMajor}/node_modules`, `${optDir}/nodejs/node_modules`];
  const parents = [];
  if (dirs.some((d) => fs.existsSync(d))) parents.push(pathToFileURL(`${optDir}/nodejs/node${runtimeMajor}/index.mjs`).href);
  for (const d of (process.env.NODE_PATH || '').split(':')) {
    if (path.basename(d) === 'node_modules' && !dirs.includes(d) && fs.existsSync(d)) {
      parents.push(pathToFileURL(path.join(path.dirname(d), 'index.mjs')).href);
    }
  }
  if (parents.length === 0) return;
  const bare = (s) => !/^(\.{0,2}\/|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(s);
  if (typeof Module.registerHooks === 'function') {
    Module.registerHooks({
      resolve(specifier, context, nextResolve) {
        try {
          return nextResolve(specifier, context);
        } catch (e) {
          if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !bare(specifier)) throw e;
          for (const parentURL of parents) {
            try {
              return nextResolve(specifier, { ...context, parentURL });
            } catch {
              // not there either
            }
          }
          throw e;
        }
      },
    });
  } else if (typeof Module.register === 'function') {
    Module.register(pathToFileURL(path.join(runtimeDir, 'layers.mjs')), { data: { parents } });
  }
}

async function loadModule(moduleRoot, moduleName) {
  const base = path.resolve(taskRoot, moduleRoot, moduleName);
  const loaded = requireIfExists(base);
  if (loaded) return loaded;
  const esm = hasTypeModule(path.dirname(base));
  if (!esm) {
    const cjs = requireIfExists(base + '.js');
    if (cjs) return cjs;
  }
  const found =
    (esm && (await importIfExists(base + '.js'))) ||
    (await importIfExists(base + '.mjs')) ||
    requireIfExists(base + '.cjs');
  if (found) return found;
  // Resolve like require() would from the task root (node_modules, directories).
  return requireHandler(requireHandler.resolve(moduleName, { paths: [taskRoot, moduleRoot] }));
}

async function loadHandler(fullHandler) {
  if (fullHandler.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullHandler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const handlerString = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(handlerString));
  const m = /^([^.]*)\.(.*)$/.exec(handlerString);
  if (!m) throw new MalformedHandlerName('Bad handler');
  const [, moduleName, handlerPath] = m;

  let mod;
  try {
    mod = await loadModule(moduleRoot, moduleName);
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserCodeSyntaxError(String(e));
    if (e && e.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(String(e));
    throw e;
  }
  const fn = handlerPath.split('.').reduce((obj, key) => obj && obj[key], mod);
  if (!fn) throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof fn !== 'function') throw new HandlerNotFound(`${fullHandler} is not a function`);
  if (runtimeMajor >= 24 && fn.length >= 3) {
    throw new CallbackHandlerDeprecated(
      `Callback-based function handlers are not supported from Node.js 24 on; change ${fullHandler} to an async (event, context) handler.`,
    );
  }
  return fn;
}

// ---------------------------------------------------------------- invocation loop

// One beforeExit action at a time: it fires once the event loop is empty.
let beforeExitAction = null;
process.on('beforeExit', () => {
  const action = beforeExitAction;
  beforeExitAction = null;
  if (action) action();
});

// Where an uncaught error goes: the init error endpoint until the first
// invocation, then the current invocation's error endpoint.
let reportUncaught = (err) => postError('/init/error', err);

function parseJsonHeader(value, name) {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (e) {
    throw new Error(`Cannot parse ${name} as json: ${e}`);
  }
}

function isPromise(v) {
  return v && typeof v.then === 'function';
}

// newContext is the context object's fields every invocation has; complete
// settles the invocation (succeed, fail and done call it).
function newContext(h, id, complete) {
  const deadline = Number(h['lambda-runtime-deadline-ms']);
  return {
    succeed: (result) => complete(null, result),
    fail: (err) => complete(err === undefined || err === null ? 'handled' : err),
    done: (err, result) => complete(err, result),
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    invokedFunctionArn: h['lambda-runtime-invoked-function-arn'],
    awsRequestId: id,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
}

function serialize(result) {
  try {
    return JSON.stringify(result === undefined ? null : result);
  } catch {
    return undefined;
  }
}

async function invokeOnce(handler) {
  const res = await request('GET', '/invocation/next');
  if (res.status !== 200) throw new Error(`/invocation/next returned ${res.status}`);
  const h = res.headers;
  const id = h['lambda-runtime-aws-request-id'];
  globalThis[REQUEST_ID] = id;
  globalThis[TENANT_ID] = h['lambda-runtime-aws-tenant-id'];
  if (h['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = h['lambda-runtime-trace-id'];
  else delete process.env._X_AMZN_TRACE_ID;

  let finished = false;
  // An error escaping the handler after it answered has no invocation to go to.
  reportUncaught = (err) => (finished ? undefined : ((finished = true), postError(`/invocation/${id}/error`, err)));

  const scheduleNext = () => setImmediate(() => invokeOnce(handler).catch(fatal));
  const complete = (err, result) => {
    if (finished) return;
    finished = true;
    beforeExitAction = null;
    if (err !== undefined && err !== null) {
      logError('Invoke Error', err);
      postError(`/invocation/${id}/error`, err).then(scheduleNext, fatal);
      return;
    }
    const body = serialize(result);
    if (body === undefined) {
      const e = new JSONStringifyError('Unable to stringify response body');
      logError('Invoke Error', e);
      postError(`/invocation/${id}/error`, e).then(scheduleNext, fatal);
      return;
    }
    post(`/invocation/${id}/response`, body, { 'Content-Type': 'application/json' }).then(scheduleNext, fatal);
  };

  let waitForEmptyEventLoop = true;
  const context = newContext(h, id, complete);
  Object.defineProperty(context, 'callbackWaitsForEmptyEventLoop', {
    get: () => waitForEmptyEventLoop,
    set: (v) => {
      waitForEmptyEventLoop = v;
    },
    enumerable: true,
  });
  context.tenantId = h['lambda-runtime-aws-tenant-id'];

  let callbackCalled = false;
  const callback = (err, result) => {
    if (callbackCalled || finished) return;
    callbackCalled = true;
    if ((err !== undefined && err !== null) || !waitForEmptyEventLoop) {
      complete(err, result);
      return;
    }
    // Like AWS: the result goes out once everything the handler started is done.
    beforeExitAction = () => setImmediate(() => complete(null, result));
  };

  // If the event loop drains with no result: a sync handler's answer is null;
  // an async handler that never settled is an error.
  const isAsync = handler.constructor && handler.constructor.name === 'AsyncFunction';
  beforeExitAction = () => {
    if (isAsync) complete(new NodeJsExit('The handler returned a promise that never settled, and the event loop is empty.'));
    else complete(null, null);
  };

  try {
    context.clientContext = parseJsonHeader(h['lambda-runtime-client-context'], 'ClientContext');
    context.identity = parseJsonHeader(h['lambda-runtime-cognito-identity'], 'CognitoIdentity');
    const event = res.body.length ? JSON.parse(res.body.toString('utf8')) : {};
    if (handler[STREAMING] === 'response') {
      finished = true; // the streaming path reports this invocation
      invokeStreaming(handler, event, context, id, scheduleNext);
      return;
    }
    const result = handler(event, context, callback);
    if (isPromise(result)) {
      result.then(context.succeed, context.fail);
    }
  } catch (err) {
    callback(err);
  }
}

// ---------------------------------------------------------------- response streaming

// As AWS's Node.js runtime: awslambda.streamifyResponse marks a handler
// (event, responseStream, context) whose response is streamed to the
// Runtime API as it is written, in a chunked POST with
// Lambda-Runtime-Function-Response-Mode: streaming; an error after the
// request began goes in its trailers. HttpResponseStream.from sets the
// content type function URLs read a prelude by, and writes the prelude
// (status, headers, cookies as JSON) and its 8 NUL delimiter first.
const { Writable } = require('node:stream');
const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HIGH_WATER_MARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
const HTTP_INTEGRATION = 'application/vnd.awslambda.http-integration-response';

class HttpResponseStream {
  static from(underlyingStream, prelude) {
    underlyingStream.setContentType(HTTP_INTEGRATION);
    underlyingStream.write(JSON.stringify(prelude === undefined ? {} : prelude));
    underlyingStream.write(Buffer.alloc(8));
    return underlyingStream;
  }
}

function installGlobals() {
  globalThis.awslambda = {
    streamifyResponse(handler, options) {
      handler[STREAMING] = 'response';
      if (options && Number.isInteger(options.highWaterMark)) handler[HIGH_WATER_MARK] = options.highWaterMark;
      return handler;
    },
    HttpResponseStream,
  };
}

const CRLF = Buffer.from('\r\n');

// ResponseStream is the handler's responseStream: each write goes out at
// once as one chunk of the POST, which starts with the first write (or the
// end), once the content type can no longer change.
class ResponseStream extends Writable {
  constructor(id, highWaterMark) {
    super(highWaterMark ? { highWaterMark } : {});
    this.id = id;
    this.contentType = 'application/octet-stream';
    this.req = null;
  }

  setContentType(ct) {
    if (this.req) throw new Error('Cannot set content-type, response already started.');
    this.contentType = String(ct);
  }

  start() {
    if (this.req) return this.req;
    const s = connection();
    const result = new Promise((resolve, reject) => {
      waiting = { resolve, reject };
    });
    s.ref();
    s.write(
      `POST ${API_PREFIX}/invocation/${this.id}/response HTTP/1.1\r\nHost: ${apiHost}:${apiPort}\r\n` +
        `Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n` +
        `Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n` +
        `Content-Type: ${this.contentType}\r\n\r\n`,
      'latin1',
    );
    this.req = { sock: s, result };
    return this.req;
  }

  _write(chunk, _enc, cb) {
    const { sock } = this.start();
    if (chunk.length === 0) return cb();
    sock.cork();
    sock.write(chunk.length.toString(16) + '\r\n', 'latin1');
    sock.write(chunk);
    sock.write(CRLF, cb);
    sock.uncork();
  }

  // close ends the POST, with err in its trailers; it resolves once the
  // Runtime API answered.
  close(err) {
    const { sock, result } = this.start();
    let tail = '0\r\n';
    if (err !== undefined && err !== null) {
      const body = toRapidResponse(err);
      tail +=
        `Lambda-Runtime-Function-Error-Type: ${String(body.errorType).replace(/[\r\n]/g, ' ')}\r\n` +
        `Lambda-Runtime-Function-Error-Body: ${Buffer.from(JSON.stringify(body)).toString('base64')}\r\n`;
    }
    sock.write(tail + '\r\n', 'latin1');
    return result;
  }
}

// StreamedResult is a streamed response gathered whole.
class StreamedResult {
  constructor(body, contentType) {
    this.body = body;
    this.contentType = contentType;
  }
}

// BufferedResponseStream is a responseStream that gathers what is written.
class BufferedResponseStream extends Writable {
  constructor() {
    super();
    this.contentType = 'application/octet-stream';
    this.parts = [];
  }

  setContentType(ct) {
    this.contentType = String(ct);
  }

  _write(chunk, _enc, cb) {
    this.parts.push(chunk);
    cb();
  }

  // whenDone ends the stream if the handler did not, and resolves to what
  // it holds.
  whenDone() {
    return new Promise((resolve, reject) => {
      const out = () => resolve(new StreamedResult(Buffer.concat(this.parts), this.contentType));
      if (this.writableFinished) return out();
      this.once('finish', out);
      this.once('error', reject);
      if (!this.writableEnded) this.end();
    });
  }
}

// invokeStreaming runs one invocation of a streamifyResponse handler.
function invokeStreaming(handler, event, context, id, scheduleNext) {
  const stream = new ResponseStream(id, handler[HIGH_WATER_MARK]);
  let finished = false;
  const finish = async (err) => {
    if (finished) return;
    finished = true;
    beforeExitAction = null;
    if (err !== undefined && err !== null) logError('Invoke Error', err);
    // What the handler wrote goes out before the end.
    if (!stream.writableFinished && !stream.destroyed) {
      await new Promise((resolve) => {
        stream.once('finish', resolve);
        stream.once('error', resolve);
        if (!stream.writableEnded) stream.end();
      });
    }
    const res = await stream.close(err);
    if (res.status >= 300) {
      process.stderr.write(`lambdad runtime: streamed response returned ${res.status}: ${res.body.toString().slice(0, 200)}\n`);
    }
  };
  const done = (err) => finish(err).then(scheduleNext, fatal);
  reportUncaught = (err) => finish(err);
  beforeExitAction = () => done(new NodeJsExit('The handler returned a promise that never settled, and the event loop is empty.'));
  context.succeed = () => done();
  context.fail = (err) => done(err === undefined || err === null ? 'handled' : err);
  context.done = (err) => done(err);
  try {
    const result = handler(event, stream, context);
    if (isPromise(result)) result.then(() => done(), done);
    else stream.once('finish', () => done());
  } catch (err) {
    done(err);
  }
}

// ---------------------------------------------------------------- many invocations at once

// Lambda Managed Instances: with AWS_LAMBDA_MAX_CONCURRENCY above 1 the
// environment takes that many invocations at once. As AWS's Node.js
// runtime does within each of its worker threads, this one runs them as
// concurrent async handlers: one /next loop per slot, each on its own
// connection, all in this one thread and process. The handler object and
// module state are shared; the request id of console output follows each
// invocation through AsyncLocalStorage. An uncaught error cannot be told
// apart by invocation: it ends the process, and with it every invocation
// in flight (the platform reports each as Runtime.ExitError).

// A minimal HTTP/1.1 client on one kept-alive socket, one request at a
// time; lambdad's Runtime API always answers with a Content-Length.
class Lane {
  constructor() {
    this.sock = null;
    this.buf = Buffer.alloc(0);
    this.waiting = null;
  }

  connect() {
    if (this.sock && !this.sock.destroyed) return this.sock;
    this.buf = Buffer.alloc(0);
    const s = net.createConnection({ host: apiHost, port: apiPort });
    s.setNoDelay(true);
    s.on('data', (chunk) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
      this.parse();
    });
    const fail = (err) => {
      if (this.sock === s) this.sock = null;
      const w = this.waiting;
      this.waiting = null;
      if (w) w.reject(err || new Error('the Runtime API closed the connection'));
    };
    s.on('error', fail);
    s.on('close', () => fail());
    this.sock = s;
    return s;
  }

  parse() {
    if (!this.waiting) return;
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const lines = this.buf.subarray(0, end).toString('latin1').split('\r\n');
    const headers = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const len = Number(headers['content-length'] || 0);
    if (this.buf.length < end + 4 + len) return;
    const body = Buffer.from(this.buf.subarray(end + 4, end + 4 + len));
    this.buf = this.buf.subarray(end + 4 + len);
    const w = this.waiting;
    this.waiting = null;
    if ((headers.connection || '').toLowerCase() === 'close') {
      this.sock.destroy();
      this.sock = null;
    }
    w.resolve({ status: Number(lines[0].split(' ')[1]), headers, body });
  }

  requestOnce(method, urlPath, body, headers) {
    return new Promise((resolve, reject) => {
      const s = this.connect();
      this.waiting = { resolve, reject };
      const payload = body || Buffer.alloc(0);
      let head = `${method} ${API_PREFIX}${urlPath} HTTP/1.1\r\nHost: ${apiHost}:${apiPort}\r\nContent-Length: ${payload.length}\r\n`;
      for (const [k, v] of Object.entries(headers || {})) head += `${k}: ${v}\r\n`;
      s.write(Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), payload]));
    });
  }

  async request(method, urlPath, body, headers) {
    try {
      return await this.requestOnce(method, urlPath, body, headers);
    } catch {
      if (this.sock) this.sock.destroy();
      this.sock = null;
      return this.requestOnce(method, urlPath, body, headers);
    }
  }

  async post(urlPath, text, headers) {
    const res = await this.request('POST', urlPath, Buffer.from(text, 'utf8'), headers);
    if (res.status >= 300) {
      process.stderr.write(`lambdad runtime: POST ${urlPath} returned ${res.status}: ${res.body.toString().slice(0, 200)}\n`);
    }
  }

  postError(urlPath, err) {
    const body = toRapidResponse(err);
    return this.post(urlPath, JSON.stringify(body), {
      'Content-Type': 'application/json',
      'Lambda-Runtime-Function-Error-Type': String(body.errorType),
    });
  }
}

// runLane serves invocations one after another on its own connection.
async function runLane(handler, als) {
  const lane = new Lane();
  for (;;) {
    const res = await lane.request('GET', '/invocation/next');
    if (res.status !== 200) throw new Error(`/invocation/next returned ${res.status}`);
    const h = res.headers;
    const id = h['lambda-runtime-aws-request-id'];
    let outcome;
    try {
      outcome = { result: await als.run({ id }, () => callHandler(handler, h, res.body, id)) };
    } catch (err) {
      outcome = { err: err === undefined || err === null ? 'handled' : err };
    }
    await als.run({ id }, async () => {
      if ('err' in outcome) {
        logError('Invoke Error', outcome.err);
        await lane.postError(`/invocation/${id}/error`, outcome.err);
        return;
      }
      if (outcome.result instanceof StreamedResult) {
        const r = outcome.result;
        const res = await lane.request('POST', `/invocation/${id}/response`, r.body, { 'Content-Type': r.contentType });
        if (res.status >= 300) process.stderr.write(`lambdad runtime: streamed response returned ${res.status}\n`);
        return;
      }
      const body = serialize(outcome.result);
      if (body === undefined) {
        const e = new JSONStringifyError('Unable to stringify response body');
        logError('Invoke Error', e);
        await lane.postError(`/invocation/${id}/error`, e);
        return;
      }
      await lane.post(`/invocation/${id}/response`, body, { 'Content-Type': 'application/json' });
    });
  }
}

// callHandler runs one invocation to its result: the promise of an async
// handler, a callback's answer, or a plain handler's return value. With
// other invocations running there is no empty event loop to wait for.
function callHandler(handler, h, rawBody, id) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const complete = (err, result) => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) reject(err);
      else resolve(result);
    };
    const context = newContext(h, id, complete);
    context.callbackWaitsForEmptyEventLoop = false;
    context.xRayTraceId = h['lambda-runtime-trace-id'];
    try {
      context.clientContext = parseJsonHeader(h['lambda-runtime-client-context'], 'ClientContext');
      context.identity = parseJsonHeader(h['lambda-runtime-cognito-identity'], 'CognitoIdentity');
      const event = rawBody.length ? JSON.parse(rawBody.toString('utf8')) : {};
      if (handler[STREAMING] === 'response') {
        // Environments holding several invocations answer buffered: the
        // stream is gathered and posted whole once it ends.
        const stream = new BufferedResponseStream();
        const done = (err) => (err !== undefined && err !== null ? complete(err) : stream.whenDone().then((r) => complete(null, r), complete));
        const result = handler(event, stream, context);
        if (isPromise(result)) result.then(() => done(), (e) => done(e === undefined || e === null ? 'handled' : e));
        else stream.once('finish', () => done());
        return;
      }
      const result = handler(event, context, complete);
      if (isPromise(result)) result.then((r) => complete(null, r), (e) => complete(e === undefined || e === null ? 'handled' : e));
      else if (handler.length < 3) complete(null, result);
    } catch (err) {
      complete(err);
    }
  });
}

async function runConcurrent(handler, n) {
  const { AsyncLocalStorage } = require('node:async_hooks');
  const als = new AsyncLocalStorage();
  // Console output names the invocation whose code wrote it.
  Object.defineProperty(globalThis, REQUEST_ID, { get: () => als.getStore()?.id, configurable: true });
  reportUncaught = () => undefined; // no one invocation to blame: the exit tells them all
  const lanes = [];
  for (let i = 0; i < n; i++) lanes.push(runLane(handler, als));
  await Promise.all(lanes);
}

async function main() {
  patchConsole();
  process.on('uncaughtException', (err) => {
    logError('Uncaught Exception', err);
    Promise.resolve(reportUncaught(err)).finally(() => process.exit(129));
  });
  process.on('unhandledRejection', (reason) => {
    const err = new UnhandledPromiseRejection(String(reason));
    logError('Unhandled Promise Rejection', err);
    Promise.resolve(reportUncaught(err)).finally(() => process.exit(128));
  });

  installGlobals();
  let handler;
  try {
    handler = await loadHandler(process.env._HANDLER || '');
  } catch (err) {
    logError('Uncaught Exception', err);
    await postError('/init/error', err).catch(() => {});
    process.exit(129);
  }
  const concurrency = parseInt(process.env.AWS_LAMBDA_MAX_CONCURRENCY || '1', 10);
  if (concurrency > 1) return runConcurrent(handler, concurrency);
  await invokeOnce(handler);
}

main().catch(fatal);
