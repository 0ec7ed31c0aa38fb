// The public status page (/status) for the city's website: every flow's procedures with people
// waiting and expected wait (seed 004 8(5)). No personal data: it reads the public office topic.
import { Live, OfficeView, closedHtml, esc, minutesHtml, paint, phrased } from "/static/live.js";

const view = new OfficeView();
const $ = (id) => document.getElementById(id);

function waitText(q) {
  if (!q.issuing) return closedHtml(q);
  return minutesHtml(q.wait_min);
}

function render() {
  const d = view.data;
  $("main").removeAttribute("aria-busy");
  $("office").innerHTML = `${phrased(d.office.name.ja)} ${phrased("窓口の混雑状況")}<span lang="en" class="en">${esc(d.office.name.en)}: waiting times</span>`;
  $("opening").innerHTML = d.open && d.opening
    ? `本日の受付時間 ${esc(d.opening.opens)}〜${esc(d.opening.closes)} <span lang="en" class="en">Open today ${esc(d.opening.opens)}–${esc(d.opening.closes)}</span>`
    : `ただいま受付時間外です <span lang="en" class="en">Closed now</span>`;
  // One card per procedure (name on its own line, then the two figures side by side): a table's
  // three columns squeezed the names to a character or two per line on a 360 px phone.
  $("flows").innerHTML = d.flows.map((f) => {
    const items = view.flowQueues(f.id).map((q) => `<li class="procedure" data-queue="${esc(q.id)}">
        <h3><span class="mark" aria-hidden="true">${esc(q.symbol)}</span>${phrased(q.name.ja)}<span lang="en" class="en">${esc(q.name.en)}</span></h3>
        <dl class="figures">
          <div><dt>待ち人数 <span lang="en" class="en">Waiting</span></dt><dd class="waiting">${q.waiting}人<span lang="en" class="en">${q.waiting} waiting</span></dd></div>
          <div><dt>待ち時間 <span lang="en" class="en">Expected wait</span></dt><dd class="wait">${f.handover ? "—" : waitText(q)}</dd></div>
        </dl></li>`).join("");
    return `<section class="flow" aria-labelledby="flow-${esc(f.id)}">
      <h2 id="flow-${esc(f.id)}"><span class="flow-mark" aria-hidden="true" data-colour="${esc(f.colour)}">${esc(f.symbol)}</span> ${phrased(f.name.ja)}<span lang="en" class="en">${esc(f.name.en)}</span></h2>
      <ul class="procedures">${items}</ul></section>`;
  }).join("");
  paint($("flows"));
}

new Live({
  topics: ["office"],
  onSnapshot: (topic, data) => { view.snapshot(data); render(); },
  onEvent: (m) => { view.event(m); render(); },
}).start();
