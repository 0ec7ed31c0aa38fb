// The phone page a ticket's QR opens (/t/<token>): number, state, people ahead, expected wait,
// the number now called; live over /ws (topic ticket:<token>). Seed 004 8(1)3. A finished
// certificate waiting for hand-over (state "ready") says so and where it is handed over. A ticket
// left when the business day closed (state "unserved") says reception has ended (issue 13).
import { Live, esc, minutesHtml } from "/static/live.js";

const token = location.pathname.split("/")[2];
const $ = (id) => document.getElementById(id);

const MESSAGES = {
  waiting: ["○", "順番をお待ちください。", "Please wait for your turn."],
  ready: ["■", "{q}をお待ちください。番号をお呼びしたら、{p}へお越しください。", "Waiting for hand-over ({qe}). When your number is called, please come to {pe}."],
  called: ["▶", "{c}番窓口へお越しください。", "Please go to counter {c}."],
  serving: ["✔", "{c}番窓口で対応中です。", "You are being served at counter {c}."],
  held: ["‖", "保留中です。もう一度お呼びするまでお待ちください。", "On hold: please wait until we call you again."],
  passed: ["⚠", "お呼びした番号を過ぎました。職員にお声がけください。", "Your number has passed. Please speak to a member of staff."],
  done: ["✔", "お手続きは終わりました。ありがとうございました。", "Your visit is complete. Thank you."],
  cancelled: ["✖", "この番号は取り消されました。職員にお声がけください。", "This ticket was cancelled. Please speak to a member of staff."],
  unserved: ["■", "本日の受付は終了しました。お手続きがお済みでない方は、次の開庁日にあらためてお越しください。", "Today's reception has ended. If your business is not done, please come again on the next opening day."],
  missing: ["✖", "この番号札は見つかりません（発券した日のみ有効です）。", "Ticket not found (valid on the day it was issued)."],
};

// Where a queue is served: 「サービスコーナー（24・25番窓口）」 / "Service Corner (counters 24, 25)".
function place(t) {
  const p = t.place || {};
  const n = p.counters || [];
  const section = p.section || { ja: "", en: "" };
  const ja = n.length ? `${section.ja}（${n.join("・")}番窓口）` : section.ja;
  const en = n.length ? `${section.en} (counter${n.length > 1 ? "s" : ""} ${n.join(", ")})` : section.en;
  return [ja, en];
}

function fill(text, t, lang) {
  const [pj, pe] = place(t);
  return text.replace("{c}", t.counter_number ?? "").replace("{q}", t.queue_name.ja).replace("{qe}", t.queue_name.en)
    .replace("{p}", lang === "ja" ? pj : pe).replace("{pe}", pe);
}

function render(t) {
  $("ticket").removeAttribute("aria-busy");
  $("number").textContent = t.display;
  $("queue").innerHTML = `${esc(t.queue_name.ja)}<span lang="en" class="en">${esc(t.queue_name.en)}</span>`;
  const [icon, jaText, enText] = MESSAGES[t.state] || MESSAGES.waiting;
  const ja = fill(jaText, t, "ja");
  const en = fill(enText, t, "en");
  const box = $("message");
  box.dataset.state = t.state;
  box.setAttribute("aria-live", t.state === "called" ? "assertive" : "polite");
  box.innerHTML = `<span class="icon" aria-hidden="true">${icon}</span>${esc(ja)}<span lang="en" class="en">${esc(en)}</span>`;
  const waiting = t.state === "waiting";
  $("ahead").innerHTML = waiting && t.ahead != null ? `${t.ahead}人 <span lang="en" class="en">${t.ahead} ${t.ahead === 1 ? "person" : "people"}</span>` : "—";
  $("wait").innerHTML = waiting ? minutesHtml(t.wait_min) : "—";
  $("serving").textContent = t.now_serving ?? "—";
  document.title = `${t.display} ${ja}`;
}

function missing() {
  $("ticket").removeAttribute("aria-busy");
  $("number").textContent = "—";
  const [icon, ja, en] = MESSAGES.missing;
  const box = $("message");
  box.dataset.state = "cancelled";
  box.innerHTML = `<span class="icon" aria-hidden="true">${icon}</span>${esc(ja)}<span lang="en" class="en">${esc(en)}</span>`;
}

new Live({
  topics: [`ticket:${token}`],
  onTicket: render,
  onError: (err) => { if (err.code === "not_found" || err.code === "unknown_topic") missing(); },
}).start();
