// The form runner: one page of the form at a time (#/fill/<page>), saved as the citizen types
// (PUT /apply/api/draft with page null: the server answers which questions to show), checked on
// 「次へ」 (page = the page: 422 answers_invalid names each field), saved to resume later with a
// code (#/saved, #/resume), checked as a whole (#/check) and sent once. The resume code lives in
// sessionStorage for this tab (a reload continues) and travels only in the X-Draft-Code header.
import { Problem, api, stored } from "/apply/api.js";
import { control } from "/apply/fields.js";
import { bi, esc, loc, message, moment, plain } from "/apply/text.js";
import { $, announce, copy, errorSummary, go, problemBox, problemView, setTitleError, show } from "/apply/ui.js";

const FORM_UPDATED = ["申請書の様式が更新されました。入力した内容は残っています。新しい様式で確認してください。",
  "The form has been updated. Your answers are kept: check them on the new form."];
const PERSONAL = ["name", "address", "phone", "email", "birth_date"];

const state = {
  code: null,          // the resume code (also in sessionStorage)
  draft: null,         // GET /apply/api/draft's answer: procedure, version {id, number, form}, page, expires_at…
  answers: {},         // every answer so far (question id → raw answer), sent whole with each save
  files: {},           // attachments received: id → {name, type, size}
  pages: [],           // the path through the form for these answers (the server's `pages`)
  shown: {},           // the server's `shown`: page id → ids, "group.n" → ids
  versionId: null,
  notice: null,        // a message for the next page shown ([ja, en])
  pendingErrors: null, // field errors to show on the next page shown
  returnToCheck: false,
  sent: null,          // the application just sent: {reference, corrected}
};
let current = null;    // the page on screen: {page, controls}
let timer = null;      // the pending save as the citizen types
let lastSaved = "";

// Requests that change the draft go one after another, so the server keeps the newest answers.
let queue = Promise.resolve();
function serial(task) {
  const run = queue.then(task, task);
  queue = run.catch(() => {});
  return run;
}

// A resume code as typed (lower case, spaces, full width, a Japanese long-vowel mark for the
// hyphen) in its displayed form XXXX-XXXX-XXXX-XXXX; the server accepts any of these as well.
export function normalCode(text) {
  const raw = String(text).normalize("NFKC").toUpperCase().replace(/[\s\-‐‑‒–—−ー]/g, "");
  return (raw.match(/.{1,4}/g) || []).join("-");
}

function adopt(draft, code) {
  state.code = code;
  stored.setCode(code);
  state.draft = draft;
  state.answers = structuredClone(draft.answers || {});
  state.files = { ...(draft.files || {}) };
  state.versionId = draft.version.id;
  if (draft.form_updated) state.notice = FORM_UPDATED;
}

function forget() {
  clearTimeout(timer);
  timer = null;
  stored.setCode(null);
  Object.assign(state, { code: null, draft: null, answers: {}, files: {}, pages: [], shown: {}, versionId: null,
    notice: null, pendingErrors: null, returnToCheck: false });
  current = null;
}

// Save every answer; `page`: the page to check (「次へ」), or null (only save). The server's
// path and shown questions are kept. A form published since moves the draft to it (reloaded).
async function put(page) {
  const r = await serial(() => api("PUT", "/apply/api/draft", { body: { answers: state.answers, page }, code: state.code }));
  state.pages = r.pages;
  state.shown = r.shown;
  if (page !== null) state.draft.page = page;          // the page reached, as the server keeps it
  if (r.form_updated || r.version_id !== state.versionId) {
    adopt(await api("GET", "/apply/api/draft", { code: state.code }), state.code);
    state.notice = FORM_UPDATED;
  }
  return r;
}

// The draft of this tab, loaded once (false: there is none).
async function load() {
  const code = stored.code();
  if (!code) return false;
  if (state.draft && state.code === code) return true;
  adopt(await api("GET", "/apply/api/draft", { code }), code);
  await put(null);
  return true;
}

const form = () => state.draft.version.form;
const procedureName = () => state.draft.procedure.name;
const pageOf = (field) => {
  const top = String(field || "").split(".")[0];
  return form().pages.find((p) => (p.questions || []).some((q) => q.id === top))?.id;
};

// ------------------------------------------------------------------ start and resume
export async function start(slug) {
  const draft = await api("POST", "/apply/api/drafts", { body: { procedure: slug } });
  forget();
  stored.setCorrecting(null);
  adopt(draft, draft.code);
  await put(null);
  go(`#/fill/${state.pages[0]}`);
}

// A returned application corrected from its receipt: a draft holding its answers.
export async function correct(token) {
  const draft = await api("POST", "/apply/api/receipt/correction", { token });
  forget();
  adopt(draft, draft.code);
  stored.setCorrecting(token);
  await put(null);
  go(`#/fill/${state.pages[0]}`);
}

// Continue where the citizen was: after the page they last went on from (its errors shown if it
// no longer passes), or the first page.
async function continueDraft() {
  const page = state.draft.page;
  if (!page) {
    go(`#/fill/${state.pages[0]}`);
    return;
  }
  try {
    const r = await put(page);
    go(r.next ? `#/fill/${r.next}` : "#/check");
  } catch (problem) {
    if (problem.code !== "answers_invalid") throw problem;
    const known = form().pages.some((p) => p.id === page);
    if (known) state.pendingErrors = problem.details;
    go(`#/fill/${known ? page : state.pages[0]}`);
  }
}

export function takeSent() {
  const sent = state.sent;
  state.sent = null;
  return sent;
}

// ------------------------------------------------------------------ saving as they type
function collect() {
  if (!current) return;
  for (const c of current.controls) state.answers[c.q.id] = c.read();
}

function schedule(soon) {
  collect();
  clearTimeout(timer);
  timer = setTimeout(autosave, soon ? 250 : 800);
}

async function autosave() {
  timer = null;
  collect();
  const onScreen = current;
  try {
    await put(null);
  } catch (problem) {
    const box = $("#save-state");
    if (box) box.innerHTML = `<span aria-hidden="true">⚠</span> ${bi("保存できませんでした。", "Not saved.")} ${message(problem.text)}`;
    return;
  }
  if (current !== onScreen || !current) return;
  applyShown(true);
  const progress = $("#progress");
  if (progress) progress.innerHTML = progressHtml(current.page.id);
  const now = new Intl.DateTimeFormat("ja-JP", { timeZone: "Asia/Tokyo", hour: "2-digit", minute: "2-digit" }).format(new Date());
  const box = $("#save-state");
  if (box && now !== lastSaved) {
    lastSaved = now;
    box.innerHTML = `<span aria-hidden="true">✓</span> ${bi(`入力内容を保存しました（${now}）`, `Your answers were saved at ${now}`)}`;
  }
}

// Save what is waiting to be saved before leaving the page.
export async function flush() {
  if (timer) {
    clearTimeout(timer);
    await autosave();
  }
  await queue;
}

// Show and hide the page's conditional questions as the server says (hidden: not focusable).
function applyShown(say) {
  const ids = state.shown[current.page.id];
  const appeared = [];
  for (const c of current.controls) {
    const visible = c.q.show_if == null || (ids ? ids.includes(c.q.id) : false);
    if (visible && !c.shown) appeared.push(c);
    c.setShown(visible);
    if (c.applyShown) appeared.push(...c.applyShown(state.shown));
  }
  if (say && appeared.length) {
    announce(appeared.map((c) => bi(`「${c.q.label.ja}」の質問が表示されました。`,
      `A question was added: ${c.q.label.en || c.q.label.ja}.`)).join(" "));
  }
}

// ------------------------------------------------------------------ views
function noDraft() {
  show(`<h1>${bi("入力中の申請はありません", "No application in progress")}</h1>
    <p>${bi("手続を選んで申請を始めるか、保存したときの再開コードで続きから入力してください。",
      "Choose a procedure to start, or resume with the code you were given when you saved.")}</p>
    <ul class="links">
      <li><a href="#/">${bi("手続を探す", "Find a procedure")}</a></li>
      <li><a href="#/resume">${bi("保存した申請を再開する", "Resume a saved application")}</a></li>
    </ul>`, "入力中の申請はありません");
}

function draftProblem(problem) {
  if (problem.code === "draft_not_found") {
    forget();
    problemView(problem, ["保存した入力が見つかりません", "Saved application not found"]);
    return;
  }
  problemView(problem);
}

async function ready() {
  try {
    if (await load()) return true;
    noDraft();
  } catch (problem) {
    draftProblem(problem);
  }
  return false;
}

function noticeHtml() {
  const notice = state.notice;
  state.notice = null;
  return notice ? `<div class="notice" role="status"><p>${bi(notice[0], notice[1])}</p></div>` : "";
}

function autofillIds() {
  const firsts = new Set();
  const seen = new Set();
  for (const page of form().pages) {
    for (const q of page.questions || []) {
      if (PERSONAL.includes(q.type) && !seen.has(q.type)) {
        seen.add(q.type);
        firsts.add(q.id);
      }
    }
  }
  return firsts;
}

async function upload(path, file) {
  return api("POST", `/apply/api/draft/files?question=${encodeURIComponent(path)}`, {
    bytes: file, code: state.code, headers: { "X-File-Name": encodeURIComponent(file.name) },
  });
}

async function lookup(code) {
  const found = await api("GET", `/apply/api/postal-codes/${encodeURIComponent(code)}`);
  return found.addresses;
}

// Where a page is on the path for the answers so far: [index, pages] (index -1: not on it).
function position(pageId) {
  const on = state.pages.filter((id) => !form().pages.find((p) => p.id === id)?.exit);
  return [on.indexOf(pageId), on.length, on];
}

function progressHtml(pageId) {
  const [at, total] = position(pageId);
  return at >= 0 ? bi(`ページ ${at + 1} / ${total}`, `Page ${at + 1} of ${total}`) : "";
}

// #/fill/<page> (and #/change/<page> from "check your answers": 「次へ」 returns there).
export async function fill(pageId, change = false) {
  if (!await ready()) return;
  const page = form().pages.find((p) => p.id === pageId);
  if (!page) {
    problemView(new Problem(404, "not_found", "このページはこの申請書にありません。 This page is not in the form."));
    return;
  }
  state.returnToCheck = change;
  if (page.exit) {
    exitView(page);
    return;
  }
  const [at, total, on] = position(pageId);
  const back = change ? "#/check" : at > 0 ? `#/fill/${on[at - 1]}` : `#/p/${state.draft.procedure.slug}`;
  const autofill = autofillIds();
  const ctx = { files: state.files, changed: schedule, upload, lookup, announce };
  const controls = page.questions.map((q) => control(q, q.id, { ...ctx, autofill: autofill.has(q.id) }));
  const progress = `<p class="progress" id="progress">${progressHtml(pageId)}</p>`;
  const errors = state.pendingErrors;
  state.pendingErrors = null;
  show(`<p class="back"><a class="back-link" href="${back}">${bi("戻る", "Back")}</a></p>
    ${noticeHtml()}
    ${state.draft.correcting ? `<div class="notice" role="status"><p>${bi("差し戻された申請を修正しています。", "You are correcting an application that was returned.")}</p></div>` : ""}
    <div id="summary-slot"></div>
    <p class="caption">${loc(procedureName())}</p>
    ${progress}
    <h1 tabindex="-1">${loc(page.title)}</h1>
    ${page.description ? `<p class="lead">${loc(page.description)}</p>` : ""}
    <p class="required-note">${bi("「任意」とある項目のほかは、すべて入力してください。", "Answer every question unless it says optional.")}</p>
    <form id="page-form" novalidate>
      <div id="questions"></div>
      <div class="actions">
        <button type="submit" class="primary" id="continue">${bi(change ? "確認画面に戻る" : "次へ", change ? "Back to check your answers" : "Continue")}</button>
        <button type="button" class="secondary" id="save-later">${bi("保存して後で再開", "Save and resume later")}</button>
      </div>
      <p class="save-state" id="save-state" role="status"></p>
    </form>`,
  `${page.title.ja}${at >= 0 ? ` (${at + 1}/${total})` : ""} - ${procedureName().ja}`, { focus: errors ? null : "h1" });
  $("#questions").append(...controls.map((c) => c.el));
  for (const c of controls) c.write(state.answers[c.q.id]);
  current = { page, controls };
  lastSaved = "";
  applyShown(false);
  if (errors) showErrors(errors.filter((e) => !e.field || pageOf(e.field) === pageId));

  let sending = false;
  $("#page-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (sending) return;
    sending = true;
    clearTimeout(timer);
    timer = null;
    collect();
    try {
      const r = await put(pageId);
      go(state.returnToCheck || r.next === null ? "#/check" : `#/fill/${r.next}`);
    } catch (problem) {
      if (problem.code === "answers_invalid") showErrors(problem.details);
      else showProblem(problem);
    } finally {
      sending = false;
    }
  });
  $("#save-later").addEventListener("click", async () => {
    clearTimeout(timer);
    timer = null;
    collect();
    try {
      await put(null);
      const fresh = await api("GET", "/apply/api/draft", { code: state.code });
      state.draft.expires_at = fresh.expires_at;
      go("#/saved");
    } catch (problem) {
      showProblem(problem);
    }
  });
}

function showProblem(problem) {
  if (problem.code === "draft_not_found") {
    draftProblem(problem);
    return;
  }
  const slot = $("#summary-slot");
  slot.innerHTML = problemBox(problem);
  slot.firstElementChild.setAttribute("tabindex", "-1");
  slot.firstElementChild.focus();
}

// The error summary at the top (focused) and each message at its field.
function showErrors(details) {
  const byPath = new Map();
  for (const c of current.controls) {
    byPath.set(c.path, c);
    for (const [path, child] of c.children?.() || []) byPath.set(path, child);
  }
  for (const c of byPath.values()) c.clearError();
  const items = [];
  for (const d of details) {
    const c = byPath.get(d.field);
    if (c && c.shown) {
      c.setError(d.message, d.problem);
      items.push({ target: c.focusTarget().id, text: d.message });
    } else {
      items.push({ text: d.message });
    }
  }
  if (!items.length) return;
  $("#summary-slot").innerHTML = errorSummary(items);
  setTitleError(true);
  $("#summary-slot .error-summary").focus();
}

function exitView(page) {
  const path = state.pages;
  const before = path[path.indexOf(page.id) - 1];
  show(`<p class="caption">${loc(procedureName())}</p>
    <h1>${loc(page.title)}</h1>
    <div class="notice notice-exit"><p>${loc(page.description)}</p></div>
    <p>${bi("この回答では、オンラインで申請できません。", "With these answers you cannot apply online.")}</p>
    <ul class="links">
      ${before ? `<li><a href="#/fill/${before}">${bi("回答を変更する", "Change your answer")}</a></li>` : ""}
      <li><a href="#/">${bi("手続の一覧へ", "Find another procedure")}</a></li>
    </ul>`, `${page.title.ja} - ${procedureName().ja}`);
}

// #/saved: the resume code, large, with its expiry and a copy button.
export async function saved() {
  if (!await ready()) return;
  const [untilJa, untilEn] = moment(state.draft.expires_at);
  const back = current?.page?.id || state.draft.page || state.pages[0];
  show(`<div class="panel">
      <h1>${bi("入力内容を保存しました", "Your answers are saved")}</h1>
      <p class="panel-label" id="code-label">${bi("再開コード", "Resume code")}</p>
      <p class="code" id="resume-code">${esc(state.code)}</p>
      <p class="expires">${bi(`有効期限: ${untilJa}まで`, `Valid until ${untilEn}`)}</p>
      <button type="button" class="secondary on-panel" id="copy-code">${bi("コードをコピー", "Copy the code")}</button>
    </div>
    <p>${bi("このコードを書き留めるか、スクリーンショットで保存してください。「保存した申請を再開」でこのコードを入力すると、続きから入力できます。",
      "Write this code down or take a screenshot. Enter it under “Resume a saved application” to carry on where you left off.")}</p>
    <p>${bi("コードを知っている人は入力内容を見ることができます。ほかの人に教えないでください。",
      "Anyone with the code can see your answers: do not share it.")}</p>
    <div class="actions">
      <a class="button primary" href="#/fill/${esc(back)}">${bi("入力を続ける", "Continue now")}</a>
      <a class="button secondary" href="#/">${bi("手続の一覧へ", "Find a procedure")}</a>
    </div>`, "入力内容を保存しました");
  $("#copy-code").addEventListener("click", async () => {
    const ok = await copy(state.code);
    announce(ok ? bi("再開コードをコピーしました。", "The code was copied.")
      : bi("コピーできませんでした。コードを書き留めてください。", "The code could not be copied: write it down."));
  });
}

// #/resume: type the code; the draft is found (any case, spaces) and the citizen continues.
export function resume() {
  show(`<h1>${bi("保存した申請を再開", "Resume a saved application")}</h1>
    <div id="summary-slot"></div>
    ${stored.code() ? `<div class="notice"><p>${bi("このブラウザで入力中の申請があります。", "You have an application in progress in this browser.")}</p>
      <button type="button" class="secondary" id="resume-current">${bi("入力中の申請に戻る", "Go back to it")}</button></div>` : ""}
    <p>${bi("保存したときに表示された再開コード（16文字）を入力してください。",
      "Enter the 16-character code you were shown when you saved.")}</p>
    <form id="resume-form" novalidate>
      <div class="field" id="code-field">
        <label class="label" for="resume-input">${bi("再開コード", "Resume code")}</label>
        <div class="hint" id="resume-input-hint">${bi("例: ABCD-EFGH-JKMN-PQRS（大文字・小文字、空白の有無は問いません）",
          "e.g. ABCD-EFGH-JKMN-PQRS (capitals, small letters and spaces all work)")}</div>
        <p class="error-message" id="resume-input-error" hidden></p>
        <input type="text" id="resume-input" class="code-input" autocomplete="off" autocapitalize="characters"
               spellcheck="false" aria-describedby="resume-input-hint" required>
      </div>
      <div class="actions"><button type="submit" class="primary" id="resume-go">${bi("再開する", "Resume")}</button></div>
    </form>`, "保存した申請を再開");
  $("#resume-current")?.addEventListener("click", async () => {
    if (!await ready()) return;
    try {
      await continueDraft();
    } catch (problem) {
      draftProblem(problem);
    }
  });
  const input = $("#resume-input");
  const fail = (text) => {
    const box = $("#resume-input-error");
    box.innerHTML = `<span class="error-mark" aria-hidden="true">⚠</span><span class="sr-only">エラー <span lang="en">Error</span>: </span>${message(text)}`;
    box.hidden = false;
    $("#code-field").classList.add("has-error");
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", "resume-input-hint resume-input-error");
    $("#summary-slot").innerHTML = errorSummary([{ target: "resume-input", text }]);
    setTitleError(true);
    $("#summary-slot .error-summary").focus();
  };
  let busy = false;
  $("#resume-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    const code = normalCode(input.value);
    if (!code) {
      fail("再開コードを入力してください。 Enter your resume code.");
      return;
    }
    busy = true;
    try {
      const draft = await api("GET", "/apply/api/draft", { code });
      forget();
      adopt(draft, code);
      await put(null);
      await continueDraft();
    } catch (problem) {
      fail(problem.text);
    } finally {
      busy = false;
    }
  });
}

// #/check: every answer by page with a change link, then 「送信」.
export async function check(problem = null) {
  if (!await ready()) return;
  let review;
  try {
    review = await api("GET", "/apply/api/draft/review", { code: state.code });
  } catch (err) {
    draftProblem(err);
    return;
  }
  if (review.form_updated) {            // the review is on the new version already: load its form
    state.draft = null;
    if (!await ready()) return;
    state.notice = FORM_UPDATED;
  }
  if (review.exit) {
    go(`#/fill/${review.exit}`);
    return;
  }
  current = null;
  const sections = [];
  for (const row of review.rows) {
    let section = sections.find((s) => s.pageId === row.page_id);
    if (!section) sections.push(section = { pageId: row.page_id, title: row.page, rows: [] });
    section.rows.push(row);
  }
  const titleOf = (pageId) => form().pages.find((p) => p.id === pageId)?.title;
  const errors = review.errors.map((e) => ({ href: `#/change/${pageOf(e.field) || state.pages[0]}`, text: e.message }));
  const correcting = state.draft.correcting;
  if (problem) state.notice = null;      // the problem says it already
  show(`${noticeHtml()}
    <div id="summary-slot">${problem ? problemBox(problem, ["送信できませんでした", "Not sent"]) : ""}
      ${errors.length ? errorSummary(errors, ["まだ入力が必要な項目があります", "Some answers are still needed"]) : ""}</div>
    <p class="caption">${loc(procedureName())}</p>
    <h1 tabindex="-1">${bi("入力内容の確認", "Check your answers")}</h1>
    ${sections.map((s) => `<section class="check-section" aria-labelledby="check-${esc(s.pageId)}">
      <h2 id="check-${esc(s.pageId)}">${titleOf(s.pageId) ? loc(titleOf(s.pageId)) : esc(s.title)}</h2>
      <dl class="summary-list">${s.rows.map((r) => `<div class="summary-row">
        <dt>${esc(r.label)}</dt><dd class="value">${esc(r.value)}</dd>
        <dd class="change"><a href="#/change/${esc(r.page_id)}">変更<span class="sr-only">（${esc(r.label)}）</span> <span lang="en" class="en">Change</span></a></dd>
      </div>`).join("")}</dl></section>`).join("")}
    <section class="send" aria-labelledby="send-title">
      <h2 id="send-title">${bi(correcting ? "修正した申請を送信する" : "申請を送信する", correcting ? "Send the corrected application" : "Send your application")}</h2>
      ${review.ready
        ? `<p>${bi("内容に間違いがなければ、送信してください。送信すると受付番号が表示されます。",
          "If everything is right, send it. You will get a reference number.")}</p>
          <div class="actions"><button type="button" class="primary" id="send">${bi("送信する", "Send")}</button></div>`
        : `<p>${bi("上の項目を入力すると送信できます。", "Answer the questions listed above, then send.")}</p>`}
    </section>`,
  `入力内容の確認 - ${procedureName().ja}`, { focus: problem || errors.length ? ".error-summary, .notice-error" : "h1" });
  if (problem || errors.length) {
    const box = $("#summary-slot > [role=alert]");
    box?.setAttribute("tabindex", "-1");
    box?.focus();
    for (const link of document.querySelectorAll("#summary-slot a[href^='#/change/']")) {
      link.addEventListener("click", () => { state.pendingErrors = review.errors; });
    }
  }
  const send = $("#send");
  if (send) send.addEventListener("click", () => submit(send, review.version_id));
}

async function submit(button, versionId) {
  button.disabled = true;
  button.innerHTML = bi("送信しています…", "Sending…");
  announce(bi("送信しています。", "Sending."));
  let r;
  try {
    r = await api("POST", "/apply/api/draft/submit", { body: { version_id: versionId }, code: state.code });
  } catch (problem) {
    if (problem.code === "form_version_stale") {
      state.draft = null;              // the draft moved to the new version: load it again
      await check(problem);
    } else if (problem.code === "answers_invalid") {
      state.pendingErrors = problem.details;
      go(`#/fill/${pageOf(problem.details[0]?.field) || state.pages[0]}`);
    } else if (problem.code === "draft_not_found") {
      draftProblem(problem);
    } else {
      await check(problem);
    }
    return;
  }
  const token = r.receipt_token || stored.correcting();
  const corrected = !r.receipt_token;
  forget();
  stored.setCorrecting(null);
  state.sent = { reference: r.reference, corrected };
  if (token) go(`#/receipt/${token}`);
  else problemView(new Problem(200, "sent", `送信しました。受付番号: ${r.reference} Sent. Reference: ${r.reference}`), ["送信しました", "Sent"]);
}
