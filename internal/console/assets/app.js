// lambdad's web console: a small single-page app over lambdad's own Lambda
// API and its /_lambdad/console/api/ endpoints. No framework, nothing
// loaded from elsewhere.
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
  async function call(method, path, { body = "", headers = {} } = {}) {
    const url = new URL(path, location.origin);
    const hdrs = { ...headers };
    if (state.creds) {
      Object.assign(hdrs, await SigV4.sign({ method, url, body, ...state.creds }));
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
    const live = h("section", { class: "card", id: "live" }, h("h2", {}, "Live logs ", h("span", { class: "muted" }, "(every invocation's output, as it ends) "),
      h("button", { type: "button", class: "secondary", id: "clear-logs", onclick: () => logs.replaceChildren() }, "Clear")), logs);
    const durable = h("section", { class: "card", id: "durable", hidden: true }, h("h2", {}, "Durable executions"));
    const mappings = h("section", { class: "card", id: "function-mappings", hidden: true }, h("h2", {}, "Event source mappings"));
    setMain(title, h("div", { class: "row" }, h("div", {}, config, versions), h("div", {}, invokeForm(name, page), metrics)), live, durable, mappings);

    let fn;
    try {
      fn = await getJSON(fnPath(name));
    } catch (e) {
      return showError(config, e);
    }
    const c = fn.Configuration || {};
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
    let seq = 0;
    const refreshLogs = async () => {
      const j = await getJSON(API + "logs?function=" + encodeURIComponent(name) + "&after=" + seq);
      for (const r of j.records) {
        seq = Math.max(seq, r.seq);
        logs.append(h("span", { class: "muted" }, "— " + fmtTime(r.time) + " · " + r.version + (r.error ? " · " + r.error : "") + "\n"), r.log.endsWith("\n") ? r.log : r.log + "\n");
      }
      while (logs.childNodes.length > 600) logs.firstChild.remove();
      if (j.records.length) logs.scrollTop = logs.scrollHeight;
      if (!logs.childNodes.length) logs.textContent = "";
      logs.dataset.records = String(seq);
    };
    state.refresh = async () => { await refreshMetrics(); await refreshLogs(); };
    refreshMetrics().catch((e) => showError(charts, e));
    refreshLogs().catch(() => {});
    every(page, 4000, refreshMetrics);
    every(page, 2000, refreshLogs);

    getJSON("/2025-12-01/functions/" + encodeURIComponent(name) + "/durable-executions").then((j) => {
      const xs = j.DurableExecutions || [];
      if (!xs.length && !c.DurableConfig) return;
      durable.hidden = false;
      durable.append(xs.length
        ? h("table", { id: "durable-table" }, h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Status"), h("th", {}, "Started"), h("th", {}, "Ended"))),
            h("tbody", {}, xs.map((x) => h("tr", {}, h("td", { title: x.DurableExecutionArn }, x.DurableExecutionName), h("td", {}, badge(x.Status)), h("td", {}, fmtTime(x.StartTimestamp)), h("td", {}, fmtTime(x.EndTimestamp))))))
        : h("p", { class: "muted" }, "No executions yet."));
    }).catch(() => {});
    getJSON("/2015-03-31/event-source-mappings/?FunctionName=" + encodeURIComponent(name)).then((j) => {
      const ms = j.EventSourceMappings || [];
      if (!ms.length) return;
      mappings.hidden = false;
      mappings.append(mappingsTable(ms));
    }).catch(() => {});
  }

  function invokeForm(name, page) {
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
      } catch (e) {
        status.className = "status-bad";
        status.textContent = String(e.message || e);
      } finally {
        button.disabled = false;
      }
      if (page === state.page && state.refresh) state.refresh().catch(() => {});
    });
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

  function route() {
    const hash = location.hash || "#/";
    let m;
    if ((m = hash.match(/^#\/fn\/(.+)$/))) return functionPage(decodeURIComponent(m[1]));
    if (hash === "#/queue") return queuePage();
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
