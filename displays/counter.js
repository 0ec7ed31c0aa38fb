// Counter display (個別表示機, seed 004 8(2)): after a call, the counter number and the ticket
// number, large enough to read at 5 m. Open as /displays/counter.html?counter=<id>.
import { Live, OfficeView, esc } from "/static/live.js";

const counterId = new URLSearchParams(location.search).get("counter") || "1";
const view = new OfficeView();
const $ = (id) => document.getElementById(id);
const STATES = {
  called: ["お呼び出し中", "Now calling"], serving: ["受付中", "Now serving"],
  paused: ["休止中", "Paused"], closed: ["受付終了", "Closed"], open: ["お待ちください", "Please wait"],
};

function render() {
  const c = view.counters.get(counterId);
  $("main").removeAttribute("aria-busy");
  if (!c) {
    $("which").textContent = `窓口 ${counterId} は設定にありません / No counter ${counterId}`;
    return;
  }
  $("which").innerHTML = `${esc(c.label.ja)}<span lang="en" class="en">${esc(c.label.en)}</span>`;
  document.title = `${c.label.ja} ${c.ticket ?? ""}`;
  const [ja, en] = STATES[c.ticket ? c.ticket_status : c.status] || STATES.open;
  if (c.ticket) {
    $("label").innerHTML = `受付番号 <span lang="en" class="en">Number</span>`;
    $("number").textContent = c.ticket;
  } else {
    $("label").textContent = "";
    $("number").textContent = "";
  }
  $("state").hidden = false;
  $("state").innerHTML = `${esc(ja)} <span lang="en" class="en">${esc(en)}</span>`;
}

new Live({
  topics: ["office"],
  onSnapshot: (topic, data) => { view.snapshot(data); render(); },
  onEvent: (m) => { view.event(m); if ((m.counters || []).some((c) => c.id === counterId)) render(); },
}).start();
