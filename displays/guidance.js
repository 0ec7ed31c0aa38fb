// Guidance display (案内表示機, seed 004 8(3)): one column per flow, each with its colour AND its
// symbol and name; the latest calls ("123 → 5番窓口"), a new one highlighted with a badge and a
// chime for [screens] call_highlight_s; people waiting and expected wait per procedure; the
// hand-over (証明の交付) numbers ready for pickup.
import { Live, OfficeView, chime, closedHtml, esc, minutesHtml, paint, phrased } from "/static/live.js";

const view = new OfficeView();
const fresh = new Map();   // "display@at" → highlight-until (ms)
const $ = (id) => document.getElementById(id);
const key = (c) => `${c.display}@${c.at}`;
// A hand-over flow shows fewer calls, to leave its column to the numbers ready for pickup.
const HANDOVER_CALLS = 3;

function waitCell(q) {
  if (!q.issuing) return closedHtml(q);
  return minutesHtml(q.wait_min);
}

// The display name without its parenthesised examples: 「証明発行（住民票・…）」 → 「証明発行」.
const short = (name) => name.replace(/（.*?）|\(.*?\)/g, "").trim();

function callCard(c, now) {
  const isFresh = (fresh.get(key(c)) || 0) > now;
  return `<li class="call${isFresh ? " fresh" : ""}">
    <span class="no">${esc(c.display)}<span class="sr-only">番</span></span><span class="arrow" aria-hidden="true">→</span>
    <span class="to"><span class="ph">${esc(c.counter_number)}番窓口</span> <span lang="en" class="en">Counter ${esc(c.counter_number)}</span></span>
    <span class="badge">${c.recall ? "再呼出" : "呼出中"} <span lang="en" class="en">${c.recall ? "Again" : "Now"}</span></span></li>`;
}

function readyBlock(ready) {
  const items = ready.map((n) => `<li>${esc(n)}</li>`).join("");
  return `<h2>${phrased("交付準備ができた番号")} <span lang="en" class="en">Ready for pickup</span></h2>
    ${ready.length ? `<ul class="ready" data-total="${ready.length}">${items}<li class="more" hidden></li></ul>` : `<p class="none">ありません <span lang="en" class="en">None</span></p>`}`;
}

function statsBlock(queues) {
  return `<div class="stats"><table>
    <colgroup><col class="c-name"><col class="c-waiting"><col class="c-wait"></colgroup>
    <thead><tr><th scope="col"><span class="sr-only">手続き Procedure</span></th><th scope="col">待ち人数 <span lang="en" class="en">Waiting</span></th><th scope="col">待ち時間 <span lang="en" class="en">Wait</span></th></tr></thead>
    <tbody>${queues.map((q) => `<tr><th scope="row"><span class="mark" aria-hidden="true">${esc(q.symbol)}</span>${phrased(short(q.name.ja))}</th>
      <td>${q.waiting}人</td><td>${waitCell(q)}</td></tr>`).join("")}</tbody></table></div>`;
}

// Whatever does not fit whole in its box goes: call cards from the oldest; ready numbers from the
// newest, counted in a "+N" item (read out as 「ほか N 件」). Nothing is ever cut in half.
function fit(section) {
  const calls = section.querySelector(".calls");
  while (calls && calls.children.length > 1 && calls.scrollHeight > calls.clientHeight) calls.lastElementChild.remove();
  const ready = section.querySelector(".ready");
  if (!ready) return;
  const total = Number(ready.dataset.total);
  const more = ready.querySelector(".more");
  const numbers = () => ready.querySelectorAll("li:not(.more)");
  while (ready.scrollHeight > ready.clientHeight && numbers().length > 0) {
    numbers()[numbers().length - 1].remove();
    const hidden = total - numbers().length;
    more.hidden = false;
    more.innerHTML = `<span aria-hidden="true">+${hidden}</span><span class="sr-only">ほか ${hidden} 件 <span lang="en">and ${hidden} more</span></span>`;
  }
  ready.dataset.shown = String(numbers().length);
}

function render() {
  const d = view.data;
  if (!d) return;
  $("flows").removeAttribute("aria-busy");
  const now = Date.now();
  $("flows").innerHTML = d.flows.map((f) => {
    const queues = view.flowQueues(f.id);
    const ids = new Set(queues.map((q) => q.id));
    const limit = f.handover ? Math.min(HANDOVER_CALLS, d.screens.recent_calls) : d.screens.recent_calls;
    const calls = d.recent_calls.filter((c) => ids.has(c.queue)).slice(0, limit);
    const callList = calls.length ? `<ul class="calls">${calls.map((c) => callCard(c, now)).join("")}</ul>`
      : `<p class="none calls-none">呼出はまだありません <span lang="en" class="en">No calls yet</span></p>`;
    const bottom = f.handover ? readyBlock(queues.flatMap((q) => q.ready || [])) : statsBlock(queues);
    return `<section class="flow${f.handover ? " handover" : ""}" data-flow="${esc(f.id)}" data-colour="${esc(f.colour)}" aria-label="${esc(f.name.ja)} ${esc(f.name.en)}">
      <div class="flow-head"><span class="symbol" aria-hidden="true">${esc(f.symbol)}</span>${phrased(f.name.ja)}<span lang="en" class="en">${esc(f.name.en)}</span></div>
      <h2>呼出番号 <span lang="en" class="en">Calling</span></h2>${callList}${bottom}</section>`;
  }).join("");
  paint($("flows"));
  for (const section of $("flows").querySelectorAll(".flow")) fit(section);
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
// Sizes are measured: again once the fonts are in and whenever the window changes.
document.fonts.ready.then(render);
addEventListener("resize", render);
