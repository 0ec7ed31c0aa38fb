// The applications portal (申請の処理, issue 14 point 4): the list with filters and a bulk status
// change, one application (answers, attachments, history with every view, status changes by the
// workflow's rules, 差し戻し with its message, assignment, internal notes, print), and the entry of an
// application received on paper, by post or by phone through the procedure's published form.
// Views by the address's fragment: "" the list, "#a/<id>" one application, "#new" the entry.
import {
  $, CHANNEL, MOVES, STATUS, both, call, collect, describe, esc, finder, questionHtml, readAnswer, showFieldErrors, signIn, when,
} from "/counter/forms-common.js";

let me = null;
let procedures = [];      // GET /api/forms/procedures
let listed = [];          // the list shown
let current = null;       // the application shown
let entry = null;         // {procedure, form} being entered

const ACTIONS = {
  submitted: ["申請", "Submitted"], resubmitted: ["修正して再申請", "Corrected and resubmitted"], viewed: ["閲覧", "Viewed"],
  status: ["状態の変更", "Status changed"], assigned: ["担当の変更", "Assignee changed"], note: ["内部メモ", "Internal note"],
  replayed: ["同じ申請の再送信", "Sent again (same application)"],
};

function say(box, text, isError = false) {
  $(box).textContent = (isError ? "⚠ " : "✓ ") + text;
  $(box).dataset.kind = isError ? "error" : "ok";
}

function who(actor) {
  if (actor === me.id) return `自分 <span lang="en" class="en">me</span>（${esc(me.name || me.id)}）`;
  if (actor === "citizen") return `申請者 <span lang="en" class="en">applicant</span>`;
  if (actor === "system") return `システム <span lang="en" class="en">system</span>`;
  return `職員 <span lang="en" class="en">staff</span> <code>${esc(String(actor).slice(0, 8))}</code>`;
}
const statusHtml = (s) => `<span class="status status-${esc(s)}">${both(STATUS[s] || [s, s])}</span>`;

// ------------------------------------------------------------------------------------------- list
function fillFilters() {
  const visible = procedures.filter((p) => p.editable);
  $("f-procedure").insertAdjacentHTML("beforeend", visible.map((p) => `<option value="${esc(p.slug)}">${esc(p.name.ja)} ${esc(p.name.en || "")}</option>`).join(""));
  $("f-status").insertAdjacentHTML("beforeend", Object.entries(STATUS).map(([k, [ja, en]]) => `<option value="${k}">${esc(ja)} ${esc(en)}</option>`).join(""));
  $("f-channel").insertAdjacentHTML("beforeend", Object.entries(CHANNEL).map(([k, [ja, en]]) => `<option value="${k}">${esc(ja)} ${esc(en)}</option>`).join(""));
  $("bulk-status").innerHTML = ["in_progress", "completed", "rejected", "returned", "received"].map((k) =>
    `<option value="${k}">${esc(STATUS[k][0])} ${esc(STATUS[k][1])}</option>`).join("");
  const open = visible.filter((p) => p.state === "live" && p.published);
  $("entry-procedure").innerHTML = open.length
    ? open.map((p) => `<option value="${esc(p.id)}">${esc(p.name.ja)} ${esc(p.name.en || "")}</option>`).join("")
    : `<option value="">受付中の手続がありません No open procedure</option>`;
}

async function search() {
  const form = new FormData($("filters"));
  const params = new URLSearchParams();
  for (const [key, value] of form) {
    if (!value) continue;
    params.set(key, key === "assignee" && value === "me" ? me.id : value);
  }
  say("list-status", "検索中… Searching…");
  try {
    const answer = await call("GET", `/api/forms/applications?${params}`);
    listed = answer.applications;
    renderList();
    say("list-status", `${listed.length}件 ${listed.length} found${listed.length === 200 ? "（最初の200件 first 200）" : ""}`);
  } catch (err) {
    if (err.status === 401) location.reload();
    say("list-status", err.message, true);
  }
}

function renderList() {
  if (!listed.length) {
    $("results").innerHTML = `<p>該当する申請はありません <span lang="en" class="en">No applications found</span></p>`;
    updateCount();
    return;
  }
  $("results").innerHTML = `<table class="list">
    <caption class="sr-only">申請一覧（新しい順） Applications, newest first</caption>
    <thead><tr><th scope="col"><input type="checkbox" id="select-all" aria-label="すべて選択 Select all"></th>
      <th scope="col">受付番号 <span lang="en" class="en">Reference</span></th><th scope="col">手続 <span lang="en" class="en">Procedure</span></th>
      <th scope="col">状態 <span lang="en" class="en">Status</span></th><th scope="col">受付方法 <span lang="en" class="en">Channel</span></th>
      <th scope="col">担当 <span lang="en" class="en">Assignee</span></th><th scope="col">申請日時 <span lang="en" class="en">Submitted</span></th></tr></thead>
    <tbody>${listed.map((a) => `<tr data-id="${esc(a.id)}">
      <td><input type="checkbox" class="pick" value="${esc(a.id)}" aria-label="${esc(a.reference)} を選択 Select ${esc(a.reference)}"></td>
      <th scope="row"><a href="#a/${esc(a.id)}" class="ref">${esc(a.reference)}</a></th>
      <td>${both(a.procedure.name)}</td><td>${statusHtml(a.status)}</td><td>${both(CHANNEL[a.channel] || a.channel_label)}</td>
      <td>${a.assignee ? (a.assignee === me.id ? `自分 <span lang="en" class="en">me</span>` : `<code>${esc(a.assignee.slice(0, 8))}</code>`) : "—"}</td>
      <td>${esc(when(a.submitted_at))}</td></tr>`).join("")}</tbody></table>`;
  updateCount();
}

function picked() { return [...document.querySelectorAll(".pick:checked")].map((el) => el.value); }
function updateCount() {
  const n = picked().length;
  $("bulk-count").innerHTML = `${n}件選択 <span lang="en" class="en">${n} selected</span>`;
}

async function bulk(e) {
  e.preventDefault();
  const ids = picked();
  const status = $("bulk-status").value;
  const message = $("bulk-message").value.trim();
  if (!ids.length) { $("bulk-result").innerHTML = `<p class="message" data-kind="error">⚠ 申請を選んでください。 <span lang="en">Select applications first.</span></p>`; return; }
  const reference = Object.fromEntries(listed.map((a) => [a.id, a.reference]));
  try {
    const answer = await call("POST", "/api/forms/applications/status", { ids, status, message: message || null });
    await search();
    const failed = answer.failed.map((f) => `<li><strong>${esc(reference[f.id] || f.id)}</strong>: ${esc(f.message)} <code>${esc(f.code)}</code></li>`).join("");
    $("bulk-result").innerHTML = `<p class="message" data-kind="ok">✓ ${answer.changed.length}件を「${esc(STATUS[status][0])}」に変更しました。
        <span lang="en" class="en">${answer.changed.length} changed to ${esc(STATUS[status][1])}.</span></p>
      ${failed ? `<div class="failed"><p class="message" data-kind="error">⚠ ${answer.failed.length}件は変更できませんでした。 <span lang="en" class="en">${answer.failed.length} could not be changed:</span></p><ul id="bulk-failed">${failed}</ul></div>` : ""}`;
  } catch (err) {
    $("bulk-result").innerHTML = `<p class="message" data-kind="error">⚠ ${esc(err.message)}</p>`;
  }
}

// ------------------------------------------------------------------------------------------- one application
let opening = 0;   // the latest openApplication(): an earlier one still loading gives way to it

async function openApplication(id, focus = true) {
  const mine = ++opening;
  try {
    const loaded = await call("GET", `/api/forms/applications/${encodeURIComponent(id)}`);
    if (mine !== opening) return;
    current = loaded;
  } catch (err) {
    if (err.status === 401) { location.reload(); return; }
    show("list");
    say("list-status", err.message, true);
    return;
  }
  renderDetail();
  if (focus) $("detail-title").focus();
}

function renderDetail() {
  const a = current;
  document.title = `${a.reference} オンライン申請 Online applications`;
  $("detail-title").innerHTML = `${esc(a.reference)} <span class="sub">${both(a.procedure.name)}</span>`;
  const assignee = a.assignee ? (a.assignee === me.id ? `自分 <span lang="en" class="en">me</span>（${esc(me.name || me.id)}）` : `<code>${esc(a.assignee)}</code>`) : `なし <span lang="en" class="en">nobody</span>`;
  $("detail-summary").innerHTML = `
    <div><dt>状態 <span lang="en" class="en">Status</span></dt><dd id="detail-status">${statusHtml(a.status)}</dd></div>
    <div><dt>受付方法 <span lang="en" class="en">Channel</span></dt><dd>${both(CHANNEL[a.channel] || a.channel_label)}</dd></div>
    <div><dt>申請日時 <span lang="en" class="en">Submitted</span></dt><dd>${esc(when(a.submitted_at))}</dd></div>
    <div><dt>更新日時 <span lang="en" class="en">Updated</span></dt><dd>${esc(when(a.updated_at))}</dd></div>
    <div><dt>担当 <span lang="en" class="en">Assignee</span></dt><dd>${assignee}</dd></div>
    <div><dt>様式の版 <span lang="en" class="en">Form version</span></dt><dd>第${esc(a.version)}版 <span lang="en" class="en">v${esc(a.version)}</span></dd></div>`;
  $("assignee-now").innerHTML = `現在の担当: ${assignee}`;
  $("assign-me").disabled = a.assignee === me.id;
  $("assign-none").disabled = !a.assignee;
  const moves = MOVES[a.status] || [];
  const buttons = moves.filter((s) => s !== "returned");
  $("status-buttons").innerHTML = moves.length
    ? buttons.map((s) => `<button type="button" data-status="${s}" class="${s === "completed" ? "primary-inline" : ""}">${both(moveLabel(s))}</button>`).join("")
    : `<p>この申請は終了しているため、状態を変更できません。 <span lang="en" class="en">This application is closed.</span></p>`;
  $("return-box").hidden = !moves.includes("returned");
  const pages = [];
  for (const r of a.rows) {
    if (!pages.length || pages[pages.length - 1].page !== r.page) pages.push({ page: r.page, rows: [] });
    pages[pages.length - 1].rows.push(r);
  }
  $("detail-answers").innerHTML = pages.length ? pages.map((p) => `<table class="answers"><caption>${esc(p.page)}</caption>
    <tbody>${p.rows.map((r) => `<tr><th scope="row">${esc(r.label)}</th><td>${esc(r.value) || "—"}</td></tr>`).join("")}</tbody></table>`).join("")
    : `<p>回答はありません <span lang="en" class="en">No answers</span></p>`;
  $("detail-files").innerHTML = a.files.length
    ? `<ul class="files">${a.files.map((f) => `<li><a href="/api/forms/applications/${esc(a.id)}/files/${esc(f.id)}" download="${esc(f.name)}">${esc(f.name)}</a>
        <span class="hint">${esc(f.type)}・${esc(size(f.size))}</span></li>`).join("")}</ul>`
    : `<p>添付ファイルはありません <span lang="en" class="en">No attachments</span></p>`;
  $("detail-history").innerHTML = `<table class="history"><thead><tr><th scope="col">日時 <span lang="en" class="en">When</span></th>
    <th scope="col">誰が <span lang="en" class="en">Who</span></th><th scope="col">内容 <span lang="en" class="en">What</span></th></tr></thead>
    <tbody>${a.history.map((h) => `<tr class="h-${esc(h.action)}"><td>${esc(when(h.at))}</td><td>${who(h.actor)}</td><td>${historyText(h)}</td></tr>`).join("")}</tbody></table>`;
}

function moveLabel(s) {
  return { in_progress: ["処理中にする", "Start processing"], received: ["受付に戻す", "Back to received"],
           returned: ["差し戻す", "Return for correction"], completed: ["完了にする", "Complete"],
           rejected: ["却下する", "Reject"] }[s] || STATUS[s];
}

function historyText(h) {
  const d = h.detail || {};
  const head = `<strong>${both(ACTIONS[h.action] || [h.action, h.action])}</strong>`;
  switch (h.action) {
    case "status":
      return `${head}: ${statusHtml(d.from)} → ${statusHtml(d.to)}${d.message ? `<br>理由 <span lang="en" class="en">message</span>: 「${esc(d.message)}」` : ""}`;
    case "note": return `${head}: ${esc(d.text)}`;
    case "assigned": return `${head}: ${d.from ? `<code>${esc(d.from.slice(0, 8))}</code>` : "—"} → ${d.to ? (d.to === me.id ? "自分 me" : `<code>${esc(d.to.slice(0, 8))}</code>`) : "—"}`;
    case "viewed": return `${head}${d.what && d.what !== "detail" ? `: ${esc(d.what.replace(/^file /, "ファイル file "))}` : ""}`;
    case "submitted": return `${head}: ${both(CHANNEL[d.channel] || [d.channel, d.channel])}・第${esc(d.version)}版`;
    default: return head;
  }
}

const size = (n) => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MB` : `${Math.max(1, Math.round(n / 1024))} KB`);

function fieldError(id, text) {
  const box = $(`${id}-error`);
  box.hidden = !text;
  box.textContent = text ? `⚠ ${text}` : "";
  const input = $(id);
  if (text) { input.setAttribute("aria-invalid", "true"); input.setAttribute("aria-describedby", `${id}-error`); input.focus(); }
  else { input.removeAttribute("aria-invalid"); input.removeAttribute("aria-describedby"); }
}

async function changeStatus(status) {
  const message = $("return-message").value.trim();
  fieldError("return-message", "");
  if (status === "returned" && !message) {
    fieldError("return-message", "差し戻しには、直してほしい内容を書いてください。 Say what to correct when returning an application.");
    return;
  }
  try {
    const answer = await call("PUT", `/api/forms/applications/${encodeURIComponent(current.id)}/status`,
                              { status, message: status === "returned" ? message : null });
    $("return-message").value = "";
    await openApplication(current.id, false);
    say("detail-message", `状態を「${STATUS[answer.status][0]}」に変更しました。 Status changed to ${STATUS[answer.status][1]}.`);
  } catch (err) {
    if (err.code === "message_required") fieldError("return-message", err.message);
    else say("detail-message", err.message, true);
  }
}

async function assign(staff) {
  try {
    await call("PUT", `/api/forms/applications/${encodeURIComponent(current.id)}/assignee`, { staff });
    await openApplication(current.id, false);
    say("detail-message", staff ? "自分に割り当てました。 Assigned to you." : "割り当てを外しました。 Assigned to nobody.");
  } catch (err) { say("detail-message", err.message, true); }
}

async function addNote(e) {
  e.preventDefault();
  const text = $("note-text").value.trim();
  fieldError("note-text", "");
  if (!text) { fieldError("note-text", "メモを書いてください。 Write the note first."); return; }
  try {
    await call("POST", `/api/forms/applications/${encodeURIComponent(current.id)}/notes`, { text });
    $("note-text").value = "";
    await openApplication(current.id, false);
    say("detail-message", "メモを追加しました。 Note added.");
  } catch (err) { say("detail-message", err.message, true); }
}

// ------------------------------------------------------------------------------------------- entry
async function openEntryForm(e) {
  e.preventDefault();
  const pid = $("entry-procedure").value;
  if (!pid) return;
  $("entry-done").innerHTML = "";
  $("entry-summary").hidden = true;
  try {
    const procedure = await call("GET", `/api/forms/procedures/${encodeURIComponent(pid)}`);
    const version = await call("GET", `/api/forms/procedures/${encodeURIComponent(pid)}/versions/${procedure.published}`);
    entry = { procedure, form: version.form, find: finder(version.form) };
  } catch (err) {
    $("entry-done").innerHTML = `<p class="message" data-kind="error">⚠ ${esc(err.message)}</p>`;
    return;
  }
  renderEntry();
  $("entry-form").hidden = false;
  $("entry-fields").querySelector("input, textarea, select")?.focus();
}

function renderEntry(values = {}) {
  const { form, procedure, find } = entry;
  const opts = { prefix: "f", find, mode: "entry" };
  $("entry-fields").innerHTML = `<h3 class="form-title">${both(form.title)} <span class="hint">（${both(procedure.name)}・第${procedure.published}版 <span lang="en">v${procedure.published}</span>）</span></h3>
    ${form.pages.map((p, i) => `<section class="entry-page" aria-labelledby="page-${i}">
      <h4 id="page-${i}">${i + 1}. ${both(p.title)}</h4>
      ${p.show_if != null ? `<p class="condition"><span class="tag">条件付きのページ <span lang="en">Conditional page</span></span> ${both(describe(p.show_if, find))}</p>` : ""}
      ${p.exit ? `<p class="exit-note"><strong>この回答では申請できません <span lang="en" class="en">No application for these answers</span>:</strong> ${both(p.description)}</p>`
               : (p.description ? `<p>${both(p.description)}</p>` : "")}
      ${(p.questions || []).map((q) => questionHtml(q, q.id, { ...opts, value: values[q.id] })).join("")}
    </section>`).join("")}`;
}

function groupAction(button) {
  const path = button.dataset.addItem || button.dataset.removeItem;
  const q = entry.find(path);
  const box = button.closest(".question");
  const items = readAnswer(q, path, box.parentElement) || [];
  if (button.dataset.addItem) items.push({});
  else items.splice(Number(button.dataset.index), 1);
  box.outerHTML = questionHtml(q, path, { prefix: "f", find: entry.find, mode: "entry", value: items });
  const again = document.querySelector(`.question[data-path="${CSS.escape(path)}"]`);
  const items2 = again.querySelectorAll(".item");
  (button.dataset.addItem ? items2[items2.length - 1]?.querySelector("input, textarea") : again.querySelector("[data-add-item]"))?.focus();
}

async function submitEntry(e) {
  e.preventDefault();
  const answers = collect(entry.form, $("entry-fields"));
  const channel = document.querySelector("input[name=channel]:checked").value;
  $("entry-submit").disabled = true;
  try {
    const made = await call("POST", `/api/forms/procedures/${encodeURIComponent(entry.procedure.id)}/applications`, { channel, answers });
    showFieldErrors($("entry-fields"), []);
    $("entry-summary").hidden = true;
    $("entry-form").hidden = true;
    $("entry-done").innerHTML = `<div class="done"><p class="message" data-kind="ok">✓ 受け付けました。受付番号 <strong id="entry-reference">${esc(made.reference)}</strong>
        <span lang="en" class="en">Recorded. Reference ${esc(made.reference)}</span></p>
      <p><a href="#a/${esc(made.id)}">この申請を開く <span lang="en" class="en">Open this application</span></a></p></div>`;
    $("entry-done").querySelector("a").focus();
  } catch (err) {
    const { placed, unplaced } = showFieldErrors($("entry-fields"), err.details || []);
    const extra = err.details?.length ? "" : `<li>${esc(err.message)}</li>`;
    $("entry-summary").innerHTML = `<h3>入力内容を確認してください <span lang="en" class="en">There is a problem</span></h3>
      <ul>${placed.map((d) => `<li><a href="#${esc(d.target)}">${esc(d.message || d.problem)}</a></li>`).join("")}
      ${unplaced.map((d) => `<li>${esc(d.message || d.problem)}${d.field ? ` <code>${esc(d.field)}</code>` : ""}</li>`).join("")}${extra}</ul>`;
    $("entry-summary").hidden = false;
    $("entry-summary").focus();
  } finally {
    $("entry-submit").disabled = false;
  }
}

// ------------------------------------------------------------------------------------------- views
function show(view) {
  $("list-view").hidden = view !== "list";
  $("detail-view").hidden = view !== "detail";
  $("entry-view").hidden = view !== "entry";
}

async function route() {
  const hash = location.hash.replace(/^#/, "");
  $("detail-message").textContent = "";
  if (hash.startsWith("a/")) {
    show("detail");
    await openApplication(decodeURIComponent(hash.slice(2)));
  } else if (hash === "new") {
    show("entry");
    document.title = "申請の入力 Enter an application";
    $("entry-title").focus();
  } else {
    show("list");
    document.title = "オンライン申請 Online applications";
    await search();
  }
}

signIn(async (who) => {
  me = who;
  procedures = (await call("GET", "/api/forms/procedures")).procedures;
  fillFilters();
  window.addEventListener("hashchange", route);
  await route();
});

$("filters").addEventListener("submit", (e) => { e.preventDefault(); search(); });
$("filters").addEventListener("reset", () => setTimeout(search, 0));
$("bulk").addEventListener("submit", bulk);
$("results").addEventListener("change", (e) => {
  if (e.target.id === "select-all") for (const el of document.querySelectorAll(".pick")) el.checked = e.target.checked;
  updateCount();
});
$("back").addEventListener("click", (e) => { e.preventDefault(); location.hash = ""; });
$("status-buttons").addEventListener("click", (e) => {
  const button = e.target.closest("button[data-status]");
  if (button) changeStatus(button.dataset.status);
});
$("return-button").addEventListener("click", () => changeStatus("returned"));
$("assign-me").addEventListener("click", () => assign(me.id));
$("assign-none").addEventListener("click", () => assign(null));
$("note-form").addEventListener("submit", addNote);
$("print").addEventListener("click", () => window.print());
$("entry-choose").addEventListener("submit", openEntryForm);
$("entry-form").addEventListener("submit", submitEntry);
$("entry-fields").addEventListener("click", (e) => {
  const button = e.target.closest("button[data-add-item], button[data-remove-item]");
  if (button) groupAction(button);
});
