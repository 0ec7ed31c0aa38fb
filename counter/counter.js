// The counter terminal (窓口端末): sign in, pick the counter, then one press (or one key) for
// 呼出 C / 再呼出 R / 対応開始 S / 完了 F / 不在 N / 転送 T / 保留 H; the waiting tickets of the
// queues this counter serves; held and no-show tickets; the current visit's steps across
// counters (seed 004 purpose (1)). Live over /ws (staff topic, session cookie); the waiting lists
// are re-read from /api/staff/state shortly after each event.
import { Live, api, esc, minutes } from "/static/live.js";

const $ = (id) => document.getElementById(id);
const KEYS = { c: "call-next", r: "recall", s: "start", f: "finish", n: "no-show", t: "transfer", h: "hold" };
const ERRORS = {
  no_printer: "この番号札は印刷する発券機がわかりません（窓口で発行された番号など）。 No printer is known for this ticket.",
  unknown_printer: "設定にないプリンタです。 That printer is not configured.",
  no_waiting: "待っている番号はありません。 No ticket is waiting.",
  counter_busy: "対応中の番号を先に完了してください。 Finish the current ticket first.",
  counter_idle: "この窓口に番号がありません。 No ticket at this counter.",
  counter_not_open: "窓口が開いていません（休止中）。 The counter is not open (paused?).",
  invalid_transition: "この操作は今はできません。 Not possible now.",
  counter_in_use: "ほかの職員が使用中の窓口です。 Someone else is signed in to this counter.",
  login_failed: "職員IDかパスワードが違います。 Wrong user name or password.",
  rate_limited: "試行回数が多すぎます。しばらく待ってください。 Too many attempts; wait a few minutes.",
  reinstate_expired: "不在から時間がたちすぎています。新しく発券してください。 Too long since the no-show; issue a new ticket.",
};
const STATUS = {
  open: "受付中 Open", paused: "休止中 Paused", closed: "閉鎖 Closed",
  called: "呼出中 Called", serving: "対応中 Serving", waiting: "待ち Waiting", held: "保留 On hold",
  no_show: "不在 No-show", done: "完了 Done", cancelled: "取消 Cancelled",
  pending: "これから Pending", current: "この手続き Current", transferred: "転送 Transferred",
};

let me = null;
let counterId = null;
let state = null;       // /api/staff/state
let detail = null;      // the current ticket with its steps
let live = null;
let refreshTimer = null;
let busy = false;


function say(text, isError = false) {
  const box = $("message");
  box.textContent = (isError ? "⚠ " : "✓ ") + text;
  box.dataset.kind = isError ? "error" : "ok";
}

function fail(err) {
  if (err.status === 401) { show("login"); return; }
  say(ERRORS[err.code] || err.message, true);
}

function show(name) {
  $("login").hidden = name !== "login";
  $("pick").hidden = name !== "pick";
  $("desk").hidden = name !== "desk";
  $("session").hidden = name === "login";
  $("pause").hidden = name !== "desk";
  $("close").hidden = name !== "desk";
  if (name === "login") $("username").focus();
}

const label = (name) => `${esc(name.ja)} <span lang="en" class="en">${esc(name.en)}</span>`;
const status = (s) => { const [ja, en] = (STATUS[s] || s).split(/ (.*)/); return `${esc(ja)} <span lang="en" class="en">${esc(en || "")}</span>`; };
const queueName = (id) => state?.queues.find((q) => q.id === id)?.name || { ja: id, en: id };
const myCounter = () => state?.counters.find((c) => c.id === counterId);

async function start() {
  me = await api("GET", "/api/auth/me");
  if (me.kind !== "staff") { show("login"); return; }
  $("who").textContent = `${me.name || me.id}`;
  // The statistics page is for supervisors and admins (its API refuses clerks).
  $("stats-link").hidden = !["supervisor", "admin"].includes(me.role);
  await refresh();
  if (me.counter) { counterId = me.counter; enterDesk(); } else { renderPick(); show("pick"); }
  if (!live) {
    live = new Live({
      topics: ["staff"],
      onEvent: (m) => {
        for (const c of m.counters || []) { const known = state?.counters.find((x) => x.id === c.id); if (known) Object.assign(known, c); }
        if (m.counters?.some((c) => c.id === counterId)) renderCurrent();
        scheduleRefresh();
      },
      onSnapshot: () => scheduleRefresh(),
    });
    live.start();
  }
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => refresh().catch(fail), 250);
}

async function refresh() {
  state = await api("GET", "/api/staff/state");
  const c = myCounter();
  if (c && c.ticket_id && (!detail || detail.id !== c.ticket_id || detail.status !== c.ticket_status)) {
    detail = await api("GET", `/api/tickets/${encodeURIComponent(c.ticket_id)}`);
  } else if (c && !c.ticket_id) {
    detail = null;
  }
  render();
}

function render() {
  if (!state) return;
  if (!$("pick").hidden) renderPick();
  if (!$("desk").hidden) { renderCurrent(); renderQueues(); renderParked(); }
}

function renderPick() {
  $("counters").innerHTML = state.counters.map((c) => {
    const taken = c.status !== "closed" && c.staff && c.staff !== me.id;
    const section = state.sections.find((s) => s.id === c.section);
    return `<button type="button" class="counter-choice" data-counter="${esc(c.id)}" ${taken ? "disabled" : ""}>
      <strong>${esc(c.label.ja)}</strong> <span lang="en" class="en">${esc(c.label.en)}</span>
      <span class="sub">${section ? label(section.name) : ""}</span>
      <span class="sub">${status(c.status)}${taken ? " ・ 使用中 <span lang='en' class='en'>in use</span>" : ""}</span></button>`;
  }).join("");
}

function enterDesk() {
  show("desk");
  const c = myCounter();
  $("title").innerHTML = `${esc(c.label.ja)} <span lang="en" class="en">${esc(c.label.en)}</span>`;
  document.title = `${c.label.ja} 窓口端末`;
  render();
}

function renderCurrent() {
  const c = myCounter();
  if (!c) return;
  $("pause").innerHTML = c.status === "paused" ? `再開 <span lang="en" class="en">Resume</span>` : `休止 <span lang="en" class="en">Pause</span>`;
  const ts = c.ticket ? c.ticket_status : null;
  $("current").innerHTML = c.ticket
    ? `<p class="current-number">${esc(c.ticket)}</p>
       <p>${label(queueName(c.ticket_queue))}</p>
       <p class="state-line">${status(ts)}${detail && detail.recalls ? ` ・ 再呼出 ${detail.recalls}回 <span lang="en" class="en">recalled ${detail.recalls}×</span>` : ""}</p>`
    : `<p class="idle">${status(c.status)} ・ 番号なし <span lang="en" class="en">No ticket</span></p>`;
  const enabled = {
    "call-next": !c.ticket && c.status === "open",
    recall: ts === "called", start: ts === "called", "no-show": ts === "called",
    finish: ts === "called" || ts === "serving", transfer: ts === "called" || ts === "serving", hold: ts === "called" || ts === "serving",
  };
  for (const b of document.querySelectorAll("[data-action]")) b.disabled = busy || !enabled[b.dataset.action];
  $("reprint").disabled = busy || !detail || !c.ticket;
  $("steps").innerHTML = detail && c.ticket ? detail.steps.map((s) => `<li>${label(queueName(s.queue))} — ${status(s.status)}${s.counter ? ` ・ ${esc(s.counter)}番窓口 <span lang="en" class="en">counter ${esc(s.counter)}</span>` : ""}</li>`).join("") : "";
}

function renderQueues() {
  const c = myCounter();
  if (!c) return;
  $("queues").innerHTML = c.queues.map((qid) => {
    const q = state.queues.find((x) => x.id === qid);
    const rows = q.tickets.map((t) => `<tr>
        <th scope="row" class="num">${esc(t.display)}${t.priority ? ` <span class="priority">優先 <span lang="en">priority</span></span>` : ""}</th>
        <td>${minutes(t.waited_s)}分 <span lang="en" class="en">${minutes(t.waited_s)} min</span></td>
        <td><button type="button" class="small" data-call="${esc(t.id)}" ${c.ticket || c.status !== "open" ? "disabled" : ""} aria-label="${esc(t.display)}番を呼出 Call ${esc(t.display)}">呼出 <span lang="en" class="en">Call</span></button></td></tr>`).join("");
    return `<div class="queue"><h3><span class="mark" aria-hidden="true">${esc(q.symbol)}</span>${label(q.name)} — ${q.waiting}人 <span lang="en" class="en">${q.waiting} waiting</span></h3>
      ${q.tickets.length ? `<table><thead><tr><th scope="col">番号 <span lang="en" class="en">No.</span></th><th scope="col">待ち時間 <span lang="en" class="en">Waited</span></th><th scope="col"><span class="sr-only">操作 Action</span></th></tr></thead><tbody>${rows}</tbody></table>` : `<p>待っている番号はありません <span lang="en" class="en">Nobody waiting</span></p>`}</div>`;
  }).join("");
}

function renderParked() {
  const c = myCounter();
  const mine = (t) => c.queues.includes(t.queue);
  const held = state.held.filter(mine).map((t) => `<li>${esc(t.display)} ${status("held")} <button type="button" class="small" data-call="${esc(t.id)}" ${c.ticket || c.status !== "open" ? "disabled" : ""} aria-label="${esc(t.display)}番を呼出 Call ${esc(t.display)}">呼出 <span lang="en" class="en">Call</span></button></li>`);
  const gone = state.no_show.filter(mine).map((t) => `<li>${esc(t.display)} ${status("no_show")} <button type="button" class="small" data-reinstate="${esc(t.id)}" aria-label="${esc(t.display)}番を復帰 Reinstate ${esc(t.display)}">復帰 <span lang="en" class="en">Reinstate</span></button></li>`);
  $("parked").innerHTML = held.length || gone.length ? `<ul class="parked">${held.join("")}${gone.join("")}</ul>` : `<p>ありません <span lang="en" class="en">None</span></p>`;
}

async function act(action, body = {}) {
  if (busy) return;
  busy = true;
  renderCurrent();
  try {
    const result = await api("POST", `/api/counters/${encodeURIComponent(counterId)}/${action}`, body);
    detail = result.ticket;
    const names = { "call-next": "呼出", call: "呼出", recall: "再呼出", start: "対応開始", finish: "完了", "no-show": "不在", hold: "保留", transfer: "転送", pause: "休止", resume: "再開" };
    say(`${names[action] || action}${detail ? `: ${detail.display}番` : ""}`);
    await refresh();
  } catch (err) {
    fail(err);
  } finally {
    busy = false;
    renderCurrent();
  }
}

function openTransfer() {
  const c = myCounter();
  $("transfer-queues").innerHTML = state.queues.filter((q) => q.id !== c.ticket_queue).map((q, i) =>
    `<label class="radio"><input type="radio" name="to_queue" value="${esc(q.id)}" ${i === 0 ? "checked" : ""}> <span class="mark" aria-hidden="true">${esc(q.symbol)}</span>${label(q.name)}</label>`).join("");
  $("transfer-front").checked = false;
  $("transfer-dialog").showModal();
}

$("transfer-dialog").addEventListener("close", () => {
  if ($("transfer-dialog").returnValue !== "ok") return;
  const chosen = document.querySelector("input[name=to_queue]:checked");
  if (chosen) act("transfer", { to_queue: chosen.value, front: $("transfer-front").checked });
});

// 再発行: print the current ticket again on the printer of the kiosk that issued it (audited).
async function reprint() {
  if (!detail) return;
  try {
    const job = await api("POST", `/api/tickets/${encodeURIComponent(detail.id)}/reprint`, {});
    say(`再発行: ${detail.display}番（${job.printer}） Reprinted ${detail.display}`);
  } catch (err) {
    fail(err);
  }
}

document.addEventListener("click", async (e) => {
  const button = e.target.closest("button");
  if (!button || button.disabled) return;
  if (button.id === "reprint") { reprint(); return; }
  if (button.dataset.action) {
    if (button.dataset.action === "transfer") openTransfer(); else act(button.dataset.action);
  } else if (button.dataset.call) {
    act("call", { ticket: button.dataset.call });
  } else if (button.dataset.reinstate) {
    try { await api("POST", `/api/tickets/${encodeURIComponent(button.dataset.reinstate)}/reinstate`); say("復帰 Reinstated"); await refresh(); } catch (err) { fail(err); }
  } else if (button.dataset.counter) {
    try { await api("POST", `/api/counters/${encodeURIComponent(button.dataset.counter)}/sign-in`); counterId = button.dataset.counter; me.counter = counterId; await refresh(); enterDesk(); } catch (err) { fail(err); }
  } else if (button.id === "pause") {
    act(myCounter().status === "paused" ? "resume" : "pause");
  } else if (button.id === "close") {
    try { await api("POST", `/api/counters/${encodeURIComponent(counterId)}/sign-out`); counterId = null; me.counter = null; await refresh(); show("pick"); renderPick(); } catch (err) { fail(err); }
  } else if (button.id === "logout") {
    await api("POST", "/api/auth/logout").catch(() => {});
    location.reload();
  }
});

document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.altKey || e.metaKey || $("desk").hidden || $("transfer-dialog").open) return;
  if (e.target.closest("input, select, textarea")) return;
  const action = KEYS[e.key.toLowerCase()];
  if (!action) return;
  const button = document.querySelector(`[data-action="${action}"]`);
  if (button && !button.disabled) { e.preventDefault(); button.click(); }
});

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await api("POST", "/api/auth/login", { username: $("username").value, password: $("password").value });
    $("password").value = "";
    await start();
  } catch (err) {
    $("login-error").textContent = "⚠ " + (ERRORS[err.code] || err.message);
  }
});

start().catch(() => show("login"));
