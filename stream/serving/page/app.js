// The status page: reads /v1/ with the API token and draws plain SVG (no libraries, no CDN).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const el = (name, attrs = {}, text = "") => {
  const node = document.createElementNS(name.startsWith("svg:") ? SVG : null, name.replace("svg:", ""));
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== "") node.textContent = text;
  return node;
};
const html = (name, attrs = {}, text = "") => {
  const node = document.createElement(name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== "") node.textContent = text;
  return node;
};

// `segstream report --html` inlines the answers the page would fetch (one file, no network).
const SNAPSHOT = window.SEGSTREAM_SNAPSHOT;

async function get(path) {
  if (SNAPSHOT) return SNAPSHOT.answers[path];
  const token = sessionStorage.getItem("segstream-token");
  const headers = token ? { Authorization: "Bearer " + token } : {};
  const answer = await fetch(path, { headers });
  if (answer.status === 401) throw new Error("unauthorised");
  if (!answer.ok) throw new Error(path + ": " + answer.status);
  return answer.json();
}

function polyline(values, width, height, cls) {
  const svg = el("svg:svg", { width, height, class: cls });
  const top = Math.max(1, ...values);
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / top) * (height - 4)).toFixed(1)}`);
  svg.append(el("svg:polyline", { class: "line", points: points.join(" "), "data-points": values.length }));
  return svg;
}

function segmentsTable(segments, health, history) {
  const body = document.querySelector("#segments tbody");
  body.replaceChildren();
  const findings = {};
  for (const f of health.findings) for (const s of f.segments) (findings[s] ||= []).push(f);
  for (const s of segments) {
    const row = html("tr", { "data-segment": s.id });
    row.append(html("td", { title: s.description || "" }, s.name ? `${s.id}: ${s.name}` : s.id));
    row.append(html("td", { class: "size" }, s.size.toLocaleString("en")));
    const spark = html("td", { class: "spark" });
    spark.append(polyline(history.segments[s.id]?.size ?? [], 120, 24, "sparkline"));
    row.append(spark);
    row.append(html("td", {}, s.holdout ? `${s.held_out.toLocaleString("en")} (${(s.holdout * 100).toFixed(0)}%)` : ""));
    const badges = html("td");
    for (const f of findings[s.id] || []) badges.append(html("span", { class: "badge " + f.kind, title: f.detail }, f.kind.replace("_", " ")));
    row.append(badges);
    body.append(row);
  }
}

function sizeCharts(segments, history) {
  const box = document.getElementById("sizes");
  box.replaceChildren();
  for (const s of segments) {
    const chart = html("div", { class: "chart", "data-segment": s.id });
    const svg = polyline(history.segments[s.id]?.size ?? [], 220, 60, "size-chart");
    svg.append(el("svg:text", { x: 2, y: 10 }, s.id));
    chart.append(svg);
    box.append(chart);
  }
}

function heatmap(health) {
  const ids = health.segments.map((s) => s.id);
  const cell = 16, left = 150, top = 10;
  const size = left + cell * ids.length + 10;
  const svg = el("svg:svg", { width: size, height: top + cell * ids.length + 10, id: "overlap" });
  ids.forEach((id, i) => svg.append(el("svg:text", { x: 0, y: top + i * cell + 12 }, id)));
  const index = Object.fromEntries(ids.map((id, i) => [id, i]));
  for (const p of health.overlap) {
    const [i, j] = [index[p.a], index[p.b]];
    const shade = Math.round(255 - 200 * p.jaccard);
    const rect = el("svg:rect", { class: "pair", x: left + j * cell, y: top + i * cell, width: cell - 1, height: cell - 1,
      fill: `rgb(${shade},${shade},255)`, "data-a": p.a, "data-b": p.b });
    rect.append(el("svg:title", {}, `${p.a} ~ ${p.b}: Jaccard ${p.jaccard.toFixed(3)}, ${p.both} in both`));
    svg.append(rect);
  }
  document.getElementById("heatmap").replaceChildren(svg);
}

function funnel(history) {
  const stages = history.stages;
  const top = Math.max(1, ...stages.map((s) => s.contacts));
  const svg = el("svg:svg", { width: 820, height: stages.length * 20 + 10, id: "funnel-chart" });
  // A stage is a high-water mark, so contacts at a stage or later all reached it.
  const atOrAfter = stages.map((_, i) => stages.slice(i).reduce((a, s) => a + s.contacts, 0));
  stages.forEach((s, i) => {
    const y = i * 20 + 4;
    svg.append(el("svg:text", { x: 0, y: y + 12 }, s.stage));
    svg.append(el("svg:rect", { class: "bar", x: 100, y, height: 14, width: Math.max(1, (s.contacts / top) * 300) }));
    const next = stages[i + 1];
    const rate = next && atOrAfter[i] ? ` (${((100 * atOrAfter[i + 1]) / atOrAfter[i]).toFixed(0)}% of those who reached it went on to ${next.stage})` : "";
    svg.append(el("svg:text", { x: 410, y: y + 12 }, s.contacts.toLocaleString("en") + rate));
  });
  document.getElementById("funnel").replaceChildren(svg);
}

const pct = (x) => (100 * x).toFixed(1) + "%";

function rateText(group) {
  if (group.rate === null) return "none entered";
  const [lo, hi] = group.interval;
  return `${pct(group.rate)} (${pct(lo)} to ${pct(hi)}), ${group.converted.toLocaleString("en")} of ${group.entered.toLocaleString("en")}`;
}

// The lift's interval on an axis symmetric about 0, so that "above 0" reads at a glance.
function intervalBar(low, high, difference) {
  const width = 160, height = 14, reach = Math.max(0.05, Math.abs(low), Math.abs(high));
  const x = (v) => ((v + reach) / (2 * reach)) * width;
  const svg = el("svg:svg", { width, height, class: "interval" });
  svg.append(el("svg:line", { class: "zero", x1: x(0), x2: x(0), y1: 0, y2: height }));
  svg.append(el("svg:rect", { class: "range", x: x(low), y: 4, height: 6, width: Math.max(1, x(high) - x(low)) }));
  svg.append(el("svg:circle", { class: "point", cx: x(difference), cy: 7, r: 3 }));
  return svg;
}

function liftTable(health) {
  const body = document.querySelector("#lift tbody");
  body.replaceChildren();
  const lifts = health.lift || [];
  document.getElementById("no-lift").hidden = lifts.length > 0;
  document.getElementById("lift").hidden = lifts.length === 0;
  for (const l of lifts) {
    const row = html("tr", { "data-segment": l.segment });
    row.append(html("td", {}, l.segment));
    row.append(html("td", {}, l.goal.text + (l.already ? ` (${l.already.toLocaleString("en")} there already, not counted)` : "")));
    row.append(html("td", { class: "treated" }, rateText(l.treated)));
    row.append(html("td", { class: "held-out" }, rateText(l.held_out)));
    const cell = html("td", { class: "difference" });
    if (l.difference === null) {
      cell.textContent = l.holdout ? "not enough members yet" : "no holdout to compare with";
    } else {
      const [lo, hi] = l.difference_interval;
      cell.append(intervalBar(lo, hi, l.difference));
      cell.append(html("span", {}, ` ${(100 * l.difference).toFixed(1)} points (${(100 * lo).toFixed(1)} to ${(100 * hi).toFixed(1)})`));
    }
    row.append(cell);
    body.append(row);
  }
}

async function operatorStrip() {
  const strip = document.getElementById("strip");
  try {
    const text = SNAPSHOT ? SNAPSHOT.metrics : await (await fetch("/metrics")).text();
    const sum = (name) => text.split("\n").filter((l) => l.startsWith(name + " ") || l.startsWith(name + "{")).reduce((a, l) => a + Number(l.split(" ").pop()), 0);
    strip.replaceChildren(
      html("span", {}, `Redis up: ${sum("segstream_serving_redis_up") ? "yes" : "no"}`),
      html("span", {}, `changes applied: ${sum("segstream_serving_applied_total").toLocaleString("en")}`),
      html("span", {}, `open gaps: ${sum("segstream_serving_open_gaps").toLocaleString("en")}`),
    );
  } catch (error) {
    strip.textContent = "metrics not reachable";
  }
}

function login() {
  document.getElementById("data").hidden = true;
  document.getElementById("login").hidden = false;
  document.body.dataset.ready = "login";
}

async function show() {
  const config = SNAPSHOT ? { token_required: false } : await (await fetch("/page/config.json")).json();
  if (config.token_required && !sessionStorage.getItem("segstream-token")) return login();
  try {
    const [segments, health, history] = await Promise.all([get("/v1/segments"), get("/v1/health"), get("/v1/history?resolution=hour&buckets=48")]);
    document.getElementById("login").hidden = true;
    document.getElementById("data").hidden = false;
    const taken = SNAPSHOT ? `snapshot of ${SNAPSHOT.taken}, ` : "";
    document.getElementById("position").textContent = taken + "position " + segments.position;
    segmentsTable(segments.segments, health, history);
    sizeCharts(segments.segments, history);
    heatmap(health);
    funnel(history);
    liftTable(health);
    await operatorStrip();
    // Milliseconds from navigation to everything drawn: what `segstream bench page` reports.
    document.body.dataset.loadMs = Math.round(performance.now());
    document.body.dataset.ready = "true";
  } catch (error) {
    if (error.message !== "unauthorised") throw error;
    document.getElementById("login-message").textContent = "That token was refused: try again.";
    login();
  }
}

document.getElementById("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem("segstream-token", document.getElementById("token").value);
  show();
});
const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromHash) { sessionStorage.setItem("segstream-token", fromHash); history.replaceState(null, "", location.pathname); }
show();
