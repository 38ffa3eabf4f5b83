// gouji review: keyboard-first check of a batch's doubtful cells (served by pipeline/review.py).
// Every text from a document (OCR output, file names) goes into the page with textContent only.
"use strict";
(function () {
  const TOKEN = document.querySelector('meta[name="gouji-token"]').content;
  const $ = (id) => document.getElementById(id);
  const S = { queue: [], name: null, doc: null, items: [], pos: -1, values: {}, dirty: false, altIdx: -1, busy: false };
  window.gouji = S;   // for scripted sessions (tests read it; nothing writes through it)

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function say(t) { $("msg").textContent = t || ""; }
  async function api(path, body) {
    const opt = body === undefined ? {} : {
      method: "POST", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", "X-Gouji-Token": TOKEN } };
    const r = await fetch(path, opt);
    const j = await r.json().catch(() => ({ error: "HTTP " + r.status }));
    if (!r.ok) throw new Error(j.error || ("HTTP " + r.status));
    return j;
  }
  const q = (o) => Object.entries(o).map(([k, v]) => encodeURIComponent(k) + "=" + encodeURIComponent(v)).join("&");

  // -- the queue of documents -----------------------------------------------------------
  async function loadQueue() {
    const j = await api("/api/queue");
    S.queue = j.documents;
    $("who").textContent = "reviewer: " + j.reviewer;
    const nav = $("queue");
    nav.replaceChildren();
    let left = 0;
    for (const d of S.queue) {
      left += d.left;
      const b = el("button", (d.name === S.name ? "cur " : "") + (d.left === 0 ? "done" : ""));
      b.tabIndex = -1;
      b.append(el("span", "n", d.left + "/" + d.doubtful), el("div", "", d.name),
               el("small", "", (d.status || "") + " · " + (d.confidence == null ? "–" : (+d.confidence).toFixed(3))));
      b.addEventListener("click", () => openDoc(d.name));
      nav.append(b);
    }
    $("progress").textContent = left + " doubtful left in " + S.queue.length + " documents";
  }

  // -- one document -----------------------------------------------------------------------
  function place(e, b, pg) {   // style via CSSOM (the CSP allows no inline style attributes)
    const w = pg.width, h = pg.height;
    e.style.left = (100 * b[0] / w) + "%"; e.style.top = (100 * b[1] / h) + "%";
    e.style.width = (100 * Math.max(0, b[2] - b[0]) / w) + "%"; e.style.height = (100 * Math.max(0, b[3] - b[1]) / h) + "%";
  }

  function itemOrder(a, b) {
    const pa = a.page == null ? 1e9 : a.page, pb = b.page == null ? 1e9 : b.page;
    if (pa !== pb) return pa - pb;
    const ya = a.bbox ? a.bbox[1] : 1e9, yb = b.bbox ? b.bbox[1] : 1e9;
    if (Math.abs(ya - yb) > 2) return ya - yb;
    return (a.bbox ? a.bbox[0] : 0) - (b.bbox ? b.bbox[0] : 0);
  }

  function buildItems(doc) {
    const items = [];
    for (const [k, c] of Object.entries(doc.cells))
      if (c.doubtful) items.push({ kind: "cell", key: k, page: c.page, bbox: c.bbox });
    for (const l of doc.labels)
      if (l.doubtful) items.push({ kind: "label", index: l.index, page: l.page, bbox: l.bbox });
    items.sort(itemOrder);
    return items;
  }
  function decided(it) {
    return it.kind === "cell" ? !!S.doc.cells[it.key].decision : !!S.doc.labels[it.index].decision;
  }

  async function openDoc(name, where) {
    const doc = await api("/api/doc?" + q({ name: name }));
    S.name = name; S.doc = doc;
    S.values = {};
    for (const [k, c] of Object.entries(doc.cells)) S.values[k] = c.value;
    S.items = buildItems(doc);
    $("doc-title").textContent = doc.name + " · " + (doc.status || "") + " · " + doc.source;
    drawPages();
    drawAudit();
    await loadQueue();
    let i = where === "last" ? S.items.length - 1 : S.items.findIndex((it) => !decided(it));
    if (i < 0) i = S.items.length ? 0 : -1;
    if (i >= 0) focusItem(S.items[i]); else { S.pos = -1; S.cur = null; showNothing(); }
    evalEquations();
  }

  function showNothing() {
    $("cur-key").textContent = "nothing doubtful here";
    $("cur-meta").textContent = ""; $("printed").textContent = ""; $("alts").replaceChildren();
    $("crop").removeAttribute("src"); $("lines").removeAttribute("src"); $("entry").value = ""; $("eqs").replaceChildren();
    $("entry").focus();
  }

  function drawPages() {
    const sec = $("pages");
    sec.replaceChildren();
    const doc = S.doc;
    S.overlay = {};
    for (const pg of doc.pages) {
      const fig = el("figure", "page");
      fig.dataset.page = pg.number;
      const img = el("img");
      img.alt = "page " + pg.number;
      img.src = "/api/page?" + q({ name: doc.name, n: pg.number });
      fig.append(img);
      for (const g of doc.grid) {
        if (g.page !== pg.number) continue;
        const d = el("div", "g"); place(d, g.bbox, pg); d.title = g.text || ""; fig.append(d);
      }
      for (const [k, c] of Object.entries(doc.cells)) {
        if (c.page !== pg.number || !c.bbox) continue;
        const d = el("div", "f st-" + (c.status || "read") + (c.doubtful && !c.decision ? " low" : ""));
        d.dataset.key = k; place(d, c.bbox, pg);
        d.title = k + "\n" + c.value + " · " + c.status + "\nprinted: " + (c.text || "");
        d.addEventListener("click", () => focusItem({ kind: "cell", key: k, page: c.page, bbox: c.bbox }));
        fig.append(d); S.overlay["c:" + k] = d;
      }
      for (const l of doc.labels) {
        if (l.page !== pg.number || !l.bbox) continue;
        const d = el("div", "lab" + (l.doubtful && !l.decision ? " low" : "") + (l.decision ? " st-reviewed" : ""));
        d.dataset.label = l.index; place(d, l.bbox, pg);
        d.title = (l.text || "") + "\n→ " + l.class;
        d.addEventListener("click", () => focusItem({ kind: "label", index: l.index, page: l.page, bbox: l.bbox }));
        fig.append(d); S.overlay["l:" + l.index] = d;
      }
      sec.append(fig);
    }
    if (!doc.pages.length) sec.append(el("p", "", "no page picture (a text input): the cells are listed on the right"));
  }

  function drawAudit() {
    const ol = $("audit");
    ol.replaceChildren();
    for (const a of (S.doc.audit || []).slice().reverse()) {
      const what = a.cell !== undefined ? a.cell : ("label " + a.label + " " + (a.text || ""));
      ol.append(el("li", "", a.when + " " + a.reviewer + ": " + what + " " + JSON.stringify(a.old) + " → " + JSON.stringify(a.new)));
    }
  }

  // -- the focused item ---------------------------------------------------------------------
  function focusItem(it) {
    if (S.curEl) S.curEl.classList.remove("cur");
    S.cur = it; S.dirty = false; S.altIdx = -1;
    S.pos = S.items.findIndex((x) => x.kind === it.kind && (x.key === it.key && x.index === it.index));
    const ov = S.overlay[it.kind === "cell" ? "c:" + it.key : "l:" + it.index];
    S.curEl = ov || null;
    if (ov) { ov.classList.add("cur"); ov.scrollIntoView({ block: "center", inline: "nearest" }); }
    const entry = $("entry");
    const alts = $("alts");
    $("crop").removeAttribute("src");   // never the previous item's crop while the next one loads
    $("lines").removeAttribute("src");
    alts.replaceChildren();
    if (it.kind === "cell") {
      const c = S.doc.cells[it.key];
      $("cur-key").textContent = it.key;
      $("cur-meta").textContent = (c.decision ? "reviewed (" + c.decision.action + ")" : c.status) +
        " · confidence " + (c.confidence == null ? "–" : (+c.confidence).toFixed(3)) + " · page " + (c.page || "–");
      $("printed").textContent = c.text || "";
      for (const [v, p] of (c.alternatives || [])) alts.append(el("li", "", String(v) + "  (" + (+p).toFixed(3) + ")"));
      if (c.bbox) {
        $("crop").src = "/api/crop?" + q({ name: S.name, key: it.key });
        $("lines").src = "/api/crop?" + q({ name: S.name, key: it.key, view: "lines" });
      }
      $("entry-label").textContent = "value (B: printed blank)";
      entry.setAttribute("list", "");
      entry.value = S.values[it.key] == null ? "" : String(S.values[it.key]);
      $("hint").textContent = S.values[it.key] == null ? "now: printed blank" : "";
    } else {
      const l = S.doc.labels[it.index];
      $("cur-key").textContent = "label: " + l.class;
      $("cur-meta").textContent = (l.decision ? "reviewed (" + l.decision.action + ")" : "classifier") +
        " · p " + (l.p == null ? "–" : (+l.p).toFixed(3));
      $("printed").textContent = l.text || "";
      if (l.bbox) {
        $("crop").src = "/api/crop?" + q({ name: S.name, label: it.index });
        $("lines").src = "/api/crop?" + q({ name: S.name, label: it.index, view: "lines" });
      }
      const table = ((l.context || {}).table) || String(l.class).split(".")[0];
      const dl = $("classes");
      dl.replaceChildren();
      for (const c of keysOf(table)) { const o = el("option"); o.value = c.key; o.label = c.text; dl.append(o); }
      $("entry-label").textContent = "key (type to filter, Enter saves)";
      entry.setAttribute("list", "classes");
      entry.value = l.class;
      $("hint").textContent = "";
    }
    entry.focus(); entry.select();
    evalEquations();
  }

  function curTable() {
    if (!S.cur) return null;
    return S.cur.kind === "cell" ? S.cur.key.split("/")[0] : null;
  }

  // -- the equations, live ---------------------------------------------------------------
  function evalEquations() {
    const doc = S.doc;
    if (!doc) return;
    const vals = Object.assign({}, S.values);
    if (S.cur && S.cur.kind === "cell") {
      const t = $("entry").value.trim().replace(/,/g, "");
      if (S.dirty && /^[+-]?\d+(\.\d+)?$/.test(t)) vals[S.cur.key] = Number(t);
    }
    for (const k in S.overlay) if (k.startsWith("c:")) S.overlay[k].classList.remove("eqfail");
    const ul = $("eqs");
    ul.replaceChildren();
    let bad = 0, n = 0;
    S.eqResults = [];
    for (const e of doc.equations) {
      let ok = true, l = 0, r = 0;
      for (const [keys, sgn] of [[e.lhs, 1], [e.rhs, -1]]) for (const k of keys) {
        const v = vals[k];
        if (v === null || v === undefined) { if (!e.null_as_zero) ok = false; continue; }
        if (typeof v !== "number") { ok = false; continue; }
        if (sgn > 0) l += v; else r += v;
      }
      if (!ok) continue;
      n++;
      const holds = Math.abs(l - r) <= doc.tol;
      S.eqResults.push({ name: e.name, holds: holds, lhs: l, rhs: r });
      if (!holds) {
        bad++;
        for (const k of e.lhs.concat(e.rhs)) if (S.overlay["c:" + k]) S.overlay["c:" + k].classList.add("eqfail");
      }
      if (S.cur && S.cur.kind === "cell" && (e.lhs.includes(S.cur.key) || e.rhs.includes(S.cur.key)))
        ul.append(el("li", holds ? "ok" : "bad", (holds ? "✓ " : "✗ ") + e.name + "  (" + l + " = " + r + ")"));
    }
    if (!ul.children.length) ul.append(el("li", "", curTable() ? "no equation has this cell" : "—"));
    $("eqsum").textContent = (n - bad) + "/" + n + " equations hold";
  }

  // -- decisions --------------------------------------------------------------------------
  async function save(body) {
    if (S.busy) return;
    S.busy = true;
    try {
      const doc = await api("/api/decide", Object.assign({ doc: S.name }, body));
      const it = S.cur;
      S.doc = doc;
      for (const [k, c] of Object.entries(doc.cells)) S.values[k] = c.value;
      drawPages(); drawAudit();
      await loadQueue();
      say("saved");
      const i = S.items.findIndex((x) => x.kind === it.kind && x.key === it.key && x.index === it.index);
      await advance(i);
      S.saved = (S.saved || 0) + 1;
    } catch (e) {
      say("not saved: " + e.message);
    } finally {
      S.busy = false;
    }
  }

  function confirm() {
    const it = S.cur;
    if (!it) return;
    const t = $("entry").value.trim();
    if (it.kind === "cell") {
      if (t === "" && !S.dirty && S.values[it.key] == null) return save({ kind: "cell", key: it.key, value: null });
      if (t === "") { say("empty: press B to mark a printed blank"); return; }
      if (!/^[+-]?[\d,]+(\.\d+)?$/.test(t)) { say("not a number: " + t); return; }
      return save({ kind: "cell", key: it.key, value: t });
    }
    const l = S.doc.labels[it.index];
    const table = ((l.context || {}).table) || String(l.class).split(".")[0];
    const got = resolveKey(table, t);
    if (got.length !== 1) { say(got.length ? got.length + " keys match: type more" : "no key of this table matches: " + t); return; }
    return save({ kind: "label", index: it.index, class: got[0] });
  }

  function keysOf(table) {
    return (S.doc.classes[table] || []).concat([{ key: "none", text: "not a label" }]);
  }
  // the typed key, or the one key whose name or printed wording contains what was typed
  function resolveKey(table, t) {
    const ks = keysOf(table);
    if (ks.some((c) => c.key === t)) return [t];
    const exact = ks.filter((c) => c.text === t);
    if (exact.length === 1) return [exact[0].key];
    return t ? ks.filter((c) => c.key.includes(t) || c.text.includes(t)).map((c) => c.key) : [];
  }

  // after a save: the next undecided item of this document (wrapping round), else the next
  // document with doubt left, else the queue is clear
  async function advance(i) {
    const n = S.items.length;
    for (let d = 1; d <= n; d++) {
      const it = S.items[(i + d + n) % n];
      if (!decided(it)) { focusItem(it); return; }
    }
    const k = S.queue.findIndex((d) => d.name === S.name);
    const nxt = S.queue.slice(k + 1).concat(S.queue.slice(0, Math.max(0, k))).find((d) => d.left > 0 && d.name !== S.name);
    if (nxt) { say("next document"); await openDoc(nxt.name); return; }
    say("queue cleared");
    if (i >= 0 && i < n) focusItem(S.items[i]);
  }

  async function move(i, dir) {
    if (i >= 0 && i < S.items.length) { focusItem(S.items[i]); return; }
    // past the end (or before the start): the next document that has doubtful items left
    const k = S.queue.findIndex((d) => d.name === S.name);
    const order = dir > 0 ? S.queue.slice(k + 1).concat(S.queue.slice(0, k)) : S.queue.slice(0, Math.max(0, k)).reverse();
    const nxt = order.find((d) => d.left > 0);
    if (nxt) { say("next document"); await openDoc(nxt.name, dir > 0 ? "first" : "last"); }
    else if (S.items.length) { say("queue cleared"); focusItem(S.items[dir > 0 ? S.items.length - 1 : 0]); }
    else say("queue cleared");
  }

  function gotoLabel(role) {
    if (!S.cur || S.cur.kind !== "cell") return;
    const [table, row, col] = S.cur.key.split("/");
    const want = role === "col" ? table + ".col:" + col : (table === "appeals" ? "appeals.group:" : table + ".row:") + row;
    const l = S.doc.labels.find((x) => x.class === want);
    if (!l) { say("no printed label found for " + want); return; }
    focusItem({ kind: "label", index: l.index, page: l.page, bbox: l.bbox });
  }

  function nextAlt() {
    if (!S.cur || S.cur.kind !== "cell") return;
    const alts = S.doc.cells[S.cur.key].alternatives || [];
    if (!alts.length) return;
    S.altIdx = (S.altIdx + 1) % alts.length;
    $("entry").value = alts[S.altIdx][0] == null ? "" : String(alts[S.altIdx][0]);
    S.dirty = true;
    const lis = $("alts").children;
    for (let j = 0; j < lis.length; j++) lis[j].classList.toggle("sel", j === S.altIdx);
    evalEquations();
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const k = ev.key;
    const labelMode = S.cur && S.cur.kind === "label";
    const letterNav = !labelMode || !S.dirty;   // in a label's key field, letters type once typing began
    let handled = true;
    if (k === "Tab") move(S.pos + (ev.shiftKey ? -1 : 1), ev.shiftKey ? -1 : 1);
    else if (k === "Enter") confirm();
    else if (k === "Escape") { if (S.cur) focusItem(S.cur); }
    else if (letterNav && (k === "j" || k === "J")) move(S.pos + 1, 1);
    else if (letterNav && (k === "k" || k === "K")) move(S.pos - 1, -1);
    else if (!labelMode && (k === "b" || k === "B")) { if (S.cur) save({ kind: "cell", key: S.cur.key, value: null }); }
    else if (!labelMode && (k === "a" || k === "A")) nextAlt();
    else if (!labelMode && (k === "r" || k === "R")) gotoLabel("row");
    else if (!labelMode && (k === "c" || k === "C")) gotoLabel("col");
    else if (!labelMode && (k === "n" || k === "N" || k === "p" || k === "P")) {
      const i = S.queue.findIndex((d) => d.name === S.name) + (k.toLowerCase() === "n" ? 1 : -1);
      if (i >= 0 && i < S.queue.length) openDoc(S.queue[i].name);
    } else if (!labelMode && k.length === 1 && !/[\d.,+\-]/.test(k)) { /* letters never go into a number */ }
    else handled = false;
    if (handled) ev.preventDefault();
  });
  $("entry").addEventListener("input", () => { S.dirty = true; evalEquations(); });
  // back from another window: show what a second reviewer decided meanwhile (never over typing)
  window.addEventListener("blur", () => { S.away = true; });
  window.addEventListener("focus", () => { if (S.away && S.name && !S.busy && !S.dirty) refresh(); S.away = false; });

  async function refresh() {   // a second reviewer's decisions show when this window comes back
    const doc = await api("/api/doc?" + q({ name: S.name }));
    S.doc = doc;
    for (const [k, c] of Object.entries(doc.cells)) S.values[k] = c.value;
    const it = S.cur;
    drawPages(); drawAudit(); loadQueue();
    if (it && !S.dirty) focusItem(it);
  }

  loadQueue().then(() => {
    const first = S.queue.find((d) => d.left > 0) || S.queue[0];
    if (first) return openDoc(first.name);
    say("no documents in this folder");
  }).catch((e) => say("cannot load: " + e.message));
})();
