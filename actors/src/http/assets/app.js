// ballast dashboard: renders the /status document, live from /status/stream (server-sent
// events), and sends the operator's control commands. Everything it fetches is on this server.
"use strict";

const SERVICES = ["casino", "trading", "wallet", "domains", "escrow", "reserve"];
const COLORS = {
  casino: "#d53f8c", trading: "#2b6cb0", wallet: "#38a169",
  domains: "#dd6b20", escrow: "#805ad5", reserve: "#718096",
};
const SVG_NS = "http://www.w3.org/2000/svg";

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const num = (text) => Number(text);
const pct = (w, digits = 1) => (num(w) * 100).toFixed(digits) + "%";
const usd = (x) => "$" + num(x).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const signedPct = (w) => (num(w) >= 0 ? "+" : "") + pct(w, 2);
const shortTime = (t) => (t ? String(t).replace("T", " ").slice(0, 16) : "");

function badge(node, text, kind) {
  node.textContent = text;
  node.className = "badge " + (kind || "");
}

function renderHeader(s) {
  $("run").textContent = `run ${s.run.run_id} on ${s.run.venue}${s.run.dry_run ? " (dry run)" : ""}`;
  const c = s.connection;
  badge($("connection"), `stream ${c.state}`, c.state === "connected" ? "ok" : "warn");
  badge($("gate"), `gate ${s.gate}`, s.gate === "open" ? "ok" : "warn");
  const mode = s.control.mode;
  badge($("mode"), mode, mode === "running" ? "ok" : mode === "paused" ? "warn" : "bad");
  $("mode-text").textContent = mode;
  const last = s.control.last_action;
  $("mode-since").textContent = last
    ? ` — ${last.command} by ${last.by} at ${shortTime(last.at)}${last.reason ? ": " + last.reason : ""}`
    : "";
}

function bar(line) {
  const scale = (w) => Math.max(0, Math.min(100, num(w) * 100 / 0.6));
  const box = el("div", { class: "bar" });
  const band = el("div", { class: "band" });
  const lo = scale(num(line.target) - num(line.band));
  const hi = scale(num(line.target) + num(line.band));
  band.style.left = lo + "%";
  band.style.width = Math.max(0, hi - lo) + "%";
  const target = el("div", { class: "target" });
  target.style.left = scale(line.target) + "%";
  const weight = el("div", { class: "weight" });
  weight.style.width = scale(line.weight) + "%";
  box.append(band, weight, target);
  return box;
}

function renderAllocation(s) {
  const body = $("allocation").querySelector("tbody");
  body.replaceChildren();
  const a = s.allocation;
  if (!a) {
    $("total").textContent = "";
    $("allocation-at").textContent = "no balances yet";
    return;
  }
  $("total").textContent = usd(a.total_usdc);
  $("total").setAttribute("data-total-usdc", a.total_usdc);
  $("allocation-at").textContent =
    `at ${shortTime(a.at)}${a.seq != null ? ", event #" + a.seq : ""} — largest drift ${pct(a.max_abs_drift, 2)}`;
  for (const line of a.services) {
    body.append(el("tr", {
      class: line.outside_band ? "outside" : "",
      "data-service": line.service,
      "data-weight": line.weight,
      "data-target": line.target,
    },
      el("td", {}, line.service),
      el("td", { class: "num" }, usd(line.balance_usdc)),
      el("td", { class: "num weight" }, pct(line.weight)),
      el("td", { class: "num" }, pct(line.target)),
      el("td", { class: "num" }, signedPct(line.drift)),
      el("td", {}, bar(line)),
    ));
  }
  const t = s.targets;
  $("targets-source").textContent =
    `targets: ${t.method} (${t.reason}${t.at ? ", " + shortTime(t.at) : ""}) — ${t.diagnostics}`;
}

function renderEvents(s) {
  const list = $("events");
  list.replaceChildren();
  for (const e of [...s.recent_events].reverse()) {
    list.append(el("li", { "data-type": e.type }, `${shortTime(e.at)}  #${e.seq}  ${e.detail}`));
  }
  if (!s.recent_events.length) list.append(el("li", { class: "muted" }, "no event yet"));
}

function renderPlans(s) {
  const box = $("plans");
  box.replaceChildren();
  const items = [...s.recent_plans].reverse();
  for (const p of items) {
    const legs = el("div", { class: "legs" });
    for (const leg of p.legs) {
      const why = leg.reason ? ` — ${leg.reason}` : "";
      legs.append(el("div", { class: "status-" + leg.status },
        `${leg.direction} ${leg.service} ${usd(leg.amount_usdc)} ${leg.status}${leg.transfer_id ? " (" + leg.transfer_id + ")" : ""}${why}`));
    }
    const refused = p.refused_by.length ? ` refused by ${p.refused_by.join(", ")}` : "";
    box.append(el("div", { class: "plan", "data-trigger": p.trigger },
      el("div", {}, el("strong", {}, `[${p.trigger}] `), p.reason),
      el("div", { class: "muted" },
        `${p.plan_id} · ${shortTime(p.at)} · ${usd(p.moved_usdc)} · max drift ${pct(p.max_drift, 2)} · ${p.status}${refused}`),
      legs));
  }
  for (const c of [...s.recent_control].reverse()) {
    box.prepend(el("div", { class: "plan" },
      el("div", {}, el("strong", {}, `[operator ${c.command}] `), c.reason || "(no reason given)"),
      el("div", { class: "muted" }, `${c.by} · ${shortTime(c.at)} · ${c.previous} → ${c.mode}`)));
  }
  if (!box.children.length) box.append(el("p", { class: "muted" }, "no plan yet"));
}

function renderWarnings(s) {
  const list = $("warnings");
  list.replaceChildren();
  for (const w of [...s.warnings].reverse()) {
    list.append(el("li", { "data-kind": w.kind }, `${shortTime(w.at)} [${w.kind}] ${w.message}`));
  }
  if (!s.warnings.length) list.append(el("li", { class: "muted" }, "none"));
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

function lineChart(box, series, { min, max, label }) {
  const W = 800, H = 160, P = 30;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none" });
  const points = series[0] ? series[0].values.length : 0;
  const x = (i) => P + (points <= 1 ? 0 : (i * (W - 2 * P)) / (points - 1));
  const y = (v) => H - P / 2 - ((v - min) / (max - min || 1)) * (H - P);
  root.append(svg("line", { x1: P, y1: y(min), x2: W - P, y2: y(min), stroke: "#ccc" }));
  const top = svg("text", { x: 2, y: y(max) + 4, "font-size": 10, fill: "#6b7280" });
  top.textContent = label(max);
  const bottom = svg("text", { x: 2, y: y(min), "font-size": 10, fill: "#6b7280" });
  bottom.textContent = label(min);
  root.append(top, bottom);
  for (const s of series) {
    if (s.dashed !== undefined) {
      root.append(svg("line", { x1: P, x2: W - P, y1: y(s.dashed), y2: y(s.dashed), stroke: s.color, "stroke-dasharray": "4 4", "stroke-width": 1 }));
    }
    if (!s.values.length) continue;
    const d = s.values.map((v, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    root.append(svg("path", { d, fill: "none", stroke: s.color, "stroke-width": 1.6 }));
  }
  box.replaceChildren(root);
}

function renderHistory(s) {
  const h = s.history;
  const values = h.map((p) => num(p.total_usdc));
  const lo = values.length ? Math.min(...values) : 0;
  const hi = values.length ? Math.max(...values) : 1;
  lineChart($("chart-value"), [{ values, color: "#1d2430" }],
    { min: lo * 0.98, max: hi * 1.02 || 1, label: (v) => usd(v) });
  const targets = s.allocation ? Object.fromEntries(s.allocation.services.map((l) => [l.service, num(l.target)])) : {};
  const series = SERVICES.map((name) => ({
    values: h.map((p) => num(p.weights[name])),
    color: COLORS[name],
    dashed: targets[name],
  }));
  const top = Math.max(0.4, ...series.flatMap((x) => x.values));
  lineChart($("chart-weights"), series, { min: 0, max: top, label: (v) => pct(v, 0) });
  const legend = $("legend");
  legend.replaceChildren();
  for (const name of SERVICES) {
    const item = el("span", {}, `${name} (dashed: target)`);
    item.style.setProperty("--c", COLORS[name]);
    legend.append(item);
  }
}

function renderMetrics(s) {
  const m = s.metrics;
  const rows = [
    ["events seen", m.events_seen],
    ["rebalances", `${m.rebalances} ${JSON.stringify(m.rebalances_by_trigger)}`],
    ["legs", `${m.legs_applied} applied, ${m.legs_failed} failed, ${m.leg_retries} retries`],
    ["turnover", usd(m.turnover_usdc)],
    ["daily ticks", m.ticks],
    ["stream", `${s.connection.connections} connections, ${s.connection.disconnects} drops`],
    ["last event", "#" + s.last_event_seq],
    ["event→order", s.counters.event_to_order_seconds.count
      ? `${(1000 * s.counters.event_to_order_seconds.sum_secs / s.counters.event_to_order_seconds.count).toFixed(1)} ms mean over ${s.counters.event_to_order_seconds.count}`
      : "no order yet"],
  ];
  const dl = $("metrics");
  dl.replaceChildren();
  for (const [k, v] of rows) dl.append(el("dt", {}, k), el("dd", {}, v));
}

function render(s) {
  renderHeader(s);
  renderAllocation(s);
  renderEvents(s);
  renderPlans(s);
  renderWarnings(s);
  renderHistory(s);
  renderMetrics(s);
  document.body.setAttribute("data-updated", String(Date.now()));
}

async function refresh() {
  const response = await fetch("/status", { cache: "no-store" });
  if (response.ok) render(await response.json());
}

function listen() {
  const source = new EventSource("/status/stream");
  source.addEventListener("status", (event) => {
    $("feed").textContent = "live";
    render(JSON.parse(event.data));
  });
  source.onerror = () => { $("feed").textContent = "live feed lost; retrying…"; };
}

async function control(command) {
  const token = $("token").value.trim();
  if (token) sessionStorage.setItem("ballast-token", token);
  const result = $("control-result");
  if (command === "halt" && !window.confirm("Halt: no order is sent until resumed (also after a restart). Halt now?")) return;
  const response = await fetch(`/control/${command}`, {
    method: "POST",
    headers: { "Authorization": `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ reason: $("reason").value, by: "dashboard" }),
  });
  const body = await response.json().catch(() => ({}));
  result.textContent = response.ok
    ? `${command}: trading is ${body.mode} — ${body.note}`
    : `${command} refused (${response.status}): ${body.message || ""}`;
  refresh();
}

for (const button of document.querySelectorAll("button[data-command]")) {
  button.addEventListener("click", () => control(button.dataset.command));
}
$("token").value = sessionStorage.getItem("ballast-token") || "";
refresh().finally(listen);
