// harombe dashboard: reads this peer's /dashboard/events (Server-Sent Events over fetch, so an
// API key can travel in the Authorization header) and redraws. Every name shown comes from
// gossip: it is set as text (textContent), never as HTML.
"use strict";

const KEY_STORE = "harombe-api-key";
const RETRY_MS = 1000;
const CLUSTER_STATS_MS = 3000;
let latest = null;
let clusterStats = null; // /cluster/stats?cluster=1, while "every peer" is chosen

function takeKeyFromAddress() {
  // ?key=K once: kept for this tab only, and removed from the address bar and history.
  const url = new URL(window.location.href);
  const key = url.searchParams.get("key");
  if (key) {
    sessionStorage.setItem(KEY_STORE, key);
    url.searchParams.delete("key");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

const GIB = 1024 ** 3;
const gib = (n) => (n == null ? "?" : (n / GIB).toFixed(1));
const pct = (r) => (r == null ? "?" : `${Math.round(r * 100)}%`);
const secs = (s) => (s == null ? "–" : s < 1 ? `${Math.round(s * 1000)} ms` : `${s.toFixed(2)} s`);

function meter(ratio) {
  const box = el("span", { class: "meter" });
  box.append(el("span", { style: `width:${Math.min(100, Math.max(0, (ratio || 0) * 100))}%` }));
  return box;
}

function utilisationRows(node) {
  const u = node.utilisation;
  if (!u) return [["CPU / RAM", el("span", { class: "unknown", text: "unknown" })]];
  const rows = [
    ["CPU", el("span", {}, meter(u.cpu), pct(u.cpu))],
    ["RAM", `${gib(u.ram_used_bytes)} / ${gib(u.ram_total_bytes)} GiB`],
  ];
  for (const g of u.gpus) {
    const vram = `${gib(g.vram_used_bytes)} / ${gib(g.vram_total_bytes)} GiB`;
    rows.push([`GPU ${g.index}`, el("span", {}, meter(g.util), `${pct(g.util)} · ${vram}`)]);
  }
  const age = node.utilisation_age_s;
  rows.push(["sampled", age == null ? "?" : `${Math.round(age)} s ago`]);
  return rows;
}

function nodeCard(node) {
  const tps = Object.values(node.tps || {});
  const loaded = new Set(node.loaded || []);
  const models = (node.models || []).map((m) => (loaded.has(m) ? `${m} (loaded)` : m));
  const rows = [
    ["tier", String(node.tier ?? "?")],
    ["models", models.join(", ") || (node.backend_ok ? "–" : "no backend")],
    ["load", el("span", {}, meter(node.capacity ? node.active / node.capacity : 0),
      `${node.active}/${node.capacity}${node.queue ? ` +${node.queue} queued` : ""}`)],
    ["tokens/s", tps.length ? Math.max(...tps).toFixed(0) : "–"],
    ...utilisationRows(node),
    ["breaker", node.breaker || "closed"],
  ];
  const dl = el("dl");
  for (const [term, value] of rows) dl.append(el("dt", { text: term }), el("dd", {}, value));
  const title = el("div", { class: "title" },
    el("span", { class: "name", text: node.name + (node.self ? " (this peer)" : "") }),
    el("span", { class: "state", text: node.state }));
  return el("div", { class: "card", "data-node": node.name, "data-state": node.state }, title, dl);
}

function drawBars(target, counts) {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  const max = Math.max(1, ...entries.map(([, n]) => n));
  const rowH = 20;
  target.replaceChildren();
  target.setAttribute("height", String(Math.max(rowH, entries.length * rowH)));
  entries.forEach(([label, n], i) => {
    const y = i * rowH;
    const text = svg("text", { x: 0, y: y + 14 });
    text.textContent = label;
    const bar = svg("rect", { x: 90, y: y + 3, height: 14, width: Math.max(1, (n / max) * 200) });
    const count = svg("text", { x: 96 + (n / max) * 200, y: y + 14, "data-count": label });
    count.textContent = String(n);
    target.append(text, bar, count);
  });
}

function drawSummary(w) {
  const rows = [
    ["requests", w.requests],
    ["errors", `${w.errors} (${(w.error_rate * 100).toFixed(1)}%)`],
    ["with fallback", `${w.fallbacks} (${(w.fallback_rate * 100).toFixed(1)}%)`],
    ["latency p50 / p90 / p99", [w.latency_s.p50, w.latency_s.p90, w.latency_s.p99].map(secs).join(" / ")],
    ["first token p50", secs(w.ttft_s.p50)],
    ["tokens in / out", `${w.tokens_in} / ${w.tokens_out}`],
  ];
  const dl = document.getElementById("summary");
  dl.replaceChildren();
  for (const [term, value] of rows) dl.append(el("dt", { text: term }), el("dd", { text: String(value) }));
}

function drawRecent(recent) {
  const body = document.getElementById("recent");
  body.replaceChildren();
  for (const r of recent) {
    const tier = r.tier == null ? "–" :
      r.classified_tier != null && r.classified_tier !== r.tier ? `${r.classified_tier}→${r.tier}` : String(r.tier);
    const cells = [
      new Date(r.at * 1000).toLocaleTimeString(), r.api, r.node || "–", tier, r.outcome,
      secs(r.ttft_s), secs(r.duration_s), `${r.tokens_in}/${r.tokens_out}`, (r.fallbacks || []).join(", ") || "–",
    ];
    const row = el("tr", { class: "request" });
    cells.forEach((value, i) => row.append(el("td", i === 4 ? { class: `outcome-${value}`, text: value } : { text: value })));
    body.append(row);
  }
}

function draw(data) {
  latest = data;
  document.getElementById("seen-from").textContent = `cluster seen from ${data.node}`;
  const nodes = [...data.nodes].sort((a, b) => (a.tier ?? 0) - (b.tier ?? 0) || a.name.localeCompare(b.name));
  document.getElementById("nodes").replaceChildren(...nodes.map(nodeCard));
  const scope = document.getElementById("scope").value;
  const stats = scope === "cluster" && clusterStats ? clusterStats : data.stats;
  const w = stats.windows[document.getElementById("window").value];
  drawSummary(w);
  drawBars(document.getElementById("by-node"), w.by_node);
  const tiers = Object.fromEntries(Object.entries(w.by_tier).map(([t, n]) => [t === "none" ? "none" : `tier ${t}`, n]));
  drawBars(document.getElementById("by-tier"), tiers);
  drawRecent(data.stats.recent || []);
}

function setLink(state, text) {
  const link = document.getElementById("link");
  link.dataset.state = state;
  link.textContent = text;
}

function authHeaders() {
  const key = sessionStorage.getItem(KEY_STORE);
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function refreshClusterStats() {
  // Every peer's statistics added up; the event stream carries only this peer's.
  if (document.getElementById("scope").value !== "cluster") return;
  try {
    const response = await fetch("/cluster/stats?cluster=1", { headers: authHeaders(), cache: "no-store" });
    if (response.ok) {
      clusterStats = await response.json();
      if (latest) draw(latest);
    }
  } catch (err) {
    // the next tick tries again; the event stream shows the link's state
  }
}

async function follow() {
  const headers = authHeaders();
  const response = await fetch("/dashboard/events", { headers, cache: "no-store" });
  if (response.status === 401 || response.status === 403) {
    document.getElementById("key-form").hidden = false;
    setLink("down", "API key needed");
    return false;
  }
  if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error("stream ended");
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
      if (data) {
        draw(JSON.parse(data));
        setLink("live", `live · ${new Date().toLocaleTimeString()}`);
      }
    }
  }
}

async function run() {
  for (;;) {
    try {
      if ((await follow()) === false) return;
    } catch (err) {
      setLink("down", `reconnecting (${err.message})`);
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

document.getElementById("window").addEventListener("change", () => latest && draw(latest));
document.getElementById("scope").addEventListener("change", () => {
  clusterStats = null;
  refreshClusterStats();
  if (latest) draw(latest);
});
setInterval(refreshClusterStats, CLUSTER_STATS_MS);
document.getElementById("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY_STORE, document.getElementById("key").value);
  document.getElementById("key-form").hidden = true;
  run();
});
takeKeyFromAddress();
run();
