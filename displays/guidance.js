// Guidance display (案内表示機, seed 004 8(3)): one column per flow, each with its colour AND its
// symbol and name; the latest calls ("123 → 5番窓口"), a new one highlighted with a badge and a
// chime for [screens] call_highlight_s; people waiting and expected wait per procedure; the
// hand-over (証明の交付) numbers ready for pickup.
import { Live, OfficeView, chime, closedHtml, esc, minutesHtml, paint } from "/static/live.js";

const view = new OfficeView();
const fresh = new Map();   // "display@at" → highlight-until (ms)
const $ = (id) => document.getElementById(id);
const key = (c) => `${c.display}@${c.at}`;

function waitCell(q) {
  if (!q.issuing) return closedHtml(q);
  return minutesHtml(q.wait_min);
}

// The display name without its parenthesised examples: 「証明発行（住民票・…）」 → 「証明発行」.
const short = (name) => name.replace(/（.*?）|\(.*?\)/g, "").trim();

function render() {
  const d = view.data;
  if (!d) return;
  $("flows").removeAttribute("aria-busy");
  const now = Date.now();
  const limit = d.screens.recent_calls;
  $("flows").innerHTML = d.flows.map((f) => {
    const queues = view.flowQueues(f.id);
    const ids = new Set(queues.map((q) => q.id));
    const calls = d.recent_calls.filter((c) => ids.has(c.queue)).slice(0, limit);
    const callList = calls.length ? `<ul class="calls">${calls.map((c) => {
      const isFresh = (fresh.get(key(c)) || 0) > now;
      return `<li class="call${isFresh ? " fresh" : ""}"><span class="badge">${c.recall ? "再呼出" : "呼出中"} <span lang="en" class="en">${c.recall ? "Again" : "Now"}</span></span>
        <span class="no">${esc(c.display)}<span class="sr-only">番</span></span><span class="arrow" aria-hidden="true">→</span>
        <span class="to">${esc(c.counter_number)}番窓口 <span lang="en" class="en">Counter ${esc(c.counter_number)}</span></span></li>`;
    }).join("")}</ul>` : `<p class="none">呼出はまだありません <span lang="en" class="en">No calls yet</span></p>`;
    const ready = f.handover ? queues.flatMap((q) => q.ready || []) : [];
    const readyBlock = f.handover ? `<h2>交付準備ができた番号 <span lang="en" class="en">Ready for pickup</span></h2>
      ${ready.length ? `<ul class="ready">${ready.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>` : `<p class="none">ありません <span lang="en" class="en">None</span></p>`}` : "";
    const stats = f.handover ? "" : `<div class="stats"><table>
      <thead><tr><th scope="col"><span class="sr-only">手続き Procedure</span></th><th scope="col">待ち人数 <span lang="en" class="en">Waiting</span></th><th scope="col">待ち時間 <span lang="en" class="en">Wait</span></th></tr></thead>
      <tbody>${queues.map((q) => `<tr><th scope="row"><span class="mark" aria-hidden="true">${esc(q.symbol)}</span>${esc(short(q.name.ja))}</th>
        <td>${q.waiting}人</td><td>${waitCell(q)}</td></tr>`).join("")}</tbody></table></div>`;
    return `<section class="flow" data-colour="${esc(f.colour)}" aria-label="${esc(f.name.ja)} ${esc(f.name.en)}">
      <div class="flow-head"><span class="symbol" aria-hidden="true">${esc(f.symbol)}</span>${esc(f.name.ja)}<span lang="en" class="en">${esc(f.name.en)}</span></div>
      <h2>呼出番号 <span lang="en" class="en">Calling</span></h2>${callList}${readyBlock}${stats}</section>`;
  }).join("");
  paint($("flows"));
}

function tick() {
  const now = new Date();
  $("clock").textContent = now.toLocaleTimeString("ja-JP", { hour: "2-digit", minute: "2-digit", timeZone: "Asia/Tokyo" });
  for (const [k, until] of fresh) if (until <= Date.now()) { fresh.delete(k); render(); }
}

new Live({
  topics: ["office"],
  onSnapshot: (topic, data) => { view.snapshot(data); $("office").innerHTML = `${esc(data.office.name.ja)} <span lang="en" class="en">${esc(data.office.name.en)}</span>`; render(); },
  onEvent: (m) => {
    const call = view.event(m);
    if (call) {
      fresh.set(key(call), Date.now() + view.data.screens.call_highlight_s * 1000);
      chime();
      $("announce").textContent = `${call.display}番の方、${call.counter_number}番窓口へお越しください。 Number ${call.display}, please go to counter ${call.counter_number}.`;
    }
    render();
  },
}).start();
setInterval(tick, 1000);
tick();
