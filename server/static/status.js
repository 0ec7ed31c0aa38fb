// The public status page (/status) for the city's website: every flow's procedures with people
// waiting and expected wait (seed 004 8(5)). No personal data: it reads the public office topic.
import { Live, OfficeView, closedHtml, esc, minutesHtml, paint } from "/static/live.js";

const view = new OfficeView();
const $ = (id) => document.getElementById(id);

function waitText(q) {
  if (!q.issuing) return closedHtml(q);
  return minutesHtml(q.wait_min);
}

function render() {
  const d = view.data;
  $("main").removeAttribute("aria-busy");
  $("office").innerHTML = `${esc(d.office.name.ja)} 窓口の混雑状況<span lang="en" class="en">${esc(d.office.name.en)}: waiting times</span>`;
  $("opening").innerHTML = d.open && d.opening
    ? `本日の受付時間 ${esc(d.opening.opens)}〜${esc(d.opening.closes)} <span lang="en" class="en">Open today ${esc(d.opening.opens)}–${esc(d.opening.closes)}</span>`
    : `ただいま受付時間外です <span lang="en" class="en">Closed now</span>`;
  $("flows").innerHTML = d.flows.map((f) => {
    const rows = view.flowQueues(f.id).map((q) => `<tr>
        <th scope="row"><span class="mark" aria-hidden="true">${esc(q.symbol)}</span>${esc(q.name.ja)}<span lang="en" class="en">${esc(q.name.en)}</span></th>
        <td class="num">${q.waiting}人<span lang="en" class="en">${q.waiting} waiting</span></td>
        <td class="num">${f.handover ? "—" : waitText(q)}</td></tr>`).join("");
    return `<table><caption><span class="flow-mark" aria-hidden="true" data-colour="${esc(f.colour)}">${esc(f.symbol)}</span> ${esc(f.name.ja)}<span lang="en" class="en">${esc(f.name.en)}</span></caption>
      <thead><tr><th scope="col">手続き <span lang="en" class="en">Procedure</span></th><th scope="col">待ち人数 <span lang="en" class="en">Waiting</span></th><th scope="col">待ち時間 <span lang="en" class="en">Expected wait</span></th></tr></thead>
      <tbody>${rows}</tbody></table>`;
  }).join("");
  paint($("flows"));
}

new Live({
  topics: ["office"],
  onSnapshot: (topic, data) => { view.snapshot(data); render(); },
  onEvent: (m) => { view.event(m); render(); },
}).start();
