// The emulator's inbox. Message data only ever reaches the DOM through
// textContent, attributes set with setAttribute on elements made here, or
// the sandboxed iframe whose response has a strict Content-Security-Policy.
"use strict";

const state = { items: [], selected: "", scenario: "" };

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "text") e.textContent = v;
    else if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c); // strings become text nodes
  return e;
}

async function getJSON(url) {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) throw new Error(url + ": " + r.status);
  return r.json();
}

function fmtTime(t) {
  const d = new Date(t);
  return isNaN(d) ? "" : d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

function fmtSize(n) {
  if (n < 1024) return n + " B";
  if (n < 1 << 20) return (n / 1024).toFixed(1) + " KB";
  return (n / (1 << 20)).toFixed(1) + " MB";
}

async function refresh() {
  const [msgs, refused] = await Promise.all([getJSON("/api/messages"), getJSON("/api/refused")]);
  const items = [];
  for (const m of msgs) items.push({ kind: "m", id: m.id, time: m.received, from: m.from, to: m.to, subject: m.subject, size: m.size, transport: m.transport, outcome: m.reply || "accepted", scenario: m.scenario });
  for (const r of refused) items.push({ kind: "r", id: r.id, time: r.time, from: r.from, to: r.to, subject: r.subject, size: r.size, transport: r.transport, outcome: r.reply.join(" "), scenario: r.scenario, refused: r });
  items.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0)); // newest first
  state.items = items;
  renderList();
}

function renderList() {
  const tbody = document.querySelector("#list tbody");
  const rows = state.items.map((it) => {
    const tr = el("tr", { "data-id": it.kind + ":" + it.id, class: it.kind === "r" ? "refused" : "message", onclick: () => open(it) },
      el("td", { text: fmtTime(it.time), title: it.time }),
      el("td", { text: it.from || "", title: it.from || "" }),
      el("td", { text: (it.to || []).join(", "), title: (it.to || []).join(", ") }),
      el("td", { class: "subject", text: it.subject || "(no subject)", title: it.subject || "" }),
      el("td", { text: it.size ? fmtSize(it.size) : "" }),
      el("td", { text: it.transport || "" }),
      el("td", { class: "outcome", text: (it.kind === "r" ? "refused: " : "") + it.outcome + (it.scenario ? " [" + it.scenario + "]" : ""), title: it.outcome }));
    if (state.selected === it.kind + ":" + it.id) tr.classList.add("selected");
    return tr;
  });
  tbody.replaceChildren(...rows);
  document.getElementById("empty").hidden = rows.length > 0;
}

function headersList(headers) {
  const dl = el("dl", { class: "headers" });
  for (const [k, v] of headers || []) dl.append(el("dt", { text: k }), el("dd", { text: v }));
  return dl;
}

function transcriptBlock(lines) {
  const pre = el("pre", { class: "transcript" });
  for (const l of lines || []) pre.append(el("span", { class: l.client ? "c" : "s", text: (l.client ? "C: " : "S: ") + l.text + "\n" }));
  return pre;
}

function claimsBlock(claims) {
  if (!claims) return el("p", { class: "note", text: "No token on this session." });
  const dl = el("dl", { class: "headers claims" });
  const show = (k, v) => dl.append(el("dt", { text: k }), el("dd", { text: Array.isArray(v) ? v.join(", ") : String(v) }));
  for (const k of ["aud", "roles", "oid", "appid", "tid"]) if (k in claims) show(k, claims[k]);
  if ("expires" in claims) {
    const left = Math.round((new Date(claims.expires) - Date.now()) / 60000);
    show("exp", claims.expires + (left >= 0 ? " (in " + left + " min)" : " (expired " + -left + " min ago)"));
  }
  if (!("roles" in claims)) show("roles", "(none: no admin consent for SMTP.SendAsApp)");
  return dl;
}

async function open(it) {
  state.selected = it.kind + ":" + it.id;
  renderList();
  const view = document.getElementById("view");
  view.hidden = false;
  if (it.kind === "r") return showRefused(view, it.refused);
  const d = await getJSON("/api/messages/" + encodeURIComponent(it.id) + "/view");
  const base = "/api/messages/" + encodeURIComponent(it.id);
  const body = el("div", { class: "body" });
  const tabs = el("div", { class: "tabs" });
  const show = (name) => {
    for (const b of tabs.children) b.classList.toggle("active", b.dataset.tab === name);
    body.replaceChildren(...render[name]());
  };
  const frame = (remote) => el("iframe", { class: "html", sandbox: "", referrerpolicy: "no-referrer", title: "HTML part", src: base + "/html" + (remote ? "?remote=1" : "") });
  const render = {
    html: () => {
      const f = frame(false);
      const btn = el("button", { type: "button", id: "load-remote", text: "Load remote images", onclick: () => { f.replaceWith(frame(true)); btn.disabled = true; } });
      return [el("p", { class: "note" }, "Scripts never run here; remote images are blocked. ", btn), f];
    },
    text: () => [el("pre", { class: "text", text: d.text || "(no text part)" })],
    headers: () => [headersList(d.headers)],
    raw: () => {
      const pre = el("pre", { class: "raw", text: "loading…" });
      fetch(base, { cache: "no-store" }).then((r) => r.text()).then((t) => { pre.textContent = t; });
      return [pre];
    },
  };
  for (const [name, label] of [["html", "HTML"], ["text", "Text"], ["headers", "Headers"], ["raw", "Source"]]) {
    if (name === "html" && !d.hasHTML) continue;
    const b = el("button", { type: "button", text: label, onclick: () => show(name) });
    b.dataset.tab = name;
    tabs.append(b);
  }
  const att = el("ul", { class: "attachments" });
  for (const a of d.attachments) {
    att.append(el("li", {}, el("a", { href: base + "/parts/" + a.index, download: a.filename || "part-" + a.index, text: a.filename || "(unnamed part " + a.index + ")" }),
      " " + a.contentType + ", " + fmtSize(a.size) + (a.contentId ? ", inline cid:" + a.contentId : "")));
  }
  view.replaceChildren(...[
    el("h2", { class: "subject", text: d.subject || "(no subject)" }),
    el("p", { class: "note", text: "From " + (d.from || "<>") + " to " + (d.to || []).join(", ") + " · " + d.transport + " · " + (d.reply || "") + (d.scenario ? " · scenario " + d.scenario : "") }),
    tabs, body,
    el("h3", { text: "Attachments (" + d.attachments.length + ")" }), att,
    d.problems && d.problems.length ? el("p", { class: "note problems", text: "MIME problems: " + d.problems.join("; ") }) : null,
    el("h3", { text: "Transcript" }), transcriptBlock(d.transcript),
    el("h3", { text: "Token" }), claimsBlock(d.claims)].filter((c) => c != null));
  show(d.hasHTML ? "html" : "text");
}

function showRefused(view, r) {
  view.replaceChildren(...[
    el("h2", { text: "Refused at " + r.stage + (r.subject ? ": " + r.subject : "") }),
    el("p", { class: "reply", text: r.reply.join("\n") }),
    el("p", { class: "note", text: (r.transport || "") + (r.scenario ? " · scenario " + r.scenario : "") + (r.mailbox ? " · mailbox " + r.mailbox : "") }),
    r.headers && r.headers.length ? headersList(r.headers) : null,
    el("h3", { text: "Transcript" }), transcriptBlock(r.transcript),
    el("h3", { text: "Token" }), claimsBlock(r.claims)].filter((c) => c != null));
}

async function loadScenarios() {
  const sc = await getJSON("/api/scenario");
  const sel = document.getElementById("scenario");
  if (sel.options.length === 0) {
    for (const s of sc.scenarios) sel.append(el("option", { value: s.name, text: s.name, title: s.description }));
  }
  sel.value = sc.current;
  state.scenario = sc.current;
  const cur = sc.scenarios.find((s) => s.name === sc.current);
  document.getElementById("scenario-desc").textContent = cur ? cur.description : "";
}

function connect() {
  const live = document.getElementById("live");
  const es = new EventSource("/api/events");
  es.onopen = () => { live.textContent = "live"; live.classList.add("on"); };
  es.onerror = () => { live.textContent = "reconnecting…"; live.classList.remove("on"); };
  es.onmessage = () => { refresh().catch(console.error); loadScenarios().catch(console.error); };
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("scenario").addEventListener("change", async (e) => {
    const r = await fetch("/api/scenario", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name: e.target.value }) });
    if (!r.ok) alert("scenario: " + (await r.text()));
    loadScenarios().catch(console.error);
  });
  document.getElementById("delete-all").addEventListener("click", async () => {
    await fetch("/api/messages", { method: "DELETE" });
    document.getElementById("view").hidden = true;
    state.selected = "";
    refresh().catch(console.error);
  });
  loadScenarios().catch(console.error);
  refresh().catch(console.error);
  connect();
});
