// Statistics page for supervisors: today so far (refreshed every 30 s) and exports with progress.
// The export runs in a child process on the server; this page asks how far it has got every 0.5 s.
import { api, esc } from "/static/live.js";

const $ = (id) => document.getElementById(id);
const PHASES = { starting: "準備中 starting", reading: "記録を読み込み中 reading", computing: "集計中 computing",
                 writing: "ファイル作成中 writing", done: "完了 done", failed: "失敗 failed",
                 cancelled: "中止 cancelled" };
const KIND = { section: "係", procedure: "手続", counter: "窓口", clerk: "職員" };
const STAGE = { reception: "受付", handover: "交付" };

const min = (s) => (s == null ? "—" : (s / 60).toFixed(1));

function renderToday(t) {
  $("today-day").textContent = t.day;
  $("today-note").textContent = `発券 ${t.tickets}枚・目標待ち時間 ${Math.round(t.target_wait_s / 60)}分 / ${t.tickets} tickets, target wait ${Math.round(t.target_wait_s / 60)} min`;
  const rows = t.figures.map((r) => `<tr><th scope="row">${KIND[r.kind]} ${esc(r.name)}${r.stage ? `（${STAGE[r.stage]}）` : ""}</th>
    <td>${r.issued ?? "—"}</td><td>${r.served}</td><td>${r.no_show}</td><td>${r.cancelled}</td>
    <td>${min(r.wait_mean_s)}</td><td>${min(r.wait_max_s)}</td><td>${min(r.service_mean_s)}</td>
    <td>${r.within_target == null ? "—" : Math.round(r.within_target * 100) + "%"}</td></tr>`).join("");
  $("today").innerHTML = rows ? `<table class="figures"><thead><tr><th scope="col">区分・名称 <span lang="en" class="en">Row</span></th>
    <th scope="col">発券 <span lang="en" class="en">Issued</span></th><th scope="col">対応 <span lang="en" class="en">Served</span></th>
    <th scope="col">不在 <span lang="en" class="en">No-show</span></th><th scope="col">取消 <span lang="en" class="en">Cancelled</span></th>
    <th scope="col">平均待ち(分) <span lang="en" class="en">Mean wait</span></th><th scope="col">最長待ち(分) <span lang="en" class="en">Max wait</span></th>
    <th scope="col">平均対応(分) <span lang="en" class="en">Mean service</span></th><th scope="col">目標内 <span lang="en" class="en">Within target</span></th></tr></thead>
    <tbody>${rows}</tbody></table>` : `<p>本日の記録はまだありません <span lang="en" class="en">Nothing yet today</span></p>`;
}

async function refreshToday() {
  try { renderToday(await api("GET", "/api/stats/today")); } catch (err) { if (err.status === 401) show(false); }
}

function show(signedIn) {
  $("login").hidden = signedIn;
  $("board").hidden = !signedIn;
  if (!signedIn) $("username").focus();
}

let running = null;  // the id of the export this page follows, while it runs

async function follow(job) {
  $("export-progress").hidden = false;
  running = job.id;
  $("export-cancel").hidden = false;
  while (true) {
    $("export-progress").value = job.progress;
    $("export-text").textContent = `${PHASES[job.phase] || job.phase} ${Math.round(job.progress * 100)}%`;
    if (job.state !== "running") break;
    await new Promise((r) => setTimeout(r, 500));
    job = await api("GET", `/api/stats/exports/${job.id}`);
  }
  running = null;
  $("export-cancel").hidden = true;
  $("export-button").disabled = false;
  if (job.state === "cancelled") {
    $("export-text").textContent = "出力を中止しました / Export cancelled";
  } else if (job.state === "done") {
    $("export-link").href = job.download;
    $("export-link").setAttribute("download", job.filename);
    $("export-link").hidden = false;
    $("export-text").textContent = `完了：${job.filename} / Ready: ${job.filename}`;
  } else {
    $("export-text").textContent = `⚠ 出力できませんでした / Export failed: ${job.error || ""}`;
  }
}

$("export-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  const chosen = form.get("format");
  const body = { from: form.get("from"), to: form.get("to"), by: form.getAll("by"),
                 format: chosen === "xlsx" ? "xlsx" : "csv", encoding: chosen === "csv-sjis" ? "shift_jis" : "utf-8",
                 section: form.get("section") ? [form.get("section")] : [] };
  $("export-link").hidden = true;
  $("export-button").disabled = true;
  try {
    await follow(await api("POST", "/api/stats/exports", body));
  } catch (err) {
    $("export-button").disabled = false;
    $("export-text").textContent = `⚠ ${err.message}`;
  }
});

// Cancel: the server kills the export's process; the loop above then sees the state "cancelled".
$("export-cancel").addEventListener("click", async () => {
  if (!running) return;
  try {
    await api("DELETE", `/api/stats/exports/${running}`);
  } catch (err) {
    $("export-text").textContent = `⚠ ${err.message}`;
  }
});

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await api("POST", "/api/auth/login", { username: $("username").value, password: $("password").value });
    await start();
  } catch (err) {
    $("login-error").textContent = `⚠ ${err.message}`;
  }
});

async function start() {
  const me = await api("GET", "/api/auth/me");
  if (me.kind !== "staff" || !["admin", "supervisor"].includes(me.role)) { show(false); return; }
  $("who").textContent = me.name;
  const office = await api("GET", "/api/state");
  for (const s of office.sections || []) $("section").insertAdjacentHTML("beforeend", `<option value="${esc(s.id)}">${esc(s.name.ja)} ${esc(s.name.en)}</option>`);
  const today = new Date().toLocaleDateString("sv-SE", { timeZone: "Asia/Tokyo" });
  $("from").value = today.slice(0, 8) + "01";
  $("to").value = today;
  show(true);
  await refreshToday();
  setInterval(refreshToday, 30000);
}

start().catch(() => show(false));
