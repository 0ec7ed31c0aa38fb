// The portal: find a procedure by words (kana- and width-insensitive, decided by the server: GET
// /apply/api/procedures?q=), by life event or by category; a procedure's page and its start.
import { api } from "/apply/api.js";
import { IDENTITY, bi, esc, loc, plain, yen } from "/apply/text.js";
import { $, announce, problemBox, problemView, show } from "/apply/ui.js";
import { start } from "/apply/runner.js";

let everything = null;   // the unfiltered catalogue: labels and counts for browsing

async function catalogue(params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v));
  const text = query.toString();
  return api("GET", `/apply/api/procedures${text ? `?${text}` : ""}`);
}

function card(p) {
  const [feeJa, feeEn] = yen(p.fee_yen);
  const [idJa, idEn] = IDENTITY[p.identity] || [p.identity, p.identity];
  return `<li class="card">
    <h3><a href="#/p/${esc(p.slug)}">${loc(p.name)}</a></h3>
    <p>${loc(p.description)}</p>
    <dl class="card-facts">
      <div><dt>${bi("手数料", "Fee")}</dt><dd>${bi(feeJa, feeEn)}</dd></div>
      <div><dt>${bi("本人確認", "Identity check")}</dt><dd>${bi(idJa, idEn)}</dd></div>
      <div><dt>${bi("分類", "Category")}</dt><dd>${bi(p.category_label[0], p.category_label[1])}</dd></div>
    </dl></li>`;
}

function browse(kind, list, counts, current) {
  const [ja, en] = kind === "event" ? ["くらしのできごとから探す", "Find by life event"] : ["分類から探す", "Find by category"];
  const items = list.filter((x) => counts[x.id]);
  return `<nav class="browse" aria-labelledby="browse-${kind}">
    <h2 id="browse-${kind}">${bi(ja, en)}</h2>
    <ul class="chips">${items.map((x) => `<li><a href="#/${kind}/${esc(x.id)}"${x.id === current ? ' aria-current="page"' : ""}>
      ${bi(x.label[0], x.label[1])} <span class="count">(${counts[x.id]})</span></a></li>`).join("")}</ul></nav>`;
}

// The portal, filtered by { q, category, event } (one at most).
export async function home(filter = {}) {
  let found;
  try {
    everything = everything || await catalogue();
    found = filter.q || filter.category || filter.event
      ? await catalogue({ q: filter.q, category: filter.category, life_event: filter.event })
      : everything;
  } catch (problem) {
    problemView(problem, ["手続の一覧を表示できません", "The procedures cannot be shown"]);
    return;
  }
  const byEvent = {};
  const byCategory = {};
  for (const p of everything.procedures) {
    byCategory[p.category] = (byCategory[p.category] || 0) + 1;
    for (const e of p.life_events) byEvent[e.id] = (byEvent[e.id] || 0) + 1;
  }
  const n = found.procedures.length;
  let heading = ["手続の一覧", "All procedures"];
  let title = "手続を探す";
  if (filter.q) {
    heading = [`「${filter.q}」の検索結果`, `Results for “${filter.q}”`];
    title = heading[0];
  } else if (filter.category || filter.event) {
    const list = filter.category ? everything.categories : everything.life_events;
    const label = list.find((x) => x.id === (filter.category || filter.event))?.label || ["", ""];
    heading = [`${label[0]}の手続`, `${label[1]}`];
    title = heading[0];
  }
  const filtered = filter.q || filter.category || filter.event;
  const browsing = browse("event", everything.life_events, byEvent, filter.event)
    + browse("category", everything.categories, byCategory, filter.category);
  show(`<h1>${bi("オンライン申請", "Online applications")}</h1>
    <p class="lead">${bi("市役所の手続を、スマートフォンやパソコンから申請できます。",
      "Apply to the city hall from your phone or computer.")}</p>
    <form role="search" class="search" id="search" aria-label="手続の検索 Search">
      <label for="q" class="label">${bi("手続を探す", "Search for a procedure")}</label>
      <div class="hint" id="q-hint">${bi("例: じゅうみんひょう、犬、児童手当", "e.g. juminhyo, dog, child allowance")}</div>
      <div class="with-button">
        <input type="search" id="q" name="q" value="${esc(filter.q || "")}" aria-describedby="q-hint" autocomplete="off" enterkeyhint="search">
        <button type="submit" class="primary">${bi("検索", "Search")}</button>
      </div>
    </form>
    <p class="resume-link"><a href="#/resume">${bi("保存した申請を再開する", "Resume a saved application")}</a></p>
    ${filtered ? "" : browsing}
    <section aria-labelledby="results-title" class="results">
      <h2 id="results-title" tabindex="-1">${bi(heading[0], heading[1])} <span class="count">${bi(`${n}件`, `${n} found`)}</span></h2>
      ${filtered ? `<p><a href="#/">${bi("すべての手続を表示", "Show all procedures")}</a></p>` : ""}
      ${n ? `<ul class="cards">${found.procedures.map(card).join("")}</ul>`
        : `<p class="empty">${bi("見つかりませんでした。ほかの言葉や、ひらがなで探してみてください。",
          "Nothing found. Try other words.")}</p>`}
    </section>
    ${filtered ? browsing : ""}`,
  title, { focus: filtered ? "#results-title" : "h1" });
  if (filtered) announce(bi(`${n}件見つかりました。`, `${n} found.`));
  $("#search").addEventListener("submit", (event) => {
    event.preventDefault();
    const q = $("#q").value.trim();
    location.hash = q ? `#/search/${encodeURIComponent(q)}` : "#/";
  });
}

// A procedure's page: what it is, its fee and identity check, what to have ready, and 「申請を始める」.
export async function procedure(slug) {
  let data;
  try {
    data = await api("GET", `/apply/api/procedures/${encodeURIComponent(slug)}`);
  } catch (problem) {
    problemView(problem, ["この手続は表示できません", "This procedure cannot be shown"]);
    return;
  }
  const p = data.procedure;
  const form = data.version.form;
  const [feeJa, feeEn] = yen(p.fee_yen);
  const [idJa, idEn] = IDENTITY[p.identity] || [p.identity, p.identity];
  const files = form.pages.flatMap((page) => page.questions || []).flatMap((q) => (q.type === "group" ? q.questions : [q]))
    .filter((q) => q.type === "file");
  show(`<p class="back"><a href="#/" class="back-link">${bi("手続の一覧", "All procedures")}</a></p>
    <h1>${loc(p.name)}</h1>
    <p class="lead">${loc(p.description)}</p>
    <dl class="facts">
      <div><dt>${bi("担当", "Section")}</dt><dd>${esc(p.section)}</dd></div>
      <div><dt>${bi("手数料", "Fee")}</dt><dd>${bi(feeJa, feeEn)}</dd></div>
      <div><dt>${bi("本人確認", "Identity check")}</dt><dd>${bi(idJa, idEn)}</dd></div>
      <div><dt>${bi("入力するページ", "Pages to fill")}</dt><dd>${bi(`最大${form.pages.filter((x) => !x.exit).length}ページ`, `up to ${form.pages.filter((x) => !x.exit).length}`)}</dd></div>
    </dl>
    ${files.length ? `<h2>${bi("用意するもの", "What you need")}</h2>
      <ul>${files.map((q) => `<li>${loc(q.label)}</li>`).join("")}</ul>
      <p class="hint">${bi("写真（JPEG・PNG）かPDFで添付します。", "You attach them as a photo (JPEG, PNG) or a PDF.")}</p>` : ""}
    <p>${bi("途中で保存して、後で続きから入力できます。", "You can save your answers and finish later.")}</p>
    <div id="start-problem"></div>
    <div class="actions"><button type="button" class="primary start" id="start">${bi("申請を始める", "Start now")}</button></div>`,
  plain(p.name));
  const button = $("#start");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await start(slug);
    } catch (problem) {
      button.disabled = false;
      $("#start-problem").innerHTML = problemBox(problem);
    }
  });
}
