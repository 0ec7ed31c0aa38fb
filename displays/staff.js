// Staff display (職員用周知機, seed 004 8(4)): each section's people waiting, longest wait and
// counters open / serving / paused; alerts when a queue's longest wait passes [screens]
// wait_alert_s; the views rotate every [screens] staff_rotate_s (adjustable, 8(4)), and rotation
// can be paused (WCAG 2.2.2); ?view=… pins one view. A paired display: token from #token=… or a pairing code.
import { Live, OfficeView, deviceToken, esc, minutes, pairDevice } from "/static/live.js";

const STORE = "madoguchi.display.token";
const view = new OfficeView();
const $ = (id) => document.getElementById(id);
let token = deviceToken(STORE);
const VIEWS = [sectionsView, queuesView, countersView];
// ?view=sections|queues|counters pins one view on this screen (no rotation).
const pinned = ["sections", "queues", "counters"].indexOf(new URLSearchParams(location.search).get("view"));
let page = Math.max(0, pinned);
let paused = pinned >= 0;
let shownAt = Date.now();
if (pinned >= 0) document.getElementById("rotate").hidden = true;

const longest = (q) => (q.oldest_since ? (Date.now() - Date.parse(q.oldest_since)) / 1000 : 0);
const mins = (s) => `${minutes(s)}分 <span lang="en" class="en">${minutes(s)} min</span>`;

function counts(counters) {
  const open = counters.filter((c) => c.status === "open").length;
  const serving = counters.filter((c) => c.ticket).length;
  const pausedN = counters.filter((c) => c.status === "paused").length;
  return { open, serving, paused: pausedN, closed: counters.length - open - pausedN };
}

function sectionsView(d) {
  const rows = d.sections.map((s) => {
    const queues = d.queues.filter((q) => q.section === s.id);
    const waiting = queues.reduce((n, q) => n + q.waiting, 0);
    const worst = Math.max(0, ...queues.map(longest));
    const c = counts(d.counters.filter((x) => x.section === s.id));
    return `<tr><th scope="row">${esc(s.name.ja)} <span lang="en" class="en">${esc(s.name.en)}</span></th>
      <td class="num">${waiting}人</td><td class="num">${waiting ? mins(worst) : "—"}</td>
      <td class="num">${c.open}</td><td class="num">${c.serving}</td><td class="num">${c.paused}</td><td class="num">${c.closed}</td></tr>`;
  }).join("");
  return `<h2>係別の状況 <span lang="en" class="en">By section</span></h2><table>
    <thead><tr><th scope="col">係 <span lang="en" class="en">Section</span></th><th scope="col">待ち人数 <span lang="en" class="en">Waiting</span></th>
    <th scope="col">最長待ち <span lang="en" class="en">Longest wait</span></th><th scope="col">開設 <span lang="en" class="en">Open</span></th>
    <th scope="col">対応中 <span lang="en" class="en">Serving</span></th><th scope="col">休止 <span lang="en" class="en">Paused</span></th>
    <th scope="col">閉鎖 <span lang="en" class="en">Closed</span></th></tr></thead><tbody>${rows}</tbody></table>`;
}

function queuesView(d) {
  const rows = d.queues.map((q) => `<tr><th scope="row"><span class="mark" aria-hidden="true">${esc(q.symbol)}</span>${esc(q.name.ja)} <span lang="en" class="en">${esc(q.name.en)}</span></th>
    <td class="num">${q.waiting}人</td><td class="num">${q.waiting ? mins(longest(q)) : "—"}</td>
    <td class="num">${q.wait_s == null ? "—" : mins(q.wait_s)}</td><td class="num">${q.open_counters}</td></tr>`).join("");
  return `<h2>手続き別の状況 <span lang="en" class="en">By procedure</span></h2><table>
    <thead><tr><th scope="col">手続き <span lang="en" class="en">Procedure</span></th><th scope="col">待ち人数 <span lang="en" class="en">Waiting</span></th>
    <th scope="col">最長待ち <span lang="en" class="en">Longest wait</span></th><th scope="col">予想待ち時間 <span lang="en" class="en">Expected wait</span></th>
    <th scope="col">開設窓口 <span lang="en" class="en">Open counters</span></th></tr></thead><tbody>${rows}</tbody></table>`;
}

function countersView(d) {
  const STATUS = { open: "受付中 Open", paused: "休止 Paused", closed: "閉鎖 Closed" };
  const cells = d.counters.map((c) => {
    const [ja, en] = STATUS[c.status].split(" ");
    return `<li class="${esc(c.status)}"><strong>${esc(c.label.ja)}</strong>${esc(ja)} <span lang="en" class="en">${esc(en)}</span><br>${c.ticket ? `${esc(c.ticket)}番 ${c.ticket_status === "serving" ? "対応中" : "呼出中"}` : "—"}</li>`;
  }).join("");
  return `<h2>窓口の状況 <span lang="en" class="en">Counters</span></h2><ul class="counter-cells">${cells}</ul>`;
}

// Printer health (issue 4), from the snapshot's printers and the printer.status / print.failed events.
const PRINTER_STATES = {
  paper_near_end: ["用紙残りわずか", "paper running low"],
  paper_end: ["用紙切れ", "out of paper"],
  cover_open: ["カバーが開いています", "cover open"],
  offline: ["接続できません", "offline"],
  error: ["エラー", "error"],
};
let printers = new Map();

function printerEvent(e) {
  const p = printers.get(e.printer);
  if (!p) return;
  if (e.type === "printer.status") {
    p.state = e.state;
    p.since = e.at;
  } else if (e.type === "print.failed") {
    p.failed.push({ job: e.job, ticket: e.ticket, display: e.display });
  }
}

function printerAlerts() {
  const out = [];
  for (const p of printers.values()) {
    const words = PRINTER_STATES[p.state];
    if (words) {
      const since = p.since ? new Date(p.since).toLocaleTimeString("ja-JP", { hour: "2-digit", minute: "2-digit", timeZone: "Asia/Tokyo" }) : "";
      out.push(`<li class="printer" data-printer="${esc(p.printer)}"><span aria-hidden="true">⚠ </span>${esc(p.name.ja)}：${words[0]}${since ? `（${since}から）` : ""}
        <span lang="en" class="en">${esc(p.name.en)}: ${words[1]}${since ? ` since ${since}` : ""}</span></li>`);
    }
    if (p.failed.length) {
      const numbers = p.failed.map((f) => esc(f.display)).join("、");
      out.push(`<li class="printer"><span aria-hidden="true">⚠ </span>${esc(p.name.ja)}：印刷できなかった番号札 ${numbers}（窓口で再発行できます）
        <span lang="en" class="en">${esc(p.name.en)}: tickets not printed ${numbers} (reprint at a counter)</span></li>`);
    }
  }
  return out.join("");
}

// Steps of the server's clock today (issue 13): the snapshot's clock_jumps and clock.jumped events.
let clockJumps = [];

function span(seconds) {
  const t = Math.round(Math.abs(seconds));
  const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t % 60;
  if (h) return [`${h}時間${m}分`, `${h} h ${m} min`];
  return m ? [`${m}分${s}秒`, `${m} min ${s} s`] : [`${s}秒`, `${s} s`];
}

function clockAlert() {
  const j = clockJumps[clockJumps.length - 1];
  if (!j) return "";
  const [ja, en] = span(j.step_s);
  const back = j.step_s < 0;
  const at = new Date(j.at).toLocaleTimeString("ja-JP", { hour: "2-digit", minute: "2-digit", timeZone: "Asia/Tokyo" });
  return `<li class="clock-jump"><span aria-hidden="true">⚠ </span>サーバーの時計が${ja}${back ? "戻りました" : "進みました"}（${at}、記録済み）。管理者に連絡してください。
    <span lang="en" class="en">The server's clock stepped ${back ? "back" : "forward"} ${en} (${at}, logged). Tell an administrator.</span></li>`;
}

function alerts(d) {
  const limit = d.screens.wait_alert_s;
  return clockAlert() + printerAlerts() + d.queues.filter((q) => q.waiting && longest(q) >= limit).map((q) =>
    `<li><span aria-hidden="true">⚠ </span>${esc(q.name.ja)}：最長待ち ${minutes(longest(q))}分（基準 ${minutes(limit)}分）
     <span lang="en" class="en">${esc(q.name.en)}: longest wait ${minutes(longest(q))} min (limit ${minutes(limit)} min)</span></li>`).join("");
}

function render() {
  const d = view.data;
  if (!d) return;
  $("main").removeAttribute("aria-busy");
  $("alerts").innerHTML = alerts(d);
  $("view").innerHTML = VIEWS[page](d);
  $("page").textContent = `${page + 1} / ${VIEWS.length}`;
}

function tick() {
  $("clock").textContent = new Date().toLocaleTimeString("ja-JP", { hour: "2-digit", minute: "2-digit", timeZone: "Asia/Tokyo" });
  if (!view.data) return;
  if (!paused && Date.now() - shownAt >= view.data.screens.staff_rotate_s * 1000) {
    page = (page + 1) % VIEWS.length;
    shownAt = Date.now();
  }
  render();
}

$("rotate").addEventListener("click", () => {
  paused = !paused;
  $("rotate").setAttribute("aria-pressed", String(paused));
  $("rotate").innerHTML = paused ? `表示切替を再開 <span lang="en" class="en">Resume rotation</span>` : `表示切替を停止 <span lang="en" class="en">Pause rotation</span>`;
  shownAt = Date.now();
});

$("pairing").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (await pairDevice($("pair-code").value, "display", STORE)) location.reload();
  else $("pair-error").textContent = "登録できませんでした。 Pairing failed.";
});

if (!token) {
  $("main").removeAttribute("aria-busy");
  $("pairing").hidden = false;
} else {
  new Live({
    topics: ["staff"],
    token,
    onSnapshot: (topic, data) => {
      view.snapshot(data);
      printers = new Map((data.printers || []).map((p) => [p.printer, { ...p, failed: [...p.failed] }]));
      clockJumps = [...(data.clock_jumps || [])];
      render();
    },
    onEvent: (m) => {
      view.event(m);
      printerEvent(m.event);
      if (m.event.type === "clock.jumped") clockJumps.push(m.event);
      render();
    },
    onError: (err) => {
      if (err.code === "unauthenticated" || err.code === "forbidden") {
        localStorage.removeItem(STORE);
        $("pairing").hidden = false;
        $("pair-error").textContent = "この画面の登録が無効です。 This display's pairing is no longer valid.";
      }
    },
  }).start();
}
setInterval(tick, 1000);
