// The form builder (様式の作成, issue 14 point 2; seeds 000 5.2, 002 2.3): staff make and change a
// procedure and its form without writing code. Pages, questions and options are added, moved (up and
// down buttons, so the keyboard does everything) and removed; conditions and routes are chosen from
// lists (question, operator, value) and kept as JSON Logic; the draft is saved (422 form_invalid:
// each problem beside the page or question it names), previewed on a 375 px phone frame, compared
// with the published version, sent for approval, and published by a supervisor or admin (the button
// shows only for them). Also: restore an old version, copy, export and import the shared file.
// Views by the address's fragment: "" the catalogue, "#new" a new procedure, "#p/<id>" one procedure.
import {
  $, OPS, PROCEDURE_STATE, VERSION_STATE, both, call, choiceOf, describe, esc, finder, opsFor, optionsOf,
  questionHtml, ruleOf, showFieldErrors, signIn, when,
} from "/counter/forms-common.js";

// online_forms/form.py and procedure.py, as staff read them.
const TYPES = {
  text: ["短い文章", "Short text"], long_text: ["長い文章", "Long text"], number: ["数値", "Number"], date: ["日付", "Date"],
  choice: ["一つを選ぶ", "Single choice"], multi_choice: ["複数を選ぶ", "Multiple choice"], yes_no: ["はい・いいえ", "Yes or no"],
  email: ["メールアドレス", "Email address"], phone: ["電話番号", "Phone number"], file: ["ファイル添付", "File"],
  name: ["氏名（フリガナ付き）", "Name (with reading)"], address: ["住所（郵便番号から）", "Address (from the postal code)"],
  birth_date: ["生年月日（和暦も表示）", "Date of birth"], sex: ["性別", "Sex"], group: ["繰り返し（家族など）", "Repeatable group"],
};
const CONSTRAINTS = {
  text: ["min_length", "max_length", "pattern", "pattern_message"], long_text: ["min_length", "max_length", "pattern", "pattern_message"],
  number: ["minimum", "maximum", "integer"], date: ["min_date", "max_date"], birth_date: ["min_date", "max_date"],
  choice: ["options"], multi_choice: ["options", "min_items", "max_items"], yes_no: [], email: [], phone: [],
  file: ["accept", "max_bytes"], name: ["kana"], address: [], sex: ["allow_unanswered"],
  group: ["questions", "min_items", "max_items", "item_label"],
};
const ALL_CONSTRAINTS = [...new Set(Object.values(CONSTRAINTS).flat())];
const FILE_TYPES = { "application/pdf": "PDF", "image/jpeg": "JPEG", "image/png": "PNG", "image/heic": "HEIC" };
const CATEGORIES = {
  certificates: ["証明書", "Certificates"], registration: ["届出", "Notifications"], children: ["子育て・教育", "Children and education"],
  welfare: ["福祉・介護", "Welfare and care"], health: ["健康・保険・年金", "Health, insurance and pensions"], tax: ["税", "Tax"],
  environment: ["環境・ごみ", "Environment and waste"], animals: ["動物", "Animals"], other: ["その他", "Other"],
};
const LIFE_EVENTS = {
  moving: ["引越し", "Moving house"], birth: ["出生", "Birth"], marriage: ["結婚", "Marriage"], divorce: ["離婚", "Divorce"],
  death: ["おくやみ", "Bereavement"], childcare: ["子育て", "Raising children"], care: ["介護", "Long-term care"],
  employment: ["就職・退職", "Starting or leaving a job"], pets: ["ペット", "Pets"], housing: ["住まい・ごみ", "Home and waste"],
};
const IDENTITY = { none: ["不要", "None"], email: ["確認済みのメールアドレス", "A verified email address"],
                   my_number_card: ["マイナンバーカード", "My Number Card"] };
const CHANGE_KIND = { added: ["追加", "Added"], removed: ["削除", "Removed"], moved: ["移動", "Moved"], changed: ["変更", "Changed"] };
const CHANGE_WHAT = { page: ["ページ", "Page"], question: ["質問", "Question"], form: ["様式", "Form"] };
const FIELD_NAMES = {
  label: "質問文 label", hint: "補足 hint", required: "必須 required", show_if: "表示条件 condition", routes: "行き先 routes",
  title: "タイトル title", description: "説明 description", options: "選択肢 options", type: "種類 type", questions: "項目 questions",
};

let me = null;
let catalogue = null;     // GET /api/forms/procedures
let procedure = null;     // GET /api/forms/procedures/{pid}, with `editable` from the catalogue
let doc = null;           // the form document being edited
let dirty = false;
let previewPage = 0;
const keys = new WeakMap();
let nextKey = 1;
const expanded = new Set();
const stash = new WeakMap();   // an exit page's questions, kept while it is an exit page

const key = (obj) => { if (!keys.has(obj)) keys.set(obj, nextKey++); return `k${keys.get(obj)}`; };
const L = (pair) => both(pair);
const en = (pair) => `<span lang="en" class="en">${esc(pair[1])}</span>`;

// ------------------------------------------------------------------------------------------- paths
const parts = (loc) => (loc === "" ? [] : loc.split(".").map((p) => (/^\d+$/.test(p) ? Number(p) : p)));
function get(loc) { return parts(loc).reduce((o, p) => (o == null ? undefined : o[p]), doc); }
function set(loc, value) {
  const ps = parts(loc);
  let o = doc;
  for (const p of ps.slice(0, -1)) { if (o[p] == null) o[p] = {}; o = o[p]; }
  if (value === undefined) delete o[ps[ps.length - 1]]; else o[ps[ps.length - 1]] = value;
}
const parentLoc = (loc) => parts(loc).slice(0, -1).join(".");
const join = (...xs) => xs.filter((x) => x !== "").join(".");

function allIds() {
  const ids = new Set();
  for (const p of doc.pages) for (const q of p.questions || []) { ids.add(q.id); for (const s of q.questions || []) ids.add(s.id); }
  return ids;
}
function uniqueId(base, taken) {
  for (let n = 1; ; n++) { const id = `${base}_${n}`; if (!taken.has(id)) return id; }
}

// ------------------------------------------------------------------------------------------- catalogue
async function loadCatalogue() {
  catalogue = await call("GET", "/api/forms/procedures");
}

function renderCatalogue() {
  $("role-note").innerHTML = catalogue.may_publish
    ? `あなたは様式を承認して公開できます。 <span lang="en" class="en">You may approve and publish forms.</span>`
    : `下書きを作り、公開を依頼できます。公開は監督者・管理者が承認して行います。 <span lang="en" class="en">You draft and ask for publication; a supervisor or admin publishes.</span>`;
  const rows = catalogue.procedures.map((p) => `<tr>
    <th scope="row"><a href="#p/${esc(p.id)}">${both(p.name)}</a></th><td><code>${esc(p.slug)}</code></td><td>${esc(p.section)}</td>
    <td>${L(PROCEDURE_STATE[p.state] || [p.state, p.state])}</td>
    <td>${p.published ? `第${p.published}版 ${en(["", `v${p.published}`])}` : "—"}</td>
    <td>${p.draft ? `第${p.draft.number}版 ${L(VERSION_STATE[p.draft.state])}` : "—"}</td>
    <td>${p.editable ? `<span class="mark-editable">✎ 編集できます ${en(["", "Editable"])}</span>` : `閲覧のみ ${en(["", "Read only"])}`}</td></tr>`).join("");
  $("procedures").innerHTML = `<table class="procedures"><caption class="sr-only">手続の一覧 Procedures</caption>
    <thead><tr><th scope="col">手続 ${en(["", "Procedure"])}</th><th scope="col">短縮名 ${en(["", "Short name"])}</th>
    <th scope="col">係 ${en(["", "Section"])}</th><th scope="col">受付 ${en(["", "State"])}</th><th scope="col">公開中 ${en(["", "Published"])}</th>
    <th scope="col">下書き ${en(["", "Draft"])}</th><th scope="col">編集 ${en(["", "Editing"])}</th></tr></thead><tbody>${rows}</tbody></table>`;
}

async function importFile(e) {
  const file = e.target.files[0];
  if (!file) return;
  const box = $("import-result");
  let parsed;
  try {
    parsed = JSON.parse(await file.text());
  } catch (err) {
    box.innerHTML = `<div class="error-summary"><p>⚠ JSONとして読めません。 <span lang="en" class="en">The file is not JSON.</span> ${esc(err.message)}</p></div>`;
    return;
  }
  try {
    const made = await call("POST", "/api/forms/import", { file: parsed });
    box.innerHTML = `<p class="message" data-kind="ok">✓ 「${esc(made.name.ja)}」を下書きとして取り込みました。 <a href="#p/${esc(made.id)}">開く ${en(["", "Open"])}</a></p>`;
    await loadCatalogue();
    renderCatalogue();
  } catch (err) {
    const list = (err.details || []).map((d) => `<li><code>${esc(d.field)}</code>: ${esc(d.problem)}</li>`).join("");
    box.innerHTML = `<div class="error-summary" id="import-problems"><h4>取り込めませんでした（${err.details?.length || 1}件の問題） ${en(["", "Not imported"])}</h4>
      <p>${esc(err.message)}</p>${list ? `<ul>${list}</ul>` : ""}</div>`;
  } finally {
    e.target.value = "";
  }
}

// ------------------------------------------------------------------------------------------- procedure details
function detailsHtml(p, prefix) {
  const id = (name) => `${prefix}-${name}`;
  const field = (name, label, input, hint = "") => `<div class="question"><label for="${id(name)}">${label}</label>
    ${hint ? `<p class="hint">${hint}</p>` : ""}<p class="field-error" id="${id(name)}-error" hidden></p>${input}</div>`;
  const text = (name, value, extra = "") => `<input id="${id(name)}" value="${esc(value ?? "")}"${extra}>`;
  const kw = (p.keywords || []);
  return `<div class="two">
    ${field("name-ja", `手続名（日本語） ${en(["", "Name (Japanese)"])}`, text("name-ja", p.name?.ja, ' maxlength="2000"'))}
    ${field("name-en", `手続名（英語） ${en(["", "Name (English)"])}`, text("name-en", p.name?.en, ' lang="en" maxlength="2000"'))}
    ${field("description-ja", `説明（日本語） ${en(["", "Description (Japanese)"])}`, `<textarea id="${id("description-ja")}" rows="3">${esc(p.description?.ja ?? "")}</textarea>`)}
    ${field("description-en", `説明（英語） ${en(["", "Description (English)"])}`, `<textarea id="${id("description-en")}" rows="3" lang="en">${esc(p.description?.en ?? "")}</textarea>`)}
    ${field("slug", `短縮名 ${en(["", "Short name"])}`, text("slug", p.slug, ' autocomplete="off"'), `英小文字・数字・- （申請画面のアドレス /apply/… に使います） ${en(["", "a-z, 0-9 and -; used in the address"])}`)}
    ${field("section", `担当の係 ${en(["", "Owning section"])}`, text("section", p.section, ` list="${prefix}-sections"`) +
      `<datalist id="${prefix}-sections">${(catalogue.sections || []).map((s) => `<option value="${esc(s)}"></option>`).join("")}</datalist>`)}
    ${field("category", `分類 ${en(["", "Category"])}`, `<select id="${id("category")}">${Object.entries(CATEGORIES).map(([k, v]) =>
      `<option value="${k}"${p.category === k ? " selected" : ""}>${esc(v[0])} ${esc(v[1])}</option>`).join("")}</select>`)}
    ${field("identity", `必要な本人確認 ${en(["", "Identity required"])}`, `<select id="${id("identity")}">${Object.entries(IDENTITY).map(([k, v]) =>
      `<option value="${k}"${(p.identity || "none") === k ? " selected" : ""}>${esc(v[0])} ${esc(v[1])}</option>`).join("")}</select>`)}
    ${field("fee_yen", `手数料（円） ${en(["", "Fee (yen)"])}`, `<input id="${id("fee_yen")}" type="number" min="0" max="1000000" step="1" value="${esc(p.fee_yen ?? 0)}">`)}
    ${field("retention_years", `保存年限 ${en(["", "Kept for"])}`, `<select id="${id("retention_years")}">${[1, 2, 3, 4, 5].map((n) =>
      `<option value="${n}"${(p.retention_years ?? 5) === n ? " selected" : ""}>${n}年 ${n} year${n > 1 ? "s" : ""}</option>`).join("")}</select>`,
      `最長5年 ${en(["", "at most 5 years"])}`)}
    ${field("reference_pattern", `受付番号の形式 ${en(["", "Reference pattern"])}`, text("reference_pattern", p.reference_pattern ?? "{rand:4}-{rand:4}", ' autocomplete="off"'),
      `{yyyy} {yy} {mm} {dd} {seq:N}（連番） {rand:N}（ランダム6文字以上） 例 JM-{yy}{mm}-{rand:6} ${en(["", "{seq:N} or at least 6 {rand} characters"])}`)}
  </div>
  <fieldset class="question" id="${id("life_events")}"><legend>ライフイベント ${en(["", "Life events"])}</legend>
    <p class="field-error" id="${id("life_events")}-error" hidden></p>
    <div class="choices">${Object.entries(LIFE_EVENTS).map(([k, v]) => `<label class="choice"><input type="checkbox" name="${prefix}-life" value="${k}"${(p.life_events || []).includes(k) ? " checked" : ""}> ${L(v)}</label>`).join("")}</div>
  </fieldset>
  <fieldset class="question keywords" id="${id("keywords")}"><legend>検索キーワードと読み（かな） ${en(["", "Search words and their readings"])}</legend>
    <p class="field-error" id="${id("keywords")}-error" hidden></p>
    <ol id="${prefix}-keyword-list">${kw.map((k, i) => keywordHtml(prefix, i, k)).join("")}</ol>
    <button type="button" class="small" data-kw-add="${prefix}">キーワードを追加 ${en(["", "Add a keyword"])}</button>
  </fieldset>`;
}

function keywordHtml(prefix, i, k) {
  return `<li class="keyword">
    <div class="question"><label for="${prefix}-keywords-${i}-word">語 ${en(["", "Word"])} ${i + 1}</label><p class="field-error" id="${prefix}-keywords-${i}-word-error" hidden></p>
      <input id="${prefix}-keywords-${i}-word" data-kw="word" value="${esc(k.word ?? "")}"></div>
    <div class="question"><label for="${prefix}-keywords-${i}-reading">読み（ひらがな） ${en(["", "Reading"])} ${i + 1}</label><p class="field-error" id="${prefix}-keywords-${i}-reading-error" hidden></p>
      <input id="${prefix}-keywords-${i}-reading" data-kw="reading" value="${esc(k.reading ?? "")}"></div>
    <button type="button" class="small" data-kw-remove="${prefix}" data-index="${i}">削除 ${en(["", "Remove"])}<span class="sr-only"> ${i + 1}</span></button></li>`;
}

function readDetails(prefix) {
  const v = (name) => $(`${prefix}-${name}`).value.trim();
  const loc = (ja, english) => (english ? { ja, en: english } : { ja });
  return {
    slug: v("slug"), name: loc(v("name-ja"), v("name-en")), description: loc(v("description-ja"), v("description-en")),
    section: v("section"), category: v("category"), identity: v("identity"),
    fee_yen: Number(v("fee_yen") || 0), retention_years: Number(v("retention_years")), reference_pattern: v("reference_pattern"),
    life_events: [...document.querySelectorAll(`input[name="${prefix}-life"]:checked`)].map((el) => el.value),
    keywords: [...$(`${prefix}-keyword-list`).children].map((li) => ({
      word: li.querySelector("[data-kw=word]").value.trim(), reading: li.querySelector("[data-kw=reading]").value.trim() }))
      .filter((k) => k.word || k.reading),
  };
}

function keywordButtons(e) {
  const add = e.target.closest("[data-kw-add]");
  const remove = e.target.closest("[data-kw-remove]");
  if (!add && !remove) return;
  const prefix = (add || remove).dataset.kwAdd || (add || remove).dataset.kwRemove;
  const list = $(`${prefix}-keyword-list`);
  const words = [...list.children].map((li) => ({ word: li.querySelector("[data-kw=word]").value, reading: li.querySelector("[data-kw=reading]").value }));
  if (add) words.push({ word: "", reading: "" }); else words.splice(Number(remove.dataset.index), 1);
  list.innerHTML = words.map((k, i) => keywordHtml(prefix, i, k)).join("");
  (add ? $(`${prefix}-keywords-${words.length - 1}-word`) : list.parentElement.querySelector("[data-kw-add]")).focus();
}

// Errors on a procedure's fields: "procedure.name.ja" (create) or "name.ja" (update) beside the field.
function detailErrors(prefix, summaryId, err) {
  const details = (err.details || []).map((d) => ({ ...d, field: d.field.replace(/^procedure\./, "").replace(/\.(ja|en)$/, "-$1") }));
  if (err.code === "conflict") details.push({ field: "slug", problem: err.message });
  if (err.code === "forbidden") details.push({ field: "section", problem: err.message });
  const { placed, unplaced } = showFieldErrors($(summaryId).parentElement, details, prefix);
  $(summaryId).innerHTML = `<h4>入力内容を確認してください ${en(["", "There is a problem"])}</h4><ul>
    ${placed.map((d) => `<li><a href="#${esc(d.target)}">${esc(d.problem)}</a></li>`).join("")}
    ${unplaced.map((d) => `<li>${esc(d.problem)} <code>${esc(d.field)}</code></li>`).join("")}
    ${details.length ? "" : `<li>${esc(err.message)}</li>`}</ul>`;
  $(summaryId).hidden = false;
  $(summaryId).focus();
}

async function createProcedure(e) {
  e.preventDefault();
  try {
    const made = await call("POST", "/api/forms/procedures", { procedure: readDetails("n") });
    await loadCatalogue();
    location.hash = `#p/${made.id}`;
  } catch (err) {
    if (err.status === 401) { location.reload(); return; }
    detailErrors("n", "new-summary", err);
  }
}

async function saveDetails(e) {
  e.preventDefault();
  $("details-summary").hidden = true;
  try {
    const updated = await call("PUT", `/api/forms/procedures/${procedure.id}`, readDetails("d"));
    showFieldErrors($("details-fields"), [], "d");
    Object.assign(procedure, updated);
    renderHead();
    $("details-message").textContent = "✓ 手続の情報を保存しました。 Details saved.";
  } catch (err) {
    detailErrors("d", "details-summary", err);
  }
}

// ------------------------------------------------------------------------------------------- one procedure
let opening = 0;   // the latest openProcedure(): an earlier one still loading gives way to it

async function openProcedure(pid) {
  const mine = ++opening;
  if (!catalogue) await loadCatalogue();
  const loaded = await call("GET", `/api/forms/procedures/${encodeURIComponent(pid)}`);
  const newest = loaded.versions[0];
  const version = await call("GET", `/api/forms/procedures/${loaded.id}/versions/${newest.number}`);
  if (mine !== opening) return false;
  procedure = loaded;
  procedure.editable = !!catalogue.procedures.find((p) => p.id === procedure.id)?.editable;
  doc = version.form;
  dirty = false;
  previewPage = 0;
  expanded.clear();
  $("form-summary").hidden = true;
  $("proc-message").textContent = "";
  $("details-fields").innerHTML = detailsHtml(procedure, "d");
  $("details-summary").hidden = true;
  $("details-message").textContent = "";
  renderHead();
  renderEditor();
  renderPreview();
  await renderChanges(newest.state === "draft" || newest.state === "pending" ? version : null);
  renderVersions();
  return true;
}

async function reloadProcedure(message) {
  const id = procedure.id;
  await loadCatalogue();
  await openProcedure(id);
  if (message) $("proc-message").textContent = `✓ ${message}`;
}

function renderHead() {
  const p = procedure;
  document.title = `${p.name.ja} 様式の作成 Form builder`;
  $("proc-title").innerHTML = both(p.name);
  const draft = p.draft;
  $("proc-state").innerHTML = `受付 ${en(["", "State"])}: <strong>${L(PROCEDURE_STATE[p.state])}</strong>・
    公開中 ${en(["", "Published"])}: <strong>${p.published ? `第${p.published}版` : "なし none"}</strong>・
    下書き ${en(["", "Draft"])}: <strong id="draft-state">${draft ? `第${draft.number}版 ${L(VERSION_STATE[draft.state])}` : "なし none"}</strong>
    ${dirty ? `・<strong class="unsaved">未保存の変更あり ${en(["", "Unsaved changes"])}</strong>` : ""}
    ${p.editable ? "" : `<br>この手続は閲覧のみです（担当の係ではありません）。 ${en(["", "Read only: not your section's procedure."])}`}`;
  const editable = p.editable;
  $("save").hidden = !editable;
  $("request").hidden = !editable || catalogue.may_publish || (!dirty && draft?.state !== "draft");
  $("publish").hidden = !editable || !catalogue.may_publish || (!dirty && !draft);
  $("state-toggle").hidden = !editable || !catalogue.may_publish || p.state === "draft";
  $("state-toggle").innerHTML = p.state === "live" ? `受付を終了 ${en(["", "Close to applications"])}` : `受付を再開 ${en(["", "Reopen"])}`;
  $("export").href = `/api/forms/procedures/${p.id}/export`;
  $("export").setAttribute("download", `${p.slug}.json`);
  $("details-save").hidden = !editable;
  $("copy-form").hidden = false;
  const newest = p.versions[0];
  $("editing-version").innerHTML = newest.state === "published"
    ? `（公開中の第${newest.number}版から編集。保存すると第${newest.number + 1}版の下書き） ${en(["", `editing from v${newest.number}; saving makes the draft v${newest.number + 1}`])}`
    : `（第${newest.number}版 ${L(VERSION_STATE[newest.state])}）`;
  $("editor-note").innerHTML = newest.state === "pending"
    ? `承認待ちです。保存すると下書きに戻り、もう一度公開の依頼が必要です。 ${en(["", "Awaiting approval; saving makes it a draft again."])}` : "";
}

function markDirty() {
  if (!dirty) { dirty = true; renderHead(); }
  schedulePreview();
}

// ------------------------------------------------------------------------------------------- the editor
// Questions a condition at `loc` may read: top-level ones before it (not groups), and, inside a
// group, the group's earlier inner questions. For a route (`loc` = pages.i.routes.k) its page's too.
function earlier(loc) {
  const ps = parts(loc);
  const out = [];
  const pi = ps[1];
  const route = ps[2] === "routes";
  for (let i = 0; i < doc.pages.length && i <= pi; i++) {
    const qs = doc.pages[i].questions || [];
    for (let j = 0; j < qs.length; j++) {
      if (i === pi && !route && (ps.length < 4 || j >= ps[3])) break;
      if (qs[j].type !== "group") out.push(qs[j]);
    }
  }
  if (ps[4] === "questions") {
    const group = doc.pages[pi].questions[ps[3]];
    out.push(...group.questions.slice(0, ps[5]));
  }
  return out.filter((q) => q.id);
}

function renderEditor() {
  const find = finder(doc);
  $("editor-lock").disabled = !procedure.editable;
  const t = doc.title || (doc.title = { ja: "" });
  $("editor").innerHTML = `<div class="form-meta card" id="form-meta" data-loc="title">
      <div class="card-errors" id="form-meta-errors" hidden></div>
      <div class="two">${input("form-title-ja", `様式のタイトル ${en(["", "Form title"])}`, "title.ja", t.ja, "text")}
      ${input("form-title-en", `タイトル（英語） ${en(["", "Title (English)"])}`, "title.en", t.en, "opt", ' lang="en"')}</div></div>
    <ol class="pages">${doc.pages.map((p, i) => pageHtml(p, i, find)).join("")}</ol>
    <button type="button" data-act="page-add" id="page-add">ページを追加 ${en(["", "Add a page"])}</button>`;
}

function input(id, label, bind, value, kind, extra = "") {
  return `<div class="field"><label for="${id}">${label}</label>
    <input id="${id}" data-bind="${bind}" data-kind="${kind}" value="${esc(value ?? "")}"${extra}></div>`;
}
function area(id, label, bind, value, kind, extra = "") {
  return `<div class="field"><label for="${id}">${label}</label>
    <textarea id="${id}" data-bind="${bind}" data-kind="${kind}" rows="2"${extra}>${esc(value ?? "")}</textarea></div>`;
}
function check(id, label, bind, checked, kind) {
  return `<label class="check" for="${id}"><input type="checkbox" id="${id}" data-bind="${bind}" data-kind="${kind}"${checked ? " checked" : ""}> ${label}</label>`;
}
function moveButtons(k, loc, what, first, last) {
  const name = `<span class="sr-only">：${esc(what)}</span>`;
  return `<button type="button" class="small" id="${k}-up" data-act="up" data-loc="${loc}"${first ? " disabled" : ""}>↑ 上へ ${en(["", "Up"])}${name}</button>
    <button type="button" class="small" id="${k}-down" data-act="down" data-loc="${loc}"${last ? " disabled" : ""}>↓ 下へ ${en(["", "Down"])}${name}</button>
    <button type="button" class="small danger" id="${k}-remove" data-act="remove" data-loc="${loc}">削除 ${en(["", "Remove"])}${name}</button>`;
}

function pageHtml(p, i, find) {
  const k = key(p);
  const loc = `pages.${i}`;
  const title = p.title?.ja || "（無題のページ）";
  const n = doc.pages.length;
  const questions = p.exit ? "" : `<h5 class="sub-title">質問 ${en(["", "Questions"])}</h5>
    <ol class="questions">${(p.questions || []).map((q, j) => questionCard(q, `${loc}.questions.${j}`, find)).join("")}</ol>
    ${addQuestionHtml(k, loc, false)}
    ${routesHtml(p, i, find)}`;
  return `<li class="page card" id="${k}" data-loc="${loc}">
    <div class="card-head"><h4 id="${k}-title" tabindex="-1">ページ ${i + 1}: ${esc(title)} ${p.exit ? `<span class="tag">終了ページ ${en(["", "Exit page"])}</span>` : ""}</h4>
      <div class="card-buttons">${i > 0 || n > 1 ? moveButtons(k, loc, `ページ「${title}」 page`, i === 0, i === n - 1) : ""}</div></div>
    <div class="card-errors" id="${k}-errors" hidden></div>
    <div class="two">${input(`${k}-id`, `ページID ${en(["", "Page id"])}`, `${loc}.id`, p.id, "text", ' autocomplete="off"')}
      <div></div>
      ${input(`${k}-title-ja`, `ページの見出し ${en(["", "Heading"])}`, `${loc}.title.ja`, p.title?.ja, "text")}
      ${input(`${k}-title-en`, `見出し（英語） ${en(["", "Heading (English)"])}`, `${loc}.title.en`, p.title?.en, "opt", ' lang="en"')}
      ${area(`${k}-description-ja`, `説明${p.exit ? "（申請できない理由と案内）" : "（任意）"} ${en(["", p.exit ? "Why, and what to do instead" : "Description (optional)"])}`, `${loc}.description.ja`, p.description?.ja, "opt")}
      ${area(`${k}-description-en`, `説明（英語） ${en(["", "Description (English)"])}`, `${loc}.description.en`, p.description?.en, "opt", ' lang="en"')}</div>
    ${check(`${k}-exit`, `終了ページ（ここに来ると申請できずに終わる） ${en(["", "Exit page: the form ends here without an application"])}`, `${loc}.exit`, p.exit, "exit")}
    ${i > 0 || p.show_if != null ? conditionHtml(p.show_if, loc, "show_if", earlier(`${loc}.questions.0`), k, find, false, p.title?.ja) : ""}
    ${questions}
  </li>`;
}

function addQuestionHtml(k, loc, inGroup) {
  const types = Object.entries(TYPES).filter(([t]) => !inGroup || t !== "group");
  return `<div class="add-question">
    <label for="${k}-newtype">追加する質問の種類 ${en(["", "Type of the new question"])}</label>
    <select id="${k}-newtype">${types.map(([t, v]) => `<option value="${t}">${esc(v[0])} ${esc(v[1])}</option>`).join("")}</select>
    <button type="button" id="${k}-qadd" data-act="q-add" data-loc="${loc}">質問を追加 ${en(["", "Add a question"])}</button></div>`;
}

function questionCard(q, loc, find) {
  const k = key(q);
  const ps = parts(loc);
  const inGroup = ps.length > 4;
  const label = q.label?.ja || "（無題の質問）";
  const open = expanded.has(k);
  let first; let last;
  if (inGroup) {
    const list = doc.pages[ps[1]].questions[ps[3]].questions;
    first = ps[5] === 0; last = ps[5] === list.length - 1;
  } else {
    const before = doc.pages.slice(0, ps[1]).some((p) => !p.exit);
    const after = doc.pages.slice(ps[1] + 1).some((p) => !p.exit);
    first = ps[3] === 0 && !before; last = ps[3] === doc.pages[ps[1]].questions.length - 1 && !after;
  }
  const meta = [TYPES[q.type]?.[0] || q.type, q.required === false ? "任意" : "必須", q.show_if != null ? "条件付き" : ""].filter(Boolean).join("・");
  const Tag = inGroup ? "h6" : "h5";
  return `<li class="question-card card" id="${k}" data-loc="${loc}">
    <div class="card-head"><${Tag} class="q-title" id="${k}-title" tabindex="-1">${esc(label)} <span class="q-meta">${esc(meta)}・<code>${esc(q.id)}</code></span></${Tag}>
      <div class="card-buttons">
        <button type="button" class="small" id="${k}-toggle" data-act="toggle" data-loc="${loc}" aria-expanded="${open}" aria-controls="${k}-body">${open ? "閉じる" : "編集"} ${en(["", open ? "Close" : "Edit"])}<span class="sr-only">：「${esc(label)}」</span></button>
        ${moveButtons(k, loc, `「${label}」`, first, last)}</div></div>
    <div class="card-errors" id="${k}-errors" hidden></div>
    <div class="q-body" id="${k}-body"${open ? "" : " hidden"}>${open ? questionBody(q, loc, k, find) : ""}</div>
  </li>`;
}

function questionBody(q, loc, k, find) {
  const ps = parts(loc);
  const inGroup = ps.length > 4;
  const types = Object.entries(TYPES).filter(([t]) => !inGroup || t !== "group");
  let html = `<div class="two">
    ${input(`${k}-id`, `質問ID（英小文字・数字・_） ${en(["", "Question id"])}`, `${loc}.id`, q.id, "text", ' autocomplete="off"')}
    <div class="field"><label for="${k}-type">種類 ${en(["", "Type"])}</label>
      <select id="${k}-type" data-act-change="type" data-loc="${loc}">${types.map(([t, v]) => `<option value="${t}"${q.type === t ? " selected" : ""}>${esc(v[0])} ${esc(v[1])}</option>`).join("")}</select></div>
    ${input(`${k}-label-ja`, `質問文 ${en(["", "Question"])}`, `${loc}.label.ja`, q.label?.ja, "text")}
    ${input(`${k}-label-en`, `質問文（英語） ${en(["", "Question (English)"])}`, `${loc}.label.en`, q.label?.en, "opt", ' lang="en"')}
    ${input(`${k}-hint-ja`, `補足説明（任意） ${en(["", "Hint (optional)"])}`, `${loc}.hint.ja`, q.hint?.ja, "opt")}
    ${input(`${k}-hint-en`, `補足説明（英語） ${en(["", "Hint (English)"])}`, `${loc}.hint.en`, q.hint?.en, "opt", ' lang="en"')}
  </div>
  ${check(`${k}-required`, `回答を必須にする ${en(["", "An answer is required"])}`, `${loc}.required`, q.required !== false, "bool-true")}`;
  html += constraintsHtml(q, loc, k, find);
  html += conditionHtml(q.show_if, loc, "show_if", earlier(loc), k, find, false, q.label?.ja);
  return html;
}

function num(k, name, label, loc, value, extra = "") {
  return input(`${k}-${name}`, label, `${loc}.${name}`, value, "num", ` inputmode="numeric"${extra}`);
}

function constraintsHtml(q, loc, k, find) {
  const box = (inner) => `<fieldset class="constraints"><legend>入力の条件 ${en(["", "Constraints"])}</legend>${inner}</fieldset>`;
  switch (q.type) {
    case "text": case "long_text":
      return box(`<div class="two">${num(k, "min_length", `最少文字数 ${en(["", "Minimum length"])}`, loc, q.min_length)}
        ${num(k, "max_length", `最大文字数 ${en(["", "Maximum length"])}`, loc, q.max_length)}
        ${input(`${k}-pattern`, `形式（正規表現・任意） ${en(["", "Pattern (regular expression)"])}`, `${loc}.pattern`, q.pattern, "opt-text", ' autocomplete="off"')}
        ${input(`${k}-pattern_message-ja`, `形式が違うときの案内 ${en(["", "Message when it does not match"])}`, `${loc}.pattern_message.ja`, q.pattern_message?.ja, "opt")}</div>`);
    case "number":
      return box(`<div class="two">${num(k, "minimum", `最小値 ${en(["", "Minimum"])}`, loc, q.minimum)}
        ${num(k, "maximum", `最大値 ${en(["", "Maximum"])}`, loc, q.maximum)}</div>
        ${check(`${k}-integer`, `整数のみ ${en(["", "Whole numbers only"])}`, `${loc}.integer`, q.integer, "bool")}`);
    case "date": case "birth_date":
      return box(`<div class="two">${input(`${k}-min_date`, `この日以降 ${en(["", "Earliest"])}`, `${loc}.min_date`, q.min_date, "opt-text", ' type="date"')}
        ${input(`${k}-max_date`, `この日以前 ${en(["", "Latest"])}`, `${loc}.max_date`, q.max_date, "opt-text", ' type="date"')}</div>`);
    case "choice": case "multi_choice":
      return box(`${optionsHtml(q, loc, k)}${q.type === "multi_choice" ? `<div class="two">${num(k, "min_items", `最少の選択数 ${en(["", "Choose at least"])}`, loc, q.min_items)}
        ${num(k, "max_items", `最大の選択数 ${en(["", "Choose at most"])}`, loc, q.max_items)}</div>` : ""}`);
    case "file": {
      const accept = q.accept || [];
      return box(`<fieldset class="inline-check"><legend>受け付けるファイル（選ばないときはPDF・JPEG・PNG） ${en(["", "File types (none chosen: PDF, JPEG, PNG)"])}</legend>
        ${Object.entries(FILE_TYPES).map(([t, name]) => `<label class="check"><input type="checkbox" data-accept="${t}" data-loc="${loc}"${accept.includes(t) ? " checked" : ""}> ${name}</label>`).join("")}</fieldset>
        ${input(`${k}-max_bytes`, `最大サイズ（MB、20まで） ${en(["", "Largest size (MB, up to 20)"])}`, `${loc}.max_bytes`, q.max_bytes ? Math.round(q.max_bytes / 1048576 * 10) / 10 : "", "mb", ' inputmode="decimal"')}`);
    }
    case "name":
      return box(check(`${k}-kana`, `フリガナも尋ねる ${en(["", "Ask the reading (furigana) too"])}`, `${loc}.kana`, q.kana !== false, "bool-true"));
    case "sex":
      return box(check(`${k}-allow_unanswered`, `「回答しない」を選べる ${en(["", "Offer “prefer not to say”"])}`, `${loc}.allow_unanswered`, q.allow_unanswered, "bool"));
    case "group":
      return box(`<div class="two">${input(`${k}-item_label-ja`, `1件の呼び名（例: 児童） ${en(["", "What one item is called"])}`, `${loc}.item_label.ja`, q.item_label?.ja, "opt")}
        ${input(`${k}-item_label-en`, `呼び名（英語） ${en(["", "Item name (English)"])}`, `${loc}.item_label.en`, q.item_label?.en, "opt", ' lang="en"')}
        ${num(k, "min_items", `最少件数 ${en(["", "At least"])}`, loc, q.min_items)}
        ${num(k, "max_items", `最大件数（30まで） ${en(["", "At most (up to 30)"])}`, loc, q.max_items)}</div>
        <h6 class="sub-title">1件ごとに尋ねる質問 ${en(["", "Questions asked for each item"])}</h6>
        <ol class="questions">${(q.questions || []).map((s, m) => questionCard(s, `${loc}.questions.${m}`, find)).join("")}</ol>
        ${addQuestionHtml(k, loc, true)}`);
    default:
      return "";
  }
}

function optionsHtml(q, loc, k) {
  const list = q.options || [];
  return `<fieldset class="options"><legend>選択肢 ${en(["", "Options"])}</legend><ol>
    ${list.map((o, m) => {
      const ok = key(o);
      const oloc = `${loc}.options.${m}`;
      return `<li class="option" id="${ok}" data-loc="${oloc}"><div class="three">
        ${input(`${ok}-label-ja`, `表示 ${en(["", "Label"])} ${m + 1}`, `${oloc}.label.ja`, o.label?.ja, "text")}
        ${input(`${ok}-label-en`, `英語 ${en(["", "English"])} ${m + 1}`, `${oloc}.label.en`, o.label?.en, "opt", ' lang="en"')}
        ${input(`${ok}-value`, `保存する値 ${en(["", "Stored value"])} ${m + 1}`, `${oloc}.value`, o.value, "text", ' autocomplete="off"')}</div>
        <div class="card-buttons">${moveButtons(ok, oloc, `選択肢「${o.label?.ja || m + 1}」`, m === 0, m === list.length - 1)}</div></li>`;
    }).join("")}</ol>
    <button type="button" class="small" id="${k}-optadd" data-act="opt-add" data-loc="${loc}">選択肢を追加 ${en(["", "Add an option"])}</button></fieldset>`;
}

// A condition chosen from lists: mode (always / chosen / a rule kept as JSON), question, operator, value.
function conditionHtml(rule, holderLoc, prop, candidates, k, find, isRoute, holderName) {
  const base = `${k}-${prop}`;
  const choice = rule == null || rule === true ? null : choiceOf(rule);
  const mode = rule == null ? "none" : rule === true ? "always" : choice ? "when" : "custom";
  const data = `data-cond="${holderLoc}" data-prop="${prop}"`;
  const legend = isRoute ? `条件 ${en(["", "Condition"])}` : `表示する条件 ${en(["", "Show only when"])}<span class="sr-only">：${esc(holderName || "")}</span>`;
  const modes = [
    isRoute ? ["always", "常に", "Always"] : ["none", "常に表示", "Always shown"],
    ["when", "前の質問の回答で決める", "When an earlier answer…"],
    ...(mode === "custom" ? [["custom", "JSONで書かれた条件（そのまま保つ）", "A rule written as JSON (kept)"]] : []),
  ];
  let html = `<fieldset class="condition-editor"><legend>${legend}</legend>
    <div class="cond-row"><div class="field"><label for="${base}-mode">条件の種類 ${en(["", "Kind"])}</label>
    <select id="${base}-mode" ${data} data-part="mode">${modes.map(([v, ja, e]) => `<option value="${v}"${mode === v ? " selected" : ""}${v === "when" && !candidates.length ? " disabled" : ""}>${esc(ja)} ${esc(e)}</option>`).join("")}</select></div>`;
  if (mode === "when") {
    const q = candidates.find((c) => c.id === choice.question);
    const known = q || find(choice.question);   // a question no longer before this one still names its options
    const ops = opsFor(known?.type);
    const options = optionsOf(known);
    html += `<div class="field"><label for="${base}-q">質問 ${en(["", "Question"])}</label>
      <select id="${base}-q" ${data} data-part="question">${q ? "" : `<option value="${esc(choice.question)}" selected>（前にない質問 not earlier: ${esc(known?.label?.ja || choice.question)}）</option>`}
      ${candidates.map((c) => `<option value="${esc(c.id)}"${c.id === choice.question ? " selected" : ""}>${esc(c.label?.ja || c.id)}（${esc(c.id)}）</option>`).join("")}</select></div>
      <div class="field"><label for="${base}-op">比べ方 ${en(["", "Operator"])}</label>
      <select id="${base}-op" ${data} data-part="op">${ops.map((o) => `<option value="${o}"${o === choice.op ? " selected" : ""}>${esc(OPS[o][0])} ${esc(OPS[o][1])}</option>`).join("")}
      ${ops.includes(choice.op) ? "" : `<option value="${choice.op}" selected>${esc(OPS[choice.op][0])} ${esc(OPS[choice.op][1])}</option>`}</select></div>`;
    if (choice.op === "in" && options) {
      html += `<fieldset class="field inline-check"><legend>値（どれか） ${en(["", "Values (any of)"])}</legend>${options.map(([v, l], i) =>
        `<label class="check"><input type="checkbox" id="${base}-v-${i}" ${data} data-part="values" value="${esc(v)}"${(choice.value || []).includes(v) ? " checked" : ""}> ${both(l)}</label>`).join("")}</fieldset>`;
    } else if (["eq", "ne", "includes"].includes(choice.op) && options) {
      html += `<div class="field"><label for="${base}-v">値 ${en(["", "Value"])}</label>
        <select id="${base}-v" ${data} data-part="value">${options.map(([v, l]) => `<option value="${esc(v)}"${v === choice.value ? " selected" : ""}>${esc(l.ja)} ${esc(l.en || "")}</option>`).join("")}</select></div>`;
    } else if (["eq", "ne", "includes"].includes(choice.op)) {
      html += `<div class="field"><label for="${base}-v">値 ${en(["", "Value"])}</label>
        <input id="${base}-v" ${data} data-part="text" value="${esc(choice.value ?? "")}"></div>`;
    }
  }
  html += `</div>`;
  if (mode === "custom") html += `<p class="hint">条件式: <code>${esc(JSON.stringify(rule))}</code></p>`;
  if (mode === "when" || mode === "custom") html += `<p class="cond-text" id="${base}-text">${both(describe(rule, find))}</p>`;
  if (!candidates.length && !isRoute) html += `<p class="hint">前に質問がないため、条件は付けられません。 ${en(["", "No earlier question to read."])}</p>`;
  return html + `</fieldset>`;
}

function routesHtml(p, i, find) {
  const k = key(p);
  const later = doc.pages.slice(i + 1);
  const routes = p.routes || [];
  return `<fieldset class="routes"><legend>このページの後の行き先 ${en(["", "Where to go after this page"])}</legend>
    <p class="hint">行き先がないとき、または条件に当たらないときは次のページへ進みます。 ${en(["", "Otherwise the next page follows."])}</p>
    <ol>${routes.map((r, m) => {
      const rk = key(r);
      const rloc = `pages.${i}.routes.${m}`;
      return `<li class="route card" id="${rk}" data-loc="${rloc}">
        <div class="card-errors" id="${rk}-errors" hidden></div>
        ${conditionHtml(r.when, rloc, "when", earlier(rloc), rk, find, true)}
        <div class="field"><label for="${rk}-goto">行き先 ${en(["", "Go to"])}</label>
        <select id="${rk}-goto" data-act-change="goto" data-loc="${rloc}">
          ${later.map((lp) => `<option value="${esc(lp.id)}"${r.goto === lp.id ? " selected" : ""}>ページ ${doc.pages.indexOf(lp) + 1}: ${esc(lp.title?.ja || lp.id)}</option>`).join("")}
          <option value="end"${r.goto === "end" ? " selected" : ""}>最後（回答の確認）へ End: check the answers</option>
          ${r.goto !== "end" && !later.some((lp) => lp.id === r.goto) ? `<option value="${esc(r.goto)}" selected>（後ろにないページ: ${esc(r.goto)}）</option>` : ""}</select></div>
        <button type="button" class="small danger" id="${rk}-remove" data-act="route-remove" data-loc="${rloc}">この行き先を削除 ${en(["", "Remove this route"])}</button></li>`;
    }).join("")}</ol>
    <button type="button" class="small" id="${k}-routeadd" data-act="route-add" data-loc="pages.${i}">行き先を追加 ${en(["", "Add a route"])}</button></fieldset>`;
}

// ------------------------------------------------------------------------------------------- editing
function bind(el) {
  const loc = el.dataset.bind;
  const kind = el.dataset.kind;
  const value = el.type === "checkbox" ? el.checked : el.value;
  switch (kind) {
    case "num": set(loc, String(value).trim() === "" ? undefined : Number(String(value).trim())); break;
    case "mb": set(loc, String(value).trim() === "" ? undefined : Math.round(Number(value) * 1048576)); break;
    case "bool": set(loc, value ? true : undefined); break;
    case "bool-true": set(loc, value ? undefined : false); break;
    case "opt-text": set(loc, String(value).trim() === "" ? undefined : value); break;
    case "opt": {
      set(loc, value === "" ? undefined : value);
      const parent = get(parentLoc(loc));
      if (parent && !parent.ja && !parent.en) set(parentLoc(loc), undefined);
      break;
    }
    default: set(loc, value);
  }
}

function rerender(focusId, announce) {
  const active = focusId || document.activeElement?.id;
  renderEditor();
  markDirty();
  const target = active && $(active);
  if (target && !target.disabled) target.focus();
  else if (active && /-(up|down)$/.test(active)) {
    const other = $(active.replace(/-(up|down)$/, (m) => (m === "-up" ? "-down" : "-up")));
    (other && !other.disabled ? other : $(active.replace(/-(up|down)$/, "-title")))?.focus();
  }
  if (announce) $("editor-live").textContent = announce;
}

function move(loc, delta) {
  const ps = parts(loc);
  const list = get(parentLoc(loc));
  const index = ps[ps.length - 1];
  const item = list[index];
  const isTopQuestion = ps.length === 4 && ps[2] === "questions";
  const target = index + delta;
  if (target >= 0 && target < list.length) {
    list.splice(index, 1);
    list.splice(target, 0, item);
  } else if (isTopQuestion) {
    // Past the page's edge: to the end of the previous page or the start of the next one (skipping exit pages).
    let pi = ps[1] + delta;
    while (pi >= 0 && pi < doc.pages.length && doc.pages[pi].exit) pi += delta;
    if (pi < 0 || pi >= doc.pages.length) return null;
    list.splice(index, 1);
    const to = doc.pages[pi].questions || (doc.pages[pi].questions = []);
    if (delta < 0) to.push(item); else to.unshift(item);
  } else {
    return null;
  }
  return item;
}

function positionText(item) {
  for (const [i, p] of doc.pages.entries()) {
    if (p === item) return `ページ ${i + 1} ${en(["", `page ${i + 1}`])}`;
    for (const [j, q] of (p.questions || []).entries()) {
      if (q === item) return `ページ${i + 1}の${j + 1}番目 (page ${i + 1}, position ${j + 1})`;
      const m = (q.questions || []).indexOf(item);
      if (m >= 0) return `${m + 1}番目 (position ${m + 1})`;
      const o = (q.options || []).indexOf(item);
      if (o >= 0) return `${o + 1}番目 (position ${o + 1})`;
    }
  }
  return "";
}

function newQuestion(type, taken) {
  const q = { id: uniqueId(type === "group" ? "group" : "q", taken), type, label: { ja: "", en: "" } };
  convert(q, type, taken);
  return q;
}

function convert(q, type, taken = allIds()) {
  q.type = type;
  for (const name of ALL_CONSTRAINTS) if (!CONSTRAINTS[type].includes(name)) delete q[name];
  if ((type === "choice" || type === "multi_choice") && !(q.options?.length >= 2)) {
    q.options = [{ value: "option_1", label: { ja: "選択肢1", en: "Option 1" } }, { value: "option_2", label: { ja: "選択肢2", en: "Option 2" } }];
  }
  if (type === "group" && !q.questions?.length) {
    q.questions = [{ id: uniqueId("item", taken), type: "text", label: { ja: "項目", en: "Item" } }];
  }
}

function act(button) {
  const action = button.dataset.act;
  const loc = button.dataset.loc;
  const taken = allIds();
  switch (action) {
    case "toggle": {
      const item = get(loc);
      const k = key(item);
      if (expanded.has(k)) expanded.delete(k); else expanded.add(k);
      renderEditor();
      $(`${k}-toggle`).focus();
      return;
    }
    case "up": case "down": {
      const item = move(loc, action === "up" ? -1 : 1);
      if (!item) return;
      rerender(`${key(item)}-${action}`, `移動しました: ${positionText(item)}`.replace(/<[^>]+>/g, ""));
      return;
    }
    case "remove": {
      const ps = parts(loc);
      const list = get(parentLoc(loc));
      if (ps.length === 2 && doc.pages.length === 1) { $("editor-live").textContent = "最後のページは削除できません。 The only page cannot be removed."; return; }
      const [removed] = list.splice(ps[ps.length - 1], 1);
      const next = list[ps[ps.length - 1]] || list[ps[ps.length - 1] - 1];
      const label = removed.label?.ja || removed.title?.ja || removed.id || "";
      renderEditor();
      markDirty();
      const focus = next ? ($(`${key(next)}-title`) || $(`${key(next)}-label-ja`) || $(`${key(next)}-up`)) : $("page-add");
      focus?.focus();
      $("editor-live").textContent = `削除しました: ${label} Removed`;
      return;
    }
    case "page-add": {
      const id = uniqueId("page", new Set(doc.pages.map((p) => p.id)));
      const q = newQuestion("text", taken);
      const page = { id, title: { ja: "", en: "" }, questions: [q] };
      doc.pages.push(page);
      expanded.add(key(q));
      rerender(`${key(page)}-title-ja`, "ページを追加しました。 Page added.");
      return;
    }
    case "q-add": {
      const type = $(`${key(get(loc))}-newtype`).value;
      const q = newQuestion(type, taken);
      const holder = get(loc);
      (holder.questions || (holder.questions = [])).push(q);
      expanded.add(key(q));
      rerender(`${key(q)}-label-ja`, "質問を追加しました。質問文を入力してください。 Question added.");
      return;
    }
    case "opt-add": {
      const q = get(loc);
      const values = new Set((q.options || []).map((o) => o.value));
      const option = { value: uniqueId("option", values), label: { ja: "", en: "" } };
      (q.options || (q.options = [])).push(option);
      rerender(`${key(option)}-label-ja`, "選択肢を追加しました。 Option added.");
      return;
    }
    case "route-add": {
      const page = get(loc);
      const i = parts(loc)[1];
      const candidates = earlier(`${loc}.routes.${(page.routes || []).length}`);
      const last = candidates[candidates.length - 1];
      const later = doc.pages[i + 2] || doc.pages[i + 1];
      const route = { when: last ? defaultRule(last) : true, goto: later ? later.id : "end" };
      (page.routes || (page.routes = [])).push(route);
      rerender(`${key(route)}-when-mode`, "行き先を追加しました。 Route added.");
      return;
    }
    case "route-remove": {
      const ps = parts(loc);
      const page = doc.pages[ps[1]];
      page.routes.splice(ps[3], 1);
      if (!page.routes.length) delete page.routes;
      rerender(`${key(page)}-routeadd`, "行き先を削除しました。 Route removed.");
      return;
    }
    default:
  }
}

function defaultRule(q) {
  const op = opsFor(q.type)[0];
  const options = optionsOf(q);
  const value = op === "in" ? (options ? [options[0][0]] : []) : ["eq", "ne", "includes"].includes(op) ? (options ? options[0][0] : "") : null;
  return ruleOf({ question: q.id, op, value }, q);
}

// A condition's list changed: make the new rule from the choice and show it.
function conditionChanged(el) {
  const holder = el.dataset.cond;
  const prop = el.dataset.prop;
  const loc = join(holder, prop);
  const rule = get(loc);
  const candidates = earlier(prop === "show_if" && parts(holder).length === 2 ? `${holder}.questions.0` : holder);
  const part = el.dataset.part;
  let choice = choiceOf(rule);
  if (part === "mode") {
    if (el.value === "none") { set(loc, undefined); rerender(el.id); return; }
    if (el.value === "always") { set(loc, true); rerender(el.id); return; }
    if (el.value === "when") {
      const last = candidates[candidates.length - 1];
      if (last) set(loc, defaultRule(last));
      rerender(el.id);
    }
    return;
  }
  if (!choice) return;
  const q = () => candidates.find((c) => c.id === choice.question);
  if (part === "question") {
    const picked = candidates.find((c) => c.id === el.value);
    if (picked) set(loc, defaultRule(picked));
  } else if (part === "op") {
    const options = optionsOf(q());
    choice = { ...choice, op: el.value };
    if (el.value === "in") choice.value = options ? [options[0][0]] : [];
    else if (["eq", "ne", "includes"].includes(el.value)) choice.value = options ? options[0][0] : (typeof choice.value === "string" ? choice.value : "");
    set(loc, ruleOf(choice, q()));
  } else if (part === "value") {
    set(loc, ruleOf({ ...choice, value: el.value }, q()));
  } else if (part === "values") {
    const box = el.closest("fieldset");
    set(loc, ruleOf({ ...choice, value: [...box.querySelectorAll("input:checked")].map((x) => x.value) }, q()));
  } else if (part === "text") {
    set(loc, ruleOf({ ...choice, value: el.value }, q()));
    const text = $(`${el.id.replace(/-v$/, "")}-text`);
    if (text) text.innerHTML = both(describe(get(loc), finder(doc)));
    markDirty();
    return;
  }
  rerender(el.id);
}

function onChange(e) {
  const el = e.target;
  if (el.dataset.cond) { conditionChanged(el); return; }
  if (el.dataset.actChange === "type") {
    convert(get(el.dataset.loc), el.value);
    rerender(el.id, `種類を「${TYPES[el.value][0]}」にしました。 Type changed.`);
    return;
  }
  if (el.dataset.actChange === "goto") { set(`${el.dataset.loc}.goto`, el.value); rerender(el.id); return; }
  if (el.dataset.accept) {
    const q = get(el.dataset.loc);
    const chosen = new Set(q.accept || []);
    if (el.checked) chosen.add(el.dataset.accept); else chosen.delete(el.dataset.accept);
    const list = Object.keys(FILE_TYPES).filter((t) => chosen.has(t));
    if (list.length) q.accept = list; else delete q.accept;
    markDirty();
    return;
  }
  if (el.dataset.kind === "exit") {
    const page = get(parentLoc(el.dataset.bind));
    if (el.checked) {
      stash.set(page, { questions: page.questions, routes: page.routes });
      page.exit = true;
      delete page.questions; delete page.routes;
      if (!page.description) page.description = { ja: "" };
    } else {
      const kept = stash.get(page);
      delete page.exit;
      page.questions = kept?.questions?.length ? kept.questions : [newQuestion("text", allIds())];
      if (kept?.routes) page.routes = kept.routes;
    }
    rerender(el.id);
    return;
  }
  if (el.dataset.bind && (el.type === "checkbox" || el.tagName === "SELECT")) { bind(el); rerender(el.id); }
}

function onInput(e) {
  const el = e.target;
  if (el.dataset.bind && el.type !== "checkbox") {
    bind(el);
    markDirty();
    // Keep the headings in step with their titles without re-rendering (the caret stays).
    const card = el.closest(".card");
    if (card && (el.dataset.bind === `${card.dataset.loc}.label.ja` || el.dataset.bind === `${card.dataset.loc}.title.ja`)) {
      const title = card.querySelector(":scope > .card-head > h4, :scope > .card-head > h5, :scope > .card-head > h6");
      if (title && title.firstChild) title.firstChild.textContent = /\.title\.ja$/.test(el.dataset.bind) ? `ページ ${parts(el.dataset.bind)[1] + 1}: ${el.value} ` : `${el.value} `;
    }
  } else if (el.dataset.cond && el.dataset.part === "text") {
    conditionChanged(el);
  }
}

// ------------------------------------------------------------------------------------------- errors
// 422 form_invalid: each problem beside the page or question it names (by its place, or by the id the
// message names), listed in the summary with a link there.
function showFormErrors(details) {
  for (const box of document.querySelectorAll("#editor .card-errors")) { box.hidden = true; box.innerHTML = ""; }
  for (const el of document.querySelectorAll("#editor [aria-invalid]")) el.removeAttribute("aria-invalid");
  const placed = details.map((d) => ({ ...d, loc: locOf(d) }));
  for (const d of placed) {
    if (!d.loc) continue;
    for (let ps = parts(d.loc); ps.length; ps = ps.slice(0, -1)) {
      const item = get(ps.join("."));
      if (item && typeof item === "object" && (ps.length === 2 || ps[ps.length - 2] === "questions")) { expand(ps.join(".")); break; }
    }
  }
  renderEditor();
  const items = [];
  for (const d of placed) {
    const card = cardFor(d.loc);
    const text = `${d.problem}${d.field && d.field !== "(form)" ? ` (${d.field})` : ""}`;
    if (card) {
      const box = card.id === "form-meta" ? $("form-meta-errors") : $(`${card.id}-errors`);
      box.hidden = false;
      box.insertAdjacentHTML("beforeend", `<p class="field-error">⚠ ${esc(text)}</p>`);
      const exact = document.querySelector(`#editor [data-bind="${CSS.escape(d.field)}"]`);
      if (exact) { exact.setAttribute("aria-invalid", "true"); exact.setAttribute("aria-describedby", box.id); }
    }
    items.push(`<li>${card ? `<a href="#${card.id === "form-meta" ? "form-title-ja" : `${card.id}-title`}">${esc(where(card))}: ${esc(text)}</a>` : esc(text)}</li>`);
  }
  $("form-summary").innerHTML = `<h3>様式に問題があるため保存できませんでした（${details.length}件） ${en(["", "The form was not saved"])}</h3><ul>${items.join("")}</ul>`;
  $("form-summary").hidden = false;
  $("form-summary").focus();
}

function expand(loc) {
  for (let ps = parts(loc); ps.length >= 4; ps = ps.slice(0, -2)) {
    const item = get(ps.join("."));
    if (item && ps[ps.length - 2] === "questions") expanded.add(key(item));
  }
}

function locOf(d) {
  if (d.field && d.field !== "(form)" && d.field !== "(file)") return d.field;
  const text = d.problem || "";
  let m = /question id ([a-z][a-z0-9_]*) is used twice/.exec(text) || /^question ([a-z][a-z0-9_]*)(?:\.([a-z][a-z0-9_]*))?:/.exec(text);
  if (m) {
    const found = [];
    doc.pages.forEach((p, i) => (p.questions || []).forEach((q, j) => {
      if (q.id === m[1] && !m[2]) found.push(`pages.${i}.questions.${j}`);
      (q.questions || []).forEach((s, n) => {
        if ((m[2] && q.id === m[1] && s.id === m[2]) || (!m[2] && s.id === m[1])) found.push(`pages.${i}.questions.${j}.questions.${n}`);
      });
    }));
    return found[found.length - 1] || null;
  }
  m = /^page ([a-z][a-z0-9_]*):/.exec(text);
  if (m) {
    const i = doc.pages.findIndex((p) => p.id === m[1]);
    if (i >= 0) return /route/.test(text) && doc.pages[i].routes?.length ? `pages.${i}.routes.${doc.pages[i].routes.length - 1}` : `pages.${i}`;
  }
  return null;
}

function cardFor(loc) {
  if (loc == null) return null;
  if (loc.startsWith("title")) return $("form-meta");
  for (let ps = parts(loc); ps.length; ps = ps.slice(0, -1)) {
    const el = document.querySelector(`#editor .card[data-loc="${ps.join(".")}"]`);
    if (el) return el;
  }
  return null;
}

function where(card) {
  if (card.id === "form-meta") return "様式のタイトル";
  const ps = parts(card.dataset.loc);
  const page = `ページ${ps[1] + 1}`;
  if (ps.length === 2) return page;
  if (ps[2] === "routes") return `${page}の行き先${ps[3] + 1}`;
  const q = get(card.dataset.loc);
  return `${page}の質問「${q.label?.ja || q.id}」`;
}

// ------------------------------------------------------------------------------------------- saving, publication
async function save() {
  try {
    const saved = await call("PUT", `/api/forms/procedures/${procedure.id}/draft`, { form: doc });
    dirty = false;
    await reloadProcedure(`下書きを保存しました（第${saved.number}版）。 Draft saved (v${saved.number}).`);
    return true;
  } catch (err) {
    if (err.status === 401) { location.reload(); return false; }
    if (err.code === "form_invalid") showFormErrors(err.details || []);
    else { $("proc-message").textContent = `⚠ ${err.message}`; }
    return false;
  }
}

async function saveIfNeeded() { return !dirty || save(); }

async function requestPublication() {
  if (!(await saveIfNeeded())) return;
  try {
    const v = await call("POST", `/api/forms/procedures/${procedure.id}/draft/request`);
    await reloadProcedure(`第${v.number}版の公開を依頼しました。監督者・管理者の承認を待っています。 Publication of v${v.number} requested.`);
  } catch (err) { $("proc-message").textContent = `⚠ ${err.message}`; }
}

async function publish() {
  if (!(await saveIfNeeded())) return;
  try {
    // The version on screen: the server refuses it if it changed after the request (or is not the one asked for).
    const v = await call("POST", `/api/forms/procedures/${procedure.id}/draft/publish`, { number: procedure.draft?.number });
    await reloadProcedure(`第${v.number}版を公開しました。 Version ${v.number} is published.`);
  } catch (err) { $("proc-message").textContent = `⚠ ${err.message}`; }
}

async function toggleState() {
  try {
    await call("PUT", `/api/forms/procedures/${procedure.id}/state`, { state: procedure.state === "live" ? "archived" : "live" });
    await reloadProcedure(procedure.state === "live" ? "受付を終了しました。 Closed to applications." : "受付を再開しました。 Reopened.");
  } catch (err) { $("proc-message").textContent = `⚠ ${err.message}`; }
}

async function restore(number) {
  try {
    const v = await call("POST", `/api/forms/procedures/${procedure.id}/versions/${number}/restore`);
    dirty = false;
    await reloadProcedure(`第${number}版を下書き（第${v.number}版）に戻しました。 Version ${number} restored as the draft v${v.number}.`);
  } catch (err) { $("proc-message").textContent = `⚠ ${err.message}`; }
}

async function copy(e) {
  e.preventDefault();
  const slug = $("copy-slug").value.trim();
  showFieldErrors($("copy-form"), [], "copy");
  try {
    const made = await call("POST", `/api/forms/procedures/${procedure.id}/copy`, { slug });
    await loadCatalogue();
    $("copy-slug").value = "";
    location.hash = `#p/${made.id}`;
  } catch (err) {
    const problem = err.code === "conflict" || err.code === "forbidden" ? err.message
      : "英小文字で始まる英小文字・数字・- の2〜40文字にしてください。 Use 2–40 of a-z, 0-9 and -, starting with a letter.";
    showFieldErrors($("copy-form"), [{ field: "slug", problem }], "copy");
    $("copy-slug").focus();
  }
}

// ------------------------------------------------------------------------------------------- changes, versions
async function renderChanges(version) {
  const box = $("changes");
  if (!version) {
    box.innerHTML = `<p>下書きはありません（公開中の版のままです）。 ${en(["", "No draft: the form is as published."])}</p>`;
    return;
  }
  const find = finder(version.form);
  const rows = version.changes.map((c) => {
    const q = c.what === "question" ? find(c.id) : null;
    const page = c.what === "page" ? version.form.pages.find((p) => p.id === c.id) : null;
    const name = q ? `「${q.label.ja}」` : page ? `「${page.title.ja}」` : "";
    const fields = c.fields.map((f) => FIELD_NAMES[f] || f).join("、");
    return `<tr><td>${L(CHANGE_KIND[c.kind])}</td><td>${L(CHANGE_WHAT[c.what])} ${esc(name)} <code>${esc(c.id)}</code></td>
      <td>${esc(fields)}${c.detail ? ` ${esc(c.detail.replace(/^page (\S+)$/, "ページ $1 page $1"))}` : ""}</td></tr>`;
  }).join("");
  box.innerHTML = `<p>第${version.number}版（${L(VERSION_STATE[version.state])}）と${version.compared_with ? `公開中の第${version.compared_with}版` : "（公開された版なし）"}の違い
    ${en(["", version.compared_with ? `v${version.number} against the published v${version.compared_with}` : `v${version.number}; nothing published yet`])}。保存した内容で比べます ${en(["", "(saved content)"])}。</p>
    ${rows ? `<table class="versions" id="changes-table"><thead><tr><th scope="col">変更 ${en(["", "Change"])}</th><th scope="col">対象 ${en(["", "What"])}</th>
    <th scope="col">内容 ${en(["", "Details"])}</th></tr></thead><tbody>${rows}</tbody></table>` : `<p>違いはありません。 ${en(["", "No differences."])}</p>`}`;
}

function renderVersions() {
  const rows = procedure.versions.map((v) => `<tr><th scope="row">第${v.number}版 ${en(["", `v${v.number}`])}</th>
    <td>${L(VERSION_STATE[v.state])}</td><td>${esc(when(v.created_at))}</td>
    <td>${v.published_at ? esc(when(v.published_at)) : "—"}</td>
    <td>${procedure.editable && (v.state === "published" || v.state === "retired")
      ? `<button type="button" class="small" data-restore="${v.number}">この版を下書きに戻す ${en(["", "Restore as the draft"])}<span class="sr-only">：第${v.number}版</span></button>` : ""}</td></tr>`).join("");
  $("versions").innerHTML = `<table class="versions"><thead><tr><th scope="col">版 ${en(["", "Version"])}</th><th scope="col">状態 ${en(["", "State"])}</th>
    <th scope="col">作成・保存 ${en(["", "Saved"])}</th><th scope="col">公開 ${en(["", "Published"])}</th><th scope="col">操作 ${en(["", "Action"])}</th></tr></thead>
    <tbody>${rows}</tbody></table>`;
}

// ------------------------------------------------------------------------------------------- preview
let previewTimer = null;
function schedulePreview() { clearTimeout(previewTimer); previewTimer = setTimeout(renderPreview, 300); }

// The draft as the citizens' runner shows it, one page at a time, in a sandboxed 375 px frame.
function renderPreview() {
  if (!doc) return;
  const pages = doc.pages;
  previewPage = Math.max(0, Math.min(previewPage, pages.length - 1));
  const page = pages[previewPage];
  const withConditions = $("preview-conditions").checked;
  const find = finder(doc);
  const questions = (page.questions || []).filter((q) => withConditions || q.show_if == null);
  const body = page.exit
    ? `<div class="exit"><p>${both(page.description)}</p></div>`
    : `${page.description ? `<p>${both(page.description)}</p>` : ""}
       <form>${questions.map((q) => questionHtml(q, q.id, { prefix: "p", find: withConditions ? find : null, mode: "preview" })).join("")}
       <button type="button" class="continue">次へ進む <span lang="en">Continue</span></button></form>
       <p><a href="#">あとで続ける（保存） <span lang="en">Save and come back later</span></a></p>`;
  const html = `<!doctype html><html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
    <title>${esc(doc.title?.ja || "")}</title><link rel="stylesheet" href="/static/base.css"><link rel="stylesheet" href="/counter/preview.css"></head>
    <body><header class="service"><p>${both(doc.title || { ja: "" })}</p></header>
    <main><p class="progress">${previewPage + 1} / ${pages.length} ページ <span lang="en">Page ${previewPage + 1} of ${pages.length}</span></p>
    ${previewPage > 0 ? `<p><a href="#" class="back">← 戻る <span lang="en">Back</span></a></p>` : ""}
    <h1>${both(page.title || { ja: "" })}</h1>${body}</main></body></html>`;
  $("preview-frame").srcdoc = html;
  $("preview-where").innerHTML = `ページ ${previewPage + 1} / ${pages.length}：${esc(page.title?.ja || "")} ${en(["", `page ${previewPage + 1} of ${pages.length}`])}`;
  $("preview-prev").disabled = previewPage === 0;
  $("preview-next").disabled = previewPage >= pages.length - 1;
}

// ------------------------------------------------------------------------------------------- views
function show(view) {
  $("list-view").hidden = view !== "list";
  $("new-view").hidden = view !== "new";
  $("proc-view").hidden = view !== "proc";
}

async function route() {
  const hash = location.hash.replace(/^#/, "");
  try {
    if (hash.startsWith("p/")) {
      show("proc");
      $("proc-state").textContent = "読み込み中… Loading…";   // nothing of the procedure shown before stays
      if (await openProcedure(decodeURIComponent(hash.slice(2)))) $("proc-title").focus();
    } else if (hash === "new") {
      show("new");
      document.title = "新しい手続 様式の作成 Form builder";
      $("new-summary").hidden = true;
      $("new-fields").innerHTML = detailsHtml({ section: catalogue.sections?.[0] || "", category: "other", reference_pattern: "{rand:4}-{rand:4}" }, "n");
      $("new-title").focus();
    } else {
      show("list");
      document.title = "様式の作成 Form builder";
      await loadCatalogue();
      renderCatalogue();
    }
  } catch (err) {
    if (err.status === 401) { location.reload(); return; }
    show("list");
    $("role-note").textContent = `⚠ ${err.message}`;
  }
}

signIn(async (who) => {
  me = who;
  await loadCatalogue();
  window.addEventListener("hashchange", () => {
    if (dirty && !window.confirm("保存していない変更があります。破棄しますか？ Discard the unsaved changes?")) return;
    dirty = false;
    route();
  });
  await route();
});

window.addEventListener("beforeunload", (e) => { if (dirty) e.preventDefault(); });
$("editor").addEventListener("click", (e) => {
  const button = e.target.closest("button[data-act]");
  if (button && !button.disabled) act(button);
});
$("editor").addEventListener("change", onChange);
// The preview follows the page being edited.
$("editor").addEventListener("focusin", (e) => {
  const card = e.target.closest(".page.card");
  const i = card ? parts(card.dataset.loc)[1] : null;
  if (i != null && i !== previewPage) { previewPage = i; renderPreview(); }
});
$("editor").addEventListener("input", onInput);
$("save").addEventListener("click", save);
$("request").addEventListener("click", requestPublication);
$("publish").addEventListener("click", publish);
$("state-toggle").addEventListener("click", toggleState);
$("versions").addEventListener("click", (e) => { const b = e.target.closest("[data-restore]"); if (b) restore(b.dataset.restore); });
$("copy-form").addEventListener("submit", copy);
$("new-form").addEventListener("submit", createProcedure);
$("details-form").addEventListener("submit", saveDetails);
$("new-fields").addEventListener("click", keywordButtons);
$("details-fields").addEventListener("click", keywordButtons);
$("import-file").addEventListener("change", importFile);
$("preview-prev").addEventListener("click", () => { previewPage -= 1; renderPreview(); });
$("preview-next").addEventListener("click", () => { previewPage += 1; renderPreview(); });
$("preview-conditions").addEventListener("change", renderPreview);
