// lambdad's web console: a small single-page app over lambdad's own Lambda
// API, its CloudWatch Logs API and its /_lambdad/console/api/ endpoints.
// No framework, nothing loaded from elsewhere.
"use strict";
(() => {
  const API = "/_lambdad/console/api/";
  const state = { info: null, creds: null, page: 0 };

  // ---- DOM helpers -------------------------------------------------------
  const $ = (sel, root = document) => root.querySelector(sel);
  function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") el.className = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  const SVG = "http://www.w3.org/2000/svg";
  function s(tag, attrs = {}) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    return el;
  }
  const badge = (st) => h("span", { class: "badge state-" + (st || "unknown"), "data-state": st || "" }, st || "—");
  const fmtTime = (t) => (t ? new Date(typeof t === "number" && t < 1e12 ? t * 1000 : t).toLocaleString() : "—");
  const main = () => $("#main");
  function setMain(...children) {
    main().replaceChildren(...children);
  }
  function showError(where, err) {
    where.replaceChildren(h("p", { class: "error" }, String(err && err.message ? err.message : err)));
  }

  // ---- requests ----------------------------------------------------------
  class APIError extends Error {
    constructor(status, type, message) {
      super((type ? type + ": " : "") + (message || "HTTP " + status));
      this.status = status;
      this.type = type;
    }
  }
  // call sends a request to lambdad, signed when it checks signatures.
  async function call(method, path, { body = "", headers = {}, service = "lambda" } = {}) {
    const url = new URL(path, location.origin);
    const hdrs = { ...headers };
    if (state.creds) {
      Object.assign(hdrs, await SigV4.sign({ method, url, body, service, ...state.creds }));
    }
    const res = await fetch(url, { method, headers: hdrs, body: method === "GET" ? undefined : body, cache: "no-store" });
    const text = await res.text();
    if (res.status === 403 && state.info && state.info.credentials && !path.includes("/invocations")) {
      askCredentials("The access key was refused: " + errorText(text, res.headers));
    }
    return { status: res.status, headers: res.headers, text };
  }
  // errorText renders an AWS error: its type (the body's __type or the
  // X-Amzn-ErrorType header) and message.
  function errorText(text, headers) {
    let type = headers ? (headers.get("X-Amzn-ErrorType") || "").split(":")[0] : "";
    let msg = text;
    try {
      const j = JSON.parse(text);
      type = type || (j.__type || j.Type || "").split("#").pop();
      msg = j.message || j.Message || text;
      if (j.Reason) msg += " (" + j.Reason + ")";
    } catch {}
    return (type ? type + ": " : "") + msg;
  }
  async function getJSON(path) {
    const r = await call("GET", path);
    if (r.status >= 300) throw new APIError(r.status, "", errorText(r.text, r.headers));
    return JSON.parse(r.text || "{}");
  }
  async function listAll(path, field) {
    const out = [];
    let marker = "";
    for (let i = 0; i < 100; i++) {
      const sep = path.includes("?") ? "&" : "?";
      const j = await getJSON(path + sep + "MaxItems=50" + (marker ? "&Marker=" + encodeURIComponent(marker) : ""));
      out.push(...(j[field] || []));
      marker = j.NextMarker;
      if (!marker) break;
    }
    return out;
  }
  const fnPath = (name) => "/2015-03-31/functions/" + encodeURIComponent(name);

  // ---- logs, through lambdad's CloudWatch Logs API (JSON 1.1) -------------
  async function logsCall(op, input) {
    const r = await call("POST", "/", {
      body: JSON.stringify(input),
      headers: { "X-Amz-Target": "Logs_20140328." + op, "Content-Type": "application/x-amz-json-1.1" },
      service: "logs",
    });
    if (r.status >= 300) {
      let type = "";
      try { type = (JSON.parse(r.text).__type || "").split("#").pop(); } catch {}
      throw new APIError(r.status, type, errorText(r.text, r.headers).replace(/^[^:]*#/, ""));
    }
    return JSON.parse(r.text || "{}");
  }
  const fnLogGroup = (c) => (c.LoggingConfig && c.LoggingConfig.LogGroup) || "/aws/lambda/" + c.FunctionName;
  const HISTORY = 50; // events per stream shown when a view opens
  const LOOKBACK = 15 * 60 * 1000; // the longest invocation: its lines may land that late
  // logTail follows log groups: DescribeLogStreams (latest first) tells
  // which streams have new events, and GetLogEvents reads each on from its
  // forward token. Unlike polling by time, this misses no event however
  // late it lands (a long invocation's lines are stored when it ends, with
  // the times they were written) and shows none twice. groups() names the
  // groups to follow; show(events) gets each poll's new events, in time
  // order, with their group and stream.
  function logTail(page, groups, show) {
    const streams = new Map(); // group + "\0" + stream -> { token, seen, recheck }
    const opened = Date.now();
    let first = true;
    const readStream = async (group, s, out) => {
      const k = group + "\0" + s.logStreamName;
      let st = streams.get(k);
      const ingested = s.lastIngestionTime || 0;
      // One more read after a change: an append in the same millisecond
      // as the one read leaves lastIngestionTime as it was.
      if (st && ingested <= st.seen && !st.recheck) return;
      if (!st) streams.set(k, (st = { token: "", seen: 0, recheck: 0 }));
      st.recheck = ingested > st.seen ? 1 : 0;
      st.seen = ingested;
      const input = { logGroupName: group, logStreamName: s.logStreamName, startFromHead: true };
      if (st.token) input.nextToken = st.token;
      else if (first) Object.assign(input, { startFromHead: false, limit: HISTORY });
      else input.startTime = opened - LOOKBACK;
      for (let i = 0; i < 50; i++) {
        const j = await logsCall("GetLogEvents", input);
        for (const e of j.events || []) out.push({ ...e, group, stream: s.logStreamName });
        const next = j.nextForwardToken;
        if (!next || next === input.nextToken || !(j.events || []).length) {
          if (next) st.token = next;
          return;
        }
        st.token = input.nextToken = next;
        input.startFromHead = true;
        delete input.limit;
        delete input.startTime;
      }
    };
    const poll = async () => {
      const out = [];
      const names = await groups();
      // A group or stream that fails (deleted meanwhile) must not cost the
      // others' events: their tokens have moved on.
      await Promise.all(names.map(async (group) => {
        let j;
        try {
          j = await logsCall("DescribeLogStreams", { logGroupName: group, orderBy: "LastEventTime", descending: true, limit: 50 });
        } catch (e) {
          if (e.type !== "ResourceNotFoundException") console.warn(e); // not found: nothing logged yet
          return;
        }
        await Promise.all((j.logStreams || []).map((s) => readStream(group, s, out).catch((e) => console.warn(e))));
      }));
      first = false;
      out.sort((a, b) => a.timestamp - b.timestamp || (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0));
      show(out);
    };
    return poll().finally(() => every(page, 1500, poll));
  }
  // logLine renders one event: its time, its stream (and group), its message.
  // shortStream is "[$LATEST]1a2b3c4d…" for "2026/12/05/[$LATEST]1a2b…" (32 hex).
  const shortStream = (s) => {
    const m = s.match(/(\[[^\]]*\])([0-9a-f]{8})[0-9a-f]{24}$/);
    return m ? m[1] + m[2] + "…" : s;
  };
  function logLine(e, withGroup) {
    const t = new Date(e.timestamp);
    const hhmmss = t.toLocaleTimeString([], { hour12: false }) + "." + String(t.getMilliseconds()).padStart(3, "0");
    const msg = e.message.replace(/\n$/, ""); // each event is a block of its own
    return h("span", { class: "event", "data-group": e.group, "data-stream": e.stream, "data-timestamp": e.timestamp },
      h("span", { class: "ts", title: new Date(e.timestamp).toISOString() }, hhmmss), " ",
      withGroup ? h("a", { class: "group", href: "#/fn/" + encodeURIComponent(e.group.replace(/^\/aws\/lambda\//, "")) }, e.group.replace(/^\/aws\/lambda\//, "")) : "",
      withGroup ? " " : "",
      h("span", { class: "stream", title: e.stream }, shortStream(e.stream)), " ", msg);
  }
  // appendLines adds events to a live log view, keeping its last max.
  function appendLines(pre, evs, withGroup, max = 1000) {
    if (!evs.length) return;
    const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
    pre.append(...evs.map((e) => logLine(e, withGroup)));
    while (pre.childNodes.length > max) pre.firstChild.remove();
    if (stick) pre.scrollTop = pre.scrollHeight;
    pre.dataset.events = String(Number(pre.dataset.events || 0) + evs.length);
  }
  // invocationLog reads one invocation's log from the Logs API: the events
  // naming its request id tell the stream and the time span, GetLogEvents
  // the lines between its START and its REPORT. null until REPORT is stored.
  async function invocationLog(group, requestId) {
    const f = await logsCall("FilterLogEvents", { logGroupName: group, filterPattern: '"' + requestId + '"', startTime: Date.now() - LOOKBACK - 60000 });
    const mine = f.events || [];
    const report = mine.find((e) => e.message.startsWith("REPORT RequestId: " + requestId) || (e.message.includes('"platform.report"') && e.message.includes(requestId)));
    if (!report) return null;
    const from = Math.min(...mine.filter((e) => e.logStreamName === report.logStreamName).map((e) => e.timestamp));
    const g = await logsCall("GetLogEvents", { logGroupName: group, logStreamName: report.logStreamName, startTime: from, endTime: report.timestamp + 1, startFromHead: true });
    const evs = g.events || [];
    let i = evs.findIndex((e) => e.message.includes(requestId));
    const j = evs.findIndex((e) => e.message === report.message && e.timestamp === report.timestamp);
    return { stream: report.logStreamName, events: evs.slice(Math.max(i, 0), j >= 0 ? j + 1 : evs.length) };
  }

  // ---- credentials -------------------------------------------------------
  function askCredentials(message) {
    const box = $("#login");
    $("#login-error").textContent = message || "";
    box.hidden = false;
    $("#login-key").focus();
  }
  function loadCredentials() {
    try {
      const c = JSON.parse(sessionStorage.getItem("lambdad-credentials") || "null");
      if (c && c.accessKey && c.secretKey && c.region) state.creds = c;
    } catch {}
    $("#who").textContent = state.creds ? state.creds.accessKey + " · " + state.creds.region : state.info.credentials ? "" : "signatures not checked";
  }
  $("#login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!window.crypto || !crypto.subtle) {
      $("#login-error").textContent = "This browser offers no WebCrypto here: open the console over http://localhost or https.";
      return;
    }
    state.creds = { accessKey: $("#login-key").value.trim(), secretKey: $("#login-secret").value, region: $("#login-region").value.trim() };
    const r = await call("GET", API + "queue");
    if (r.status !== 200) {
      state.creds = null;
      $("#login-error").textContent = "Refused: " + errorText(r.text, r.headers);
      return;
    }
    sessionStorage.setItem("lambdad-credentials", JSON.stringify(state.creds));
    $("#login").hidden = true;
    loadCredentials();
    route();
  });

  // ---- pages -------------------------------------------------------------
  // Each page gets a number; timers of an older page stop themselves.
  function newPage() {
    return ++state.page;
  }
  function every(page, ms, fn) {
    const tick = async () => {
      if (page !== state.page) return;
      try { await fn(); } catch (e) { console.warn(e); }
      if (page === state.page) setTimeout(tick, ms);
    };
    setTimeout(tick, ms);
  }

  async function functionsPage() {
    newPage();
    const body = h("tbody");
    const table = h("table", { id: "functions" },
      h("thead", {}, h("tr", {}, h("th", {}, "Function"), h("th", {}, "Runtime"), h("th", {}, "State"), h("th", {}, "Versions"), h("th", {}, "Aliases"), h("th", {}, "Memory"), h("th", {}, "Last 10 min"), h("th", {}, "Last modified"))),
      body);
    const status = h("p", { class: "muted", id: "functions-status" }, "Loading…");
    setMain(h("h1", {}, "Functions"), h("section", { class: "card" }, status, table));
    let fns;
    try {
      fns = await listAll("/2015-03-31/functions/", "Functions");
    } catch (e) {
      return showError(status, e);
    }
    status.textContent = fns.length === 0 ? "No functions yet: create one with the AWS CLI or an SDK pointed at this lambdad." : fns.length + " function" + (fns.length === 1 ? "" : "s");
    fns.sort((a, b) => a.FunctionName.localeCompare(b.FunctionName));
    for (const f of fns) {
      const stateCell = h("td", { class: "state" }, badge(f.State));
      const versions = h("td", { class: "versions" }, "…");
      const aliases = h("td", { class: "aliases" }, "…");
      const recent = h("td", { class: "recent" }, "…");
      body.append(h("tr", { "data-function": f.FunctionName },
        h("td", {}, h("a", { href: "#/fn/" + encodeURIComponent(f.FunctionName) }, f.FunctionName)),
        h("td", { class: "runtime" }, f.Runtime || f.PackageType || "—"),
        stateCell, versions, aliases,
        h("td", {}, (f.MemorySize || "—") + " MB"),
        recent,
        h("td", {}, fmtTime(f.LastModified))));
      getJSON(API + "activity?function=" + encodeURIComponent(f.FunctionName)).then((j) => {
        let n = 0, errs = 0, thr = 0;
        for (const b of j.buckets || []) { n += b.invocations; errs += b.errors; thr += b.throttles; }
        const count = (k, one, many) => k + " " + (k === 1 ? one : many);
        recent.replaceChildren(n + thr === 0 ? "—" : count(n, "invocation", "invocations") + (errs ? ", " + count(errs, "error", "errors") : "") + (thr ? ", " + thr + " throttled" : ""));
      }).catch(() => {});
      // ListFunctions leaves State out, as AWS's does: ask each function.
      getJSON(fnPath(f.FunctionName) + "/configuration").then((c) => stateCell.replaceChildren(badge(c.State))).catch(() => {});
      listAll(fnPath(f.FunctionName) + "/versions", "Versions").then((vs) => {
        const nums = vs.map((v) => v.Version).filter((v) => v !== "$LATEST");
        versions.textContent = nums.length ? nums.join(", ") : "$LATEST only";
      }).catch(() => (versions.textContent = "?"));
      listAll(fnPath(f.FunctionName) + "/aliases", "Aliases").then((as) => {
        aliases.textContent = as.length ? as.map((a) => a.Name + " → " + a.FunctionVersion).join(", ") : "—";
      }).catch(() => (aliases.textContent = "?"));
    }
  }

  function kvTable(obj, id) {
    const rows = Object.keys(obj).sort().map((k) => {
      const v = obj[k];
      const val = v !== null && typeof v === "object" ? h("code", {}, JSON.stringify(v)) : k === "State" ? badge(v) : String(v);
      return h("tr", { "data-key": k }, h("td", { class: "k" }, k), h("td", {}, val));
    });
    return h("table", { id }, h("tbody", {}, rows));
  }

  async function functionPage(name) {
    const page = newPage();
    const title = h("h1", {}, name, " ");
    const config = h("section", { class: "card", id: "configuration" }, h("h2", {}, "Configuration"), h("p", { class: "muted" }, "Loading…"));
    const versions = h("section", { class: "card", id: "versions" }, h("h2", {}, "Versions and aliases"));
    const charts = h("div", { class: "charts", id: "charts" });
    const metrics = h("section", { class: "card", id: "metrics" }, h("h2", {}, "Metrics ", h("span", { class: "muted" }, "(last 10 minutes, 10 s buckets)")), charts);
    const logs = h("pre", { class: "logs", id: "live-logs" });
    const groupName = h("code", { id: "live-group" }, "/aws/lambda/" + name);
    const live = h("section", { class: "card", id: "live" }, h("h2", {}, "Live logs ", h("span", { class: "muted" }, "(every invocation's lines as they are stored, from the Logs API: ", groupName, ") "),
      h("button", { type: "button", class: "secondary", id: "clear-logs", onclick: () => logs.replaceChildren() }, "Clear")), logs);
    const durable = h("section", { class: "card", id: "durable", hidden: true }, h("h2", {}, "Durable executions"));
    const mappings = h("section", { class: "card", id: "function-mappings", hidden: true }, h("h2", {}, "Event source mappings"));
    const group = { name: "/aws/lambda/" + name };
    setMain(title, h("div", { class: "row" }, h("div", {}, config, versions), h("div", {}, invokeForm(name, page, group), metrics)), live, durable, mappings);

    let fn;
    try {
      fn = await getJSON(fnPath(name));
    } catch (e) {
      return showError(config, e);
    }
    const c = fn.Configuration || {};
    group.name = fnLogGroup(c);
    groupName.textContent = group.name;
    title.append(badge(c.State));
    config.replaceChildren(h("h2", {}, "Configuration"), kvTable(c, "config-table"));
    if (fn.Tags) config.append(h("h2", {}, "Tags"), kvTable(fn.Tags, "tags-table"));
    if (fn.Concurrency) config.append(h("p", {}, "Reserved concurrency: " + fn.Concurrency.ReservedConcurrentExecutions));

    Promise.all([listAll(fnPath(name) + "/versions", "Versions"), listAll(fnPath(name) + "/aliases", "Aliases")]).then(([vs, as]) => {
      versions.append(
        h("table", { id: "versions-table" }, h("thead", {}, h("tr", {}, h("th", {}, "Version"), h("th", {}, "Description"), h("th", {}, "State"), h("th", {}, "Last modified"))),
          h("tbody", {}, vs.map((v) => {
            // ListVersionsByFunction leaves State out, as AWS's does.
            const st = h("td", { class: "state" }, badge(v.State));
            getJSON(fnPath(name) + "/configuration?Qualifier=" + encodeURIComponent(v.Version)).then((c) => st.replaceChildren(badge(c.State))).catch(() => {});
            return h("tr", { "data-version": v.Version }, h("td", {}, v.Version), h("td", {}, v.Description || ""), st, h("td", {}, fmtTime(v.LastModified)));
          }))),
        as.length
          ? h("table", { id: "aliases-table" }, h("thead", {}, h("tr", {}, h("th", {}, "Alias"), h("th", {}, "Version"), h("th", {}, "Routing"))),
              h("tbody", {}, as.map((a) => h("tr", { "data-alias": a.Name }, h("td", {}, a.Name), h("td", {}, a.FunctionVersion), h("td", {}, a.RoutingConfig ? JSON.stringify(a.RoutingConfig.AdditionalVersionWeights || {}) : "")))))
          : h("p", { class: "muted" }, "No aliases."));
    }).catch((e) => versions.append(h("p", { class: "error" }, String(e.message))));

    const refreshMetrics = async () => drawCharts(charts, await getJSON(API + "activity?function=" + encodeURIComponent(name)));
    state.refresh = refreshMetrics;
    refreshMetrics().catch((e) => showError(charts, e));
    every(page, 4000, refreshMetrics);
    logTail(page, async () => [group.name], (evs) => appendLines(logs, evs, false))
      .then(() => (logs.dataset.ready = "1"))
      .catch((e) => logs.append(h("span", { class: "error" }, String(e.message || e) + "\n")));

    // The API lists one version's executions ($LATEST's without a
    // Qualifier): ask each version's, newest first.
    listAll(fnPath(name) + "/versions", "Versions").then((vs) => Promise.all(vs.map((v) =>
      getJSON("/2025-12-01/functions/" + encodeURIComponent(name) + "/durable-executions?Qualifier=" + encodeURIComponent(v.Version))
        .then((j) => (j.DurableExecutions || []).map((x) => Object.assign({ Version: v.Version }, x)))
        .catch(() => []))))
      .then((lists) => {
        const at = (t) => (typeof t === "number" ? t : Date.parse(t) / 1000 || 0);
        const xs = lists.flat().sort((a, b) => at(b.StartTimestamp) - at(a.StartTimestamp));
        if (!xs.length && !c.DurableConfig) return;
        durable.hidden = false;
        durable.append(xs.length
          ? h("table", { id: "durable-table" }, h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Version"), h("th", {}, "Status"), h("th", {}, "Started"), h("th", {}, "Ended"))),
              h("tbody", {}, xs.map((x) => h("tr", {}, h("td", { title: x.DurableExecutionArn }, x.DurableExecutionName), h("td", {}, x.Version), h("td", {}, badge(x.Status)), h("td", {}, fmtTime(x.StartTimestamp)), h("td", {}, fmtTime(x.EndTimestamp))))))
          : h("p", { class: "muted" }, "No executions yet."));
      }).catch(() => {});
    getJSON("/2015-03-31/event-source-mappings/?FunctionName=" + encodeURIComponent(name)).then((j) => {
      const ms = j.EventSourceMappings || [];
      if (!ms.length) return;
      mappings.hidden = false;
      mappings.append(mappingsTable(ms));
    }).catch(() => {});
  }

  function invokeForm(name, page, group) {
    const payload = h("textarea", { id: "payload", spellcheck: "false" }, '{\n  "key": "value"\n}');
    const type = h("select", { id: "invocation-type" }, h("option", {}, "RequestResponse"), h("option", {}, "Event"), h("option", {}, "DryRun"));
    const qualifier = h("input", { id: "qualifier", placeholder: "$LATEST", size: 10 });
    const status = h("p", { id: "invoke-status", class: "muted" });
    const response = h("pre", { id: "invoke-response", hidden: true });
    const tail = h("pre", { id: "invoke-log", hidden: true });
    const button = h("button", { id: "invoke", type: "submit" }, "Invoke");
    const fmt = h("button", { type: "button", class: "secondary", onclick: () => {
      try { payload.value = JSON.stringify(JSON.parse(payload.value), null, 2); } catch (e) { status.textContent = "Not JSON: " + e.message; }
    } }, "Format");
    const form = h("form", { id: "invoke-form" },
      h("h2", {}, "Invoke"),
      payload,
      h("div", { class: "inline" }, h("label", {}, "Type ", type), h("label", {}, "Qualifier ", qualifier), button, " ", fmt),
      status, h("div", { id: "response-block" }, response), h("div", { id: "log-block" }, tail));
    payload.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        form.requestSubmit();
      }
    });
    payload.title = "Ctrl+Enter invokes";
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try { JSON.parse(payload.value || "{}"); } catch (e) {
        status.className = "status-bad";
        status.textContent = "The payload is not JSON: " + e.message;
        return;
      }
      button.disabled = true;
      status.className = "muted";
      status.textContent = "Invoking…";
      const q = qualifier.value.trim();
      const headers = { "X-Amz-Invocation-Type": type.value, "Content-Type": "application/json" };
      if (type.value === "RequestResponse") headers["X-Amz-Log-Type"] = "Tail";
      const started = performance.now();
      try {
        const r = await call("POST", fnPath(name) + "/invocations" + (q ? "?Qualifier=" + encodeURIComponent(q) : ""), { body: payload.value, headers });
        const ms = Math.round(performance.now() - started);
        const fnErr = r.headers.get("X-Amz-Function-Error");
        const ver = r.headers.get("X-Amz-Executed-Version");
        status.className = r.status < 300 && !fnErr ? "status-ok" : "status-bad";
        status.textContent = "HTTP " + r.status + (ver ? " · version " + ver : "") + (fnErr ? " · function error: " + fnErr : "") + " · " + ms + " ms round trip";
        status.dataset.status = String(r.status);
        let shown = r.text;
        try { shown = JSON.stringify(JSON.parse(r.text), null, 2); } catch {}
        response.hidden = false;
        response.textContent = r.status < 300 ? shown : errorText(r.text, r.headers);
        const logResult = r.headers.get("X-Amz-Log-Result");
        tail.hidden = !logResult;
        tail.textContent = logResult ? new TextDecoder().decode(Uint8Array.from(atob(logResult), (ch) => ch.charCodeAt(0))) : "";
        const rid = r.headers.get("X-Amzn-RequestId");
        if (r.status === 202 && rid) followEvent(rid);
      } catch (e) {
        status.className = "status-bad";
        status.textContent = String(e.message || e);
      } finally {
        button.disabled = false;
      }
      if (page === state.page && state.refresh) state.refresh().catch(() => {});
    });
    // An Event invocation's log is read from the Logs API once it ran.
    async function followEvent(rid) {
      tail.hidden = false;
      tail.dataset.requestId = rid;
      tail.textContent = "Queued as " + rid + ": its log shows here once it has run.";
      for (let i = 0; i < 120 && page === state.page && tail.dataset.requestId === rid; i++) {
        await new Promise((res) => setTimeout(res, 1000));
        let got = null;
        try { got = await invocationLog(group.name, rid); } catch (e) { console.warn(e); }
        if (got && tail.dataset.requestId === rid) {
          tail.replaceChildren(...got.events.map((e) => logLine({ ...e, group: group.name, stream: got.stream }, false)));
          tail.dataset.stream = got.stream;
          return;
        }
      }
    }
    return h("section", { class: "card", id: "invoke-card" }, form);
  }

  // drawCharts draws the activity's last ten minutes as small SVG charts.
  function drawCharts(root, j) {
    const step = (j.bucketSeconds || 10) * 1000;
    const slots = 60;
    const end = Math.floor(Date.now() / step) * step;
    const start = end - (slots - 1) * step;
    const series = { invocations: [], errors: [], throttles: [], coldStarts: [], p50Ms: [], p99Ms: [] };
    for (const k in series) series[k] = new Array(slots).fill(0);
    for (const b of j.buckets || []) {
      const i = Math.round((new Date(b.start).getTime() - start) / step);
      if (i < 0 || i >= slots) continue;
      for (const k in series) series[k][i] += b[k] || 0;
    }
    const W = 240, H = 64, bw = W / slots;
    const bars = (metric, label) => {
      const vals = series[metric];
      const max = Math.max(1, ...vals);
      const total = vals.reduce((a, b) => a + b, 0);
      const svg = s("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label });
      svg.append(s("line", { class: "axis", x1: 0, y1: H - 0.5, x2: W, y2: H - 0.5 }));
      vals.forEach((v, i) => {
        if (!v) return;
        const bh = Math.max(2, (v / max) * (H - 4));
        const r = s("rect", { class: "bar", x: (i * bw + 0.5).toFixed(1), y: (H - bh).toFixed(1), width: Math.max(1, bw - 1).toFixed(1), height: bh.toFixed(1) });
        const t = s("title");
        t.textContent = new Date(start + i * step).toLocaleTimeString() + ": " + v;
        r.append(t);
        svg.append(r);
      });
      return h("div", { class: "chart", "data-metric": metric, "data-total": total }, h("h3", {}, label, h("b", {}, String(total))), svg);
    };
    const duration = () => {
      const p50 = series.p50Ms, p99 = series.p99Ms;
      const max = Math.max(1, ...p99, ...p50);
      const svg = s("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Duration p50 and p99" });
      svg.append(s("line", { class: "axis", x1: 0, y1: H - 0.5, x2: W, y2: H - 0.5 }));
      const line = (vals, cls) => {
        const pts = [];
        vals.forEach((v, i) => { if (series.invocations[i]) pts.push(((i + 0.5) * bw).toFixed(1) + "," + (H - 2 - (v / max) * (H - 6)).toFixed(1)); });
        if (pts.length) svg.append(s("polyline", { class: cls, points: pts.join(" ") }));
        // Dots too: one bucket alone makes no line.
        for (const p of pts) {
          const [x, y] = p.split(",");
          svg.append(s("circle", { class: cls + " dot", cx: x, cy: y, r: 2 }));
        }
      };
      line(p50, "p50");
      line(p99, "p99");
      const last = series.invocations.map((n, i) => (n ? i : -1)).filter((i) => i >= 0).pop();
      const text = last === undefined ? "—" : "p50 " + p50[last].toFixed(1) + " ms · p99 " + p99[last].toFixed(1) + " ms";
      return h("div", { class: "chart", "data-metric": "duration", "data-total": last === undefined ? 0 : p99[last] }, h("h3", {}, "Duration", h("b", {}, text)), svg);
    };
    root.replaceChildren(bars("invocations", "Invocations"), bars("errors", "Errors"), bars("throttles", "Throttles"), bars("coldStarts", "Cold starts"), duration());
  }

  function mappingsTable(ms) {
    return h("table", { id: "mappings-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "UUID"), h("th", {}, "Source"), h("th", {}, "Function"), h("th", {}, "State"), h("th", {}, "Batch size"), h("th", {}, "Last result"))),
      h("tbody", {}, ms.map((m) => h("tr", { "data-uuid": m.UUID },
        h("td", {}, h("code", {}, m.UUID)), h("td", {}, m.EventSourceArn || JSON.stringify(m.SelfManagedEventSource || "")), h("td", {}, (m.FunctionArn || "").split(":function:").pop()),
        h("td", {}, badge(m.State)), h("td", {}, m.BatchSize || ""), h("td", {}, m.LastProcessingResult || "")))));
  }

  async function mappingsPage() {
    newPage();
    const card = h("section", { class: "card" }, h("p", { class: "muted" }, "Loading…"));
    setMain(h("h1", {}, "Event source mappings"), card);
    try {
      const ms = await listAll("/2015-03-31/event-source-mappings/", "EventSourceMappings");
      card.replaceChildren(ms.length ? mappingsTable(ms) : h("p", { class: "muted" }, "No event source mappings."));
    } catch (e) {
      showError(card, e);
    }
  }

  async function queuePage() {
    const page = newPage();
    const card = h("section", { class: "card", id: "queue" }, h("p", { class: "muted" }, "Loading…"));
    setMain(h("h1", {}, "Event queue"), h("p", { class: "muted" }, "Event (asynchronous) invocations accepted and not yet finished, soonest due first; refreshed every 3 s."), card);
    const refresh = async () => {
      const j = await getJSON(API + "queue");
      const evs = j.events || [];
      card.replaceChildren(evs.length
        ? h("table", { id: "queue-table" },
            h("thead", {}, h("tr", {}, h("th", {}, "Function"), h("th", {}, "Request id"), h("th", {}, "Attempts"), h("th", {}, "Enqueued"), h("th", {}, "Due"), h("th", {}, "State"), h("th", {}, "Payload"))),
            h("tbody", {}, evs.map((e) => h("tr", { "data-id": e.id },
              h("td", {}, h("a", { href: "#/fn/" + encodeURIComponent(e.function) }, e.function + (e.qualifier ? ":" + e.qualifier : ""))),
              h("td", {}, h("code", {}, e.id)), h("td", {}, e.attempts + (e.throttles ? " (+" + e.throttles + " throttled)" : "")),
              h("td", {}, fmtTime(e.enqueued)), h("td", {}, fmtTime(e.notBefore)), h("td", {}, e.running ? "running" : "waiting"), h("td", {}, e.payloadBytes + " B")))))
        : h("p", { class: "muted", id: "queue-empty" }, "The queue is empty."));
    };
    try { await refresh(); } catch (e) { showError(card, e); }
    every(page, 3000, refresh);
  }

  // Live logs of every function: every log group, followed as on a
  // function's page.
  const MAX_GROUPS = 50;
  async function logsPage() {
    const page = newPage();
    const logs = h("pre", { class: "logs all", id: "all-logs" });
    const status = h("p", { class: "muted", id: "all-logs-status" }, "Reading log groups…");
    setMain(h("h1", {}, "Live logs"), h("p", { class: "muted" }, "Every function's log lines as they are stored, read through this lambdad's CloudWatch Logs API (as ", h("code", {}, "aws logs"), " reads them); they survive restarts."),
      h("section", { class: "card", id: "all-live" }, status, logs));
    const groups = async () => {
      const names = [];
      let token;
      do {
        const j = await logsCall("DescribeLogGroups", token ? { nextToken: token } : {});
        for (const g of j.logGroups || []) names.push(g.logGroupName);
        token = j.nextToken;
      } while (token && names.length < MAX_GROUPS);
      status.textContent = names.length ? "Following " + names.length + " log group" + (names.length === 1 ? "" : "s") + (names.length >= MAX_GROUPS ? " (the first " + MAX_GROUPS + ")" : "") + "." : "No logs yet: invoke a function.";
      return names.slice(0, MAX_GROUPS);
    };
    try {
      await logTail(page, groups, (evs) => appendLines(logs, evs, true));
      logs.dataset.ready = "1";
    } catch (e) {
      showError(status, e);
    }
  }

  function route() {
    const hash = location.hash || "#/";
    let m;
    if ((m = hash.match(/^#\/fn\/(.+)$/))) return functionPage(decodeURIComponent(m[1]));
    if (hash === "#/queue") return queuePage();
    if (hash === "#/logs") return logsPage();
    if (hash === "#/mappings") return mappingsPage();
    return functionsPage();
  }

  async function start() {
    try {
      state.info = await (await fetch(API + "info", { cache: "no-store" })).json();
    } catch (e) {
      return setMain(h("p", { class: "error" }, "lambdad does not answer: " + e));
    }
    $("#login-region").value = state.info.region || "us-east-1";
    loadCredentials();
    window.addEventListener("hashchange", route);
    if (state.info.credentials && !state.creds) {
      setMain(h("p", { class: "muted" }, "Sign in to see this lambdad's functions."));
      return askCredentials("");
    }
    route();
  }
  start();
})();
