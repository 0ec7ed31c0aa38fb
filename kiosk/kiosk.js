// The touch kiosk (番号発券機, seed 004 8(1)): procedures as large buttons with people waiting and
// expected wait → confirmation → the issued number, people ahead, expected wait and the QR of the
// phone page → back to the start after [screens] kiosk_return_s. Five languages, switchable on
// every screen. A double tap never issues two tickets (the button is disabled on the first tap and
// every attempt carries the same Idempotency-Key). Open as /kiosk/?menu=<id>; a paired device's
// token comes once in the URL fragment (#token=…) or from its pairing code.
import { Live, OfficeView, deviceToken, esc, paint, pairDevice } from "/static/live.js";

const LANGS = [
  { id: "ja", lang: "ja", label: "日本語" },
  { id: "easy", lang: "ja", label: "やさしい にほんご" },
  { id: "en", lang: "en", label: "English" },
  { id: "zh", lang: "zh-Hans", label: "中文" },
  { id: "ko", lang: "ko", label: "한국어" },
];

const T = {
  choose: { ja: "手続きを選んでください", easy: "てつづきを えらんで ください", en: "Choose your procedure", zh: "请选择要办理的手续", ko: "용무를 선택해 주세요" },
  choose_hint: { ja: "ボタンにふれてください", easy: "ボタンを さわって ください", en: "Touch a button", zh: "请触摸按钮", ko: "버튼을 눌러 주세요" },
  waiting: { ja: (n) => `待ち ${n}人`, easy: (n) => `まっている ひと ${n}にん`, en: (n) => `${n} waiting`, zh: (n) => `等候 ${n}人`, ko: (n) => `대기 ${n}명` },
  about: { ja: (m) => (m ? `約${m}分` : "まもなく"), easy: (m) => (m ? `だいたい ${m}ふん` : "すぐ"), en: (m) => (m ? `about ${m} min` : "soon"), zh: (m) => (m ? `约${m}分钟` : "马上"), ko: (m) => (m ? `약 ${m}분` : "곧") },
  people: { ja: (n) => `${n}人`, easy: (n) => `${n}にん`, en: (n) => `${n}`, zh: (n) => `${n}人`, ko: (n) => `${n}명` },
  // Why a procedure issues no ticket now: the server's `closed_reason` (decided once, in the core).
  office_closed: { ja: "受付時間外", easy: "いまは うけつけの じかんでは ありません", en: "Outside opening hours", zh: "非受理时间", ko: "접수 시간 외" },
  queue_not_ready: { ja: "準備中", easy: "じゅんびを しています", en: "Opening soon", zh: "准备中", ko: "준비 중" },
  queue_closed: { ja: "受付終了", easy: "うけつけは おわりました", en: "No longer accepting", zh: "已停止受理", ko: "접수 마감" },
  numbers_exhausted: { ja: "発券の上限に達しました", easy: "ばんごうふだが もう ありません", en: "No numbers left", zh: "号码已发完", ko: "번호표 소진" },
  not_issuing: { ja: "ただいま発券できません", easy: "いまは ばんごうふだを だせません", en: "Not issuing now", zh: "现在无法发号", ko: "지금은 발급할 수 없습니다" },
  confirm: { ja: "この手続きの番号札を発行しますか？", easy: "この てつづきの ばんごうふだを だしますか？", en: "Issue a ticket for this procedure?", zh: "要领取这项手续的号码牌吗？", ko: "이 용무의 번호표를 발급할까요?" },
  issue: { ja: "番号札を発行する", easy: "ばんごうふだを だす", en: "Issue ticket", zh: "领取号码牌", ko: "번호표 발급" },
  back: { ja: "戻る", easy: "もどる", en: "Back", zh: "返回", ko: "돌아가기" },
  your_number: { ja: "あなたの番号", easy: "あなたの ばんごう", en: "Your number", zh: "您的号码", ko: "고객님의 번호" },
  ahead: { ja: "待ち人数", easy: "まえに まっている ひと", en: "People ahead", zh: "前面等候人数", ko: "앞 대기 인원" },
  wait: { ja: "待ち時間の目安", easy: "まつ じかん（だいたい）", en: "Expected wait", zh: "预计等候时间", ko: "예상 대기 시간" },
  qr_hint: { ja: "スマートフォンで読み取ると、呼び出しの状況を確認できます", easy: "スマートフォンで よみとると、よばれる じゅんばんが わかります", en: "Scan with your phone to follow your place in line", zh: "用手机扫描即可查看叫号情况", ko: "스마트폰으로 읽으면 호출 상황을 확인할 수 있습니다" },
  no_printer: { ja: "番号札を印刷できないため、画面に表示しています。番号を控えるか、QRコードを読み取ってください。", easy: "かみの ばんごうふだが でません。ばんごうを おぼえるか、QRコードを よみとって ください。", en: "No paper ticket can be printed: please note your number or scan the QR code.", zh: "无法打印号码牌，请记下号码或扫描二维码。", ko: "번호표를 인쇄할 수 없습니다. 번호를 메모하거나 QR 코드를 읽어 주세요." },
  printing: { ja: "番号札を印刷しています…", easy: "ばんごうふだを いんさつ しています…", en: "Printing your ticket…", zh: "正在打印号码牌…", ko: "번호표를 인쇄하고 있습니다…" },
  take_ticket: { ja: "番号札をお取りください", easy: "ばんごうふだを とって ください", en: "Please take your ticket", zh: "请取走号码牌", ko: "번호표를 가져가세요" },
  paper_alt: { ja: (n) => `番号札 ${n} 番（印刷されるものと同じ内容）`, easy: (n) => `ばんごうふだ ${n}ばん`, en: (n) => `Ticket ${n}, as it would be printed`, zh: (n) => `号码牌 ${n}（与打印内容相同）`, ko: (n) => `번호표 ${n}번 (인쇄 내용과 동일)` },
  finish: { ja: (s) => `最初の画面に戻る（${s}秒）`, easy: (s) => `はじめに もどる（${s}びょう）`, en: (s) => `Back to start (${s} s)`, zh: (s) => `返回首页（${s}秒）`, ko: (s) => `처음으로 (${s}초)` },
  problem: { ja: "発券できませんでした", easy: "ばんごうふだを だせませんでした", en: "The ticket could not be issued", zh: "未能发行号码牌", ko: "번호표를 발급하지 못했습니다" },
  retry: { ja: "もう一度試す", easy: "もう いちど", en: "Try again", zh: "重试", ko: "다시 시도" },
  err_office_closed: { ja: "この手続きは、ただいま受付時間外です。", easy: "この てつづきは いま うけつけの じかんでは ありません。", en: "This procedure is outside its opening hours now.", zh: "该手续现在不在受理时间内。", ko: "이 용무는 지금 접수 시간이 아닙니다." },
  err_queue_not_ready: { ja: "この手続きの窓口は、ただいま準備中です。しばらくお待ちください。", easy: "この てつづきの まどぐちは いま じゅんびちゅうです。すこし まって ください。", en: "The counters for this procedure are not open yet. Please wait a moment.", zh: "该手续的窗口正在准备中，请稍候。", ko: "이 용무의 창구는 준비 중입니다. 잠시 기다려 주세요." },
  err_queue_closed: { ja: "この手続きの受付は終了しました。職員にお声がけください。", easy: "この てつづきの うけつけは おわりました。しょくいんに こえを かけて ください。", en: "This procedure is no longer accepting visitors. Please ask a member of staff.", zh: "该手续已停止受理，请向工作人员咨询。", ko: "이 용무의 접수는 마감되었습니다. 직원에게 말씀해 주세요." },
  err_numbers_exhausted: { ja: "この手続きの番号札は発行の上限に達しました。職員にお声がけください。", easy: "この てつづきの ばんごうふだは もう ありません。しょくいんに こえを かけて ください。", en: "No numbers are left for this procedure. Please ask a member of staff.", zh: "该手续的号码已发完，请向工作人员咨询。", ko: "이 용무의 번호표가 소진되었습니다. 직원에게 말씀해 주세요." },
  err_other: { ja: "もう一度お試しいただくか、職員にお声がけください。", easy: "もう いちど ためすか、しょくいんに こえを かけて ください。", en: "Please try again or ask a member of staff.", zh: "请重试，或向工作人员咨询。", ko: "다시 시도하시거나 직원에게 말씀해 주세요." },
  offline: { ja: "ただいま発券できません", easy: "いまは ばんごうふだを だせません", en: "Tickets cannot be issued right now", zh: "现在无法发行号码牌", ko: "지금은 번호표를 발급할 수 없습니다" },
  offline_text: { ja: "サーバーに接続できません。自動で復旧します。お急ぎの方は職員にお声がけください。", easy: "きかいの ちょうしが わるいです。すこし まって ください。いそぐ ひとは しょくいんに こえを かけて ください。", en: "The kiosk cannot reach the server. It will recover by itself. If you are in a hurry, please ask a member of staff.", zh: "无法连接服务器，将自动恢复。如有急事，请向工作人员咨询。", ko: "서버에 연결할 수 없습니다. 자동으로 복구됩니다. 급하신 분은 직원에게 말씀해 주세요." },
  conn: { ja: "サーバーに接続できません。自動で再接続します。", easy: "きかいが つながりません。まって ください。", en: "Connection lost. Reconnecting…", zh: "连接已断开，正在重新连接…", ko: "연결이 끊겼습니다. 다시 연결하는 중…" },
  language: { ja: "言語", easy: "ことば", en: "Language", zh: "语言", ko: "언어" },
};

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const menuId = params.get("menu");
const view = new OfficeView();
let token = deviceToken("madoguchi.kiosk.token");
let lang = "ja";
let screen = "start";
let chosen = null;          // queue id on the confirm screen
let attemptKey = null;      // Idempotency-Key of the current confirmation
let issuing = false;
let issued = null;
let returnTimer = null;
let returnAt = 0;
let online = false;

function t(key, arg) {
  const entry = T[key];
  const value = entry[lang] ?? entry.ja;
  return typeof value === "function" ? value(arg) : value;
}

function langAttr() { return LANGS.find((l) => l.id === lang).lang; }

// A label from the office file in the current language: [text, lang attribute].
function label(name) {
  if (name[lang]) return [name[lang], langAttr()];
  if (lang === "easy") return [name.ja, "ja"];
  return lang === "ja" ? [name.ja, "ja"] : [name.en, "en"];
}

function labelHtml(name) {
  const [text, l] = label(name);
  return l === langAttr() ? esc(text) : `<span lang="${l}">${esc(text)}</span>`;
}

function queues() {
  if (!view.data) return [];
  const menu = view.data.kiosk_menus.find((m) => m.id === menuId);
  const ids = menu ? menu.queues : view.data.queues.filter((q) => q.issuable).map((q) => q.id);
  return ids.map((id) => view.queues.get(id)).filter(Boolean);
}

// Why a queue issues nothing now (the server's `closed_reason`, the same code the API refuses a
// ticket with), each in its own words; never guessed here, so rehearsal never shows 受付時間外.
const REASONS = ["office_closed", "queue_not_ready", "queue_closed", "numbers_exhausted"];

function closedText(q) {
  return t(REASONS.includes(q.closed_reason) ? q.closed_reason : "not_issuing");
}

function waitLine(q) {
  if (!q.issuing) {
    return `<span class="closed-mark" aria-hidden="true">✖</span> <span class="closed-reason" data-reason="${esc(q.closed_reason)}">${esc(closedText(q))}</span>`;
  }
  const m = q.wait_min;
  return `${esc(t("waiting", q.waiting))}${m == null ? "" : ` ・ ${esc(t("about", m))}`}`;
}

function show(name) {
  screen = name;
  for (const s of document.querySelectorAll(".screen")) s.hidden = s.id !== name;
  $("main").removeAttribute("aria-busy");
  const heading = $(name).querySelector("h1");
  if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); }
}

function renderLangs() {
  $("langs").setAttribute("aria-label", t("language"));
  $("langs").innerHTML = LANGS.map((l) =>
    `<button type="button" lang="${l.lang}" data-lang="${l.id}" aria-pressed="${l.id === lang}">${esc(l.label)}</button>`).join("");
}

function renderStatic() {
  document.documentElement.lang = langAttr();
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  $("conn").textContent = t("conn");
  if (view.data) {
    const [name, l] = label(view.data.office.name);
    $("office").innerHTML = `<span lang="${l}">${esc(name)}</span>`;
  }
  renderLangs();
}

function renderProcedures() {
  $("procedures").innerHTML = queues().map((q) => `
    <button type="button" class="procedure" data-queue="${esc(q.id)}" data-colour="${esc(q.colour)}" ${q.issuing ? "" : "disabled"}>
      <span class="symbol" aria-hidden="true">${esc(q.symbol)}</span>
      <span class="name">${labelHtml(q.name)}</span>
      <span class="status">${waitLine(q)}</span>
    </button>`).join("");
  paint($("procedures"));
}

function renderConfirm() {
  const q = view.queues.get(chosen);
  if (!q) return;
  $("confirm-procedure").innerHTML = `<span class="symbol" aria-hidden="true">${esc(q.symbol)}</span> ${labelHtml(q.name)}`;
  $("confirm-wait").innerHTML = waitLine(q);
  $("issue").disabled = issuing || !q.issuing || !online;
}

function renderIssued() {
  if (!issued) return;
  const q = view.queues.get(issued.queue_id);
  $("issued-number").textContent = issued.display;
  $("issued-procedure").innerHTML = q ? labelHtml(q.name) : "";
  $("issued-ahead").textContent = issued.ahead == null ? "—" : t("people", issued.ahead);
  const m = issued.wait_min;
  $("issued-wait").textContent = m == null ? "—" : t("about", m);
  $("issued-qr").src = `/t/${encodeURIComponent(issued.token)}/qr.svg`;
  $("issued-qr").alt = t("qr_hint");
  renderPrint();
  renderCountdown();
}

// The paper ticket: "printing…", then "take your ticket", or, when nothing prints (no printer,
// printer out of paper, cover open, unreachable), the same ticket on screen as a picture.
function renderPrint() {
  const state = issued.printState;
  $("issued-print").textContent = t(state === "printing" ? "printing" : state === "printed" ? "take_ticket" : "no_printer");
  $("issued-print").dataset.state = state;
  $("issued-paper").hidden = state !== "screen";
  if (state === "screen") {
    $("issued-paper-img").src = issued.preview_url;
    $("issued-paper-img").alt = t("paper_alt", issued.display);
  }
}

const PRINTABLE = ["ok", "paper_near_end", "unknown"];

async function followPrint(ticket) {
  let state = "screen";
  try {
    const r = await fetch(`/api/print-jobs/${encodeURIComponent(ticket.print.job)}?wait=8`,
                          { headers: { authorization: `Bearer ${token}` } });
    if (r.ok && (await r.json()).state === "done") state = "printed";
  } catch { /* shown on screen */ }
  if (issued === ticket) {
    ticket.printState = state;
    renderIssued();
  }
}

function renderCountdown() {
  const left = Math.max(0, Math.ceil((returnAt - Date.now()) / 1000));
  $("done").textContent = t("finish", left);
}

function render() {
  renderStatic();
  renderProcedures();
  renderConfirm();
  renderIssued();
}

function toStart() {
  clearInterval(returnTimer);
  chosen = null;
  issued = null;
  attemptKey = null;
  show(online || !view.data ? "start" : "offline");
  render();
}

function choose(queueId) {
  const q = view.queues.get(queueId);
  if (!q || !q.issuing) return;
  chosen = queueId;
  attemptKey = crypto.randomUUID();
  issuing = false;
  renderConfirm();
  show("confirm");
}

async function issue() {
  if (issuing || !chosen) return;
  issuing = true;
  $("issue").disabled = true;
  $("retry").disabled = true;
  try {
    const response = await fetch("/api/tickets", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}`, "idempotency-key": attemptKey },
      body: JSON.stringify({ queue: chosen }),
    });
    const body = await response.json().catch(() => ({}));
    if (response.status === 201) {
      issued = { ...body, queue_id: chosen };
      const job = body.print || {};
      issued.printState = job.state === "done" ? "printed"
        : job.state === "queued" && PRINTABLE.includes(job.printer_state) ? "printing" : "screen";
      if (issued.printState === "printing") followPrint(issued);
      returnAt = Date.now() + view.data.screens.kiosk_return_s * 1000;
      clearInterval(returnTimer);
      returnTimer = setInterval(() => { renderCountdown(); if (Date.now() >= returnAt) toStart(); }, 250);
      renderIssued();
      show("issued");
    } else if (response.status === 401) {
      localStorage.removeItem("madoguchi.kiosk.token");
      token = null;
      show("pairing");
    } else {
      const code = body.error?.code;
      problem(REASONS.includes(code) ? t(`err_${code}`) : t("err_other"));
    }
  } catch {
    problem(t("err_other"));
  } finally {
    issuing = false;
    $("retry").disabled = false;
    renderConfirm();
  }
}

function problem(text) {
  $("problem-text").textContent = text;
  show("problem");
}

async function pair(event) {
  event.preventDefault();
  const paired = await pairDevice($("pair-code").value, "kiosk", "madoguchi.kiosk.token");
  if (paired) {
    token = paired;
    toStart();
  } else {
    $("pair-error").textContent = "登録できませんでした。コードを確かめてください。 Pairing failed: check the code.";
  }
}

document.addEventListener("click", (e) => {
  const langButton = e.target.closest("[data-lang]");
  if (langButton) { lang = langButton.dataset.lang; render(); return; }
  const proc = e.target.closest(".procedure");
  if (proc && !proc.disabled) { choose(proc.dataset.queue); return; }
  const id = e.target.closest("button")?.id;
  if (id === "issue" || id === "retry") issue();
  else if (id === "back" || id === "problem-back" || id === "done") toStart();
});
$("pair-form").addEventListener("submit", pair);

const live = new Live({
  topics: ["office"],
  onSnapshot: (topic, data) => {
    view.snapshot(data);
    online = true;
    if (!token) { renderStatic(); show("pairing"); return; }
    if (screen === "offline" || $("main").hasAttribute("aria-busy")) toStart(); else render();
  },
  onEvent: (m) => { view.event(m); if (screen === "start" || screen === "confirm") { renderProcedures(); renderConfirm(); } },
  onState: (state) => {
    online = state === "online";
    if (state === "lost" && (screen === "start" || screen === "confirm")) { show("offline"); }
    // Back online: a resumed connection brings the missed events, not a snapshot.
    if (state === "online" && screen === "offline" && view.data && token) { toStart(); return; }
    renderConfirm();
  },
});
renderStatic();
live.start();
