// Shared by the staff's online-application screens (forms.html: the applications portal; builder.html:
// the form builder): the API call that keeps an error's details, sign-in, labels in Japanese then
// English, conditions as people read them and as the builder chooses them, and a form document
// rendered as fields (staff entry of paper applications, the builder's phone preview).
//
// A form document is online_forms/form.py's JSON (pages → questions; "required" is true when left
// out). Conditions are JSON Logic; the builder makes only the shapes in OPS below, and shows any
// other rule as its JSON, untouched, so a form imported from elsewhere keeps its conditions.

export const $ = (id) => document.getElementById(id);

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[ch]));
}

// fetch + JSON with the session cookie; an error keeps the envelope's code, message and details.
export async function call(method, path, body) {
  const response = await fetch(path, {
    method, credentials: "same-origin",
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const err = new Error(data.error?.message || `HTTP ${response.status}`);
    err.code = data.error?.code;
    err.status = response.status;
    err.details = data.error?.details || [];
    throw err;
  }
  return data;
}

// A text in Japanese with its English beside it (marked lang="en"); `l` is {ja, en?} or a [ja, en] pair.
export function both(l) {
  if (!l) return "";
  const [ja, en] = Array.isArray(l) ? l : [l.ja, l.en];
  return en && en !== ja ? `${esc(ja)} <span lang="en" class="en">${esc(en)}</span>` : esc(ja);
}
export const plain = (l) => (Array.isArray(l) ? l.join(" ") : l ? [l.ja, l.en].filter(Boolean).join(" ") : "");

// online_forms/workflow.py and procedure.py, as the screens say them.
export const STATUS = {
  received: ["受付", "Received"], in_progress: ["処理中", "In progress"], returned: ["差し戻し", "Returned for correction"],
  completed: ["完了", "Completed"], rejected: ["却下", "Rejected"], withdrawn: ["取下げ", "Withdrawn"],
};
export const CHANNEL = {
  online: ["オンライン", "Online"], paper: ["窓口（紙）", "Paper, at the counter"], post: ["郵送", "By post"],
  phone: ["電話", "By phone"], counter: ["書かない窓口", "No-writing counter"],
};
// Status changes staff may make (workflow.STAFF_MOVES); the server decides, this only picks the buttons.
export const MOVES = {
  received: ["in_progress", "returned", "completed", "rejected"],
  in_progress: ["received", "returned", "completed", "rejected"],
  returned: ["rejected"],
};
export const VERSION_STATE = {
  draft: ["下書き", "Draft"], pending: ["承認待ち", "Awaiting approval"], published: ["公開中", "Published"],
  retired: ["過去の版", "Retired"],
};
export const PROCEDURE_STATE = { draft: ["準備中", "Not yet open"], live: ["受付中", "Open"], archived: ["受付終了", "Closed"] };

// A moment as Asia/Tokyo date and time (the office's clock), e.g. 2026/12/01 10:05.
export function when(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString("ja-JP", { timeZone: "Asia/Tokyo", year: "numeric", month: "2-digit", day: "2-digit",
                                                 hour: "2-digit", minute: "2-digit" });
}

// Sign-in on a page with #login (form #login-form, #username, #password, #login-error) and #app.
// `ready(me)` runs once signed in as staff; a 401 later brings the form back.
export function signIn(ready) {
  const show = (signedIn) => {
    $("login").hidden = signedIn;
    $("app").hidden = !signedIn;
    $("session").hidden = !signedIn;
    if (!signedIn) $("username").focus();
  };
  const start = async () => {
    const me = await call("GET", "/api/auth/me");
    if (me.kind !== "staff") { show(false); return; }
    $("who").textContent = me.name || me.id;
    show(true);
    await ready(me);
  };
  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await call("POST", "/api/auth/login", { username: $("username").value, password: $("password").value });
      $("password").value = "";
      $("login-error").textContent = "";
      await start();
    } catch (err) {
      $("login-error").textContent = "⚠ " + (err.code === "login_failed"
        ? "職員IDかパスワードが違います。 Wrong user name or password." : err.message);
    }
  });
  $("logout").addEventListener("click", async () => {
    await call("POST", "/api/auth/logout").catch(() => {});
    location.reload();
  });
  start().catch(() => show(false));
  return show;
}

// ------------------------------------------------------------------------------------------- conditions
// The operators the builder offers, by the type of the question they read.
export const OPS = {
  eq: ["が次と等しい", "equals"], ne: ["が次と等しくない", "does not equal"], in: ["が次のどれか", "is one of"],
  includes: ["で次を選んだ", "includes"], yes: ["が「はい」", "is yes"], no: ["が「いいえ」", "is no"],
  answered: ["に回答がある", "is answered"],
};
export function opsFor(type) {
  if (type === "yes_no") return ["yes", "no"];
  if (type === "choice" || type === "sex") return ["eq", "ne", "in", "answered"];
  if (type === "multi_choice") return ["includes", "answered"];
  if (type === "number" || type === "text" || type === "email" || type === "phone" || type === "date") return ["eq", "ne", "answered"];
  return ["answered"];
}
// The options a value is chosen from (choice-like questions), as [value, {ja, en}].
export function optionsOf(q) {
  if (!q) return null;
  if (q.type === "choice" || q.type === "multi_choice") return (q.options || []).map((o) => [o.value, o.label]);
  if (q.type === "sex") return [["1", { ja: "男", en: "Male" }], ["2", { ja: "女", en: "Female" }], ["0", { ja: "回答しない", en: "Prefer not to say" }]];
  return null;
}
const isVar = (x) => x && typeof x === "object" && !Array.isArray(x) && Object.keys(x).length === 1 && typeof x.var === "string";
const one = (args) => (Array.isArray(args) && args.length === 1 ? args[0] : args);

// The builder's choice {question, op, value} a rule was made from, or null for any other rule.
export function choiceOf(rule) {
  if (!rule || typeof rule !== "object" || Array.isArray(rule) || Object.keys(rule).length !== 1) return null;
  const [op, args] = Object.entries(rule)[0];
  if (op === "!!" && isVar(one(args))) return { question: one(args).var, op: "answered", value: null };
  if (!Array.isArray(args) || args.length !== 2) return null;
  const [a, b] = args;
  if (op === "==" && isVar(a) && b === true) return { question: a.var, op: "yes", value: null };
  if (op === "==" && isVar(a) && b === false) return { question: a.var, op: "no", value: null };
  if ((op === "==" || op === "!=") && isVar(a) && (typeof b === "string" || typeof b === "number")) {
    return { question: a.var, op: op === "==" ? "eq" : "ne", value: String(b) };
  }
  if (op === "in" && isVar(a) && Array.isArray(b) && b.every((x) => typeof x === "string")) return { question: a.var, op: "in", value: b };
  if (op === "in" && typeof a === "string" && isVar(b)) return { question: b.var, op: "includes", value: a };
  return null;
}

// The JSON Logic rule of a builder's choice; `q` is the question it reads (numbers compare as numbers).
export function ruleOf(choice, q) {
  const v = { var: choice.question };
  const value = q && q.type === "number" && choice.value !== "" && !Number.isNaN(Number(choice.value)) ? Number(choice.value) : choice.value;
  switch (choice.op) {
    case "yes": return { "==": [v, true] };
    case "no": return { "==": [v, false] };
    case "answered": return { "!!": [v] };
    case "ne": return { "!=": [v, value] };
    case "in": return { in: [v, Array.isArray(choice.value) ? choice.value : []] };
    case "includes": return { in: [String(choice.value ?? ""), v] };
    default: return { "==": [v, value] };
  }
}

// A rule as people read it, Japanese then English; `find(id)` gives the question a var names.
export function describe(rule, find) {
  if (rule === true) return ["常に", "always"];
  const c = choiceOf(rule);
  if (!c) return [`条件式 ${JSON.stringify(rule)}`, "a rule written as JSON Logic"];
  const q = find(c.question);
  const name = q ? q.label : { ja: c.question, en: c.question };
  const opt = (value) => {
    const found = (optionsOf(q) || []).find(([v]) => v === value);
    return found ? found[1] : { ja: value, en: value };
  };
  const ja = `「${name.ja}」`;
  const en = `“${name.en || name.ja}”`;
  switch (c.op) {
    case "yes": return [`${ja}が「はい」のとき`, `when ${en} is yes`];
    case "no": return [`${ja}が「いいえ」のとき`, `when ${en} is no`];
    case "answered": return [`${ja}に回答があるとき`, `when ${en} is answered`];
    case "ne": return [`${ja}が「${opt(c.value).ja}」でないとき`, `when ${en} is not “${opt(c.value).en || opt(c.value).ja}”`];
    case "in": return [`${ja}が${c.value.map((v) => `「${opt(v).ja}」`).join("")}のどれかのとき`,
                       `when ${en} is one of ${c.value.map((v) => `“${opt(v).en || opt(v).ja}”`).join(", ")}`];
    case "includes": return [`${ja}で「${opt(c.value).ja}」を選んだとき`, `when ${en} includes “${opt(c.value).en || opt(c.value).ja}”`];
    default: return [`${ja}が「${opt(c.value).ja}」のとき`, `when ${en} is “${opt(c.value).en || opt(c.value).ja}”`];
  }
}

// Every question of a form by id (top level and inside groups), for describe().
export function finder(form) {
  const all = new Map();
  for (const p of form.pages || []) for (const q of p.questions || []) {
    all.set(q.id, q);
    for (const sub of q.questions || []) if (!all.has(sub.id)) all.set(sub.id, sub);
  }
  return (id) => all.get(String(id).split(".")[0]);
}

// ------------------------------------------------------------------------------------------- fields
// An answer's path (`id`, or `group.n.id`) as an element id.
export const fid = (path, prefix = "f") => `${prefix}-${String(path).replace(/[^A-Za-z0-9_-]/g, "-")}`;
const TYPE_INPUT = { text: "text", email: "email", phone: "tel", number: "text", date: "date", birth_date: "date" };
const AUTOCOMPLETE = { email: "email", phone: "tel", birth_date: "bday" };
const FILE_TYPES = { "application/pdf": "PDF", "image/jpeg": "JPEG", "image/png": "PNG", "image/heic": "HEIC" };

// One question as fields. opts: {prefix, find (for conditions), mode: "entry" | "preview", value (prefill)}.
export function questionHtml(q, path, opts) {
  const id = fid(path, opts.prefix);
  const optional = q.required === false ? ` <span class="optional">（任意 <span lang="en">optional</span>）</span>` : "";
  const hint = q.hint ? `<p class="hint" id="${id}-hint">${both(q.hint)}</p>` : "";
  const cond = q.show_if != null && opts.find
    ? `<p class="condition" id="${id}-cond"><span class="tag">条件付き <span lang="en">Conditional</span></span> ${both(describe(q.show_if, opts.find))}</p>` : "";
  const err = `<p class="field-error" id="${id}-error" hidden></p>`;
  const described = [q.hint ? `${id}-hint` : "", cond ? `${id}-cond` : ""].filter(Boolean).join(" ");
  const aria = described ? ` aria-describedby="${described}"` : "";
  const value = opts.value;
  const wrap = (inner) => `<div class="question" data-path="${esc(path)}" data-type="${esc(q.type)}">${inner}</div>`;
  const group = (legendExtra, inner) => wrap(`<fieldset id="${id}"${aria}><legend>${both(q.label)}${optional}${legendExtra}</legend>${hint}${cond}${err}${inner}</fieldset>`);
  const radios = (choices, checked) => `<div class="choices">${choices.map(([v, l], i) =>
    `<label class="choice"><input type="radio" id="${id}-${i}" name="${esc(path)}" value="${esc(v)}"${checked === v ? " checked" : ""}> ${both(l)}</label>`).join("")}</div>`;
  switch (q.type) {
    case "long_text":
      return wrap(`<label for="${id}">${both(q.label)}${optional}</label>${hint}${cond}${err}
        <textarea id="${id}" name="${esc(path)}" rows="4"${aria}>${esc(value ?? "")}</textarea>`);
    case "choice":
      return group("", radios((q.options || []).map((o) => [o.value, o.label]), value));
    case "sex":
      return group("", radios(optionsOf(q).filter(([v]) => v !== "0" || q.allow_unanswered), value));
    case "yes_no":
      return group("", radios([["yes", { ja: "はい", en: "Yes" }], ["no", { ja: "いいえ", en: "No" }]],
                              value === true ? "yes" : value === false ? "no" : null));
    case "multi_choice":
      return group("", `<div class="choices">${(q.options || []).map((o, i) =>
        `<label class="choice"><input type="checkbox" id="${id}-${i}" name="${esc(path)}" value="${esc(o.value)}"${(value || []).includes(o.value) ? " checked" : ""}> ${both(o.label)}</label>`).join("")}</div>`);
    case "name": {
      const v = value || {};
      const part = (key, ja, en, auto) => `<div class="part"><label for="${id}-${key}">${ja} <span lang="en" class="en">${en}</span></label>
        <input id="${id}-${key}" name="${esc(path)}" data-part="${key}" value="${esc(v[key] ?? "")}" autocomplete="${auto}"></div>`;
      const kana = q.kana === false ? "" : part("family_kana", "セイ（フリガナ）", "Family name reading", "off") + part("given_kana", "メイ（フリガナ）", "Given name reading", "off");
      return group("", `<div class="parts">${part("family", "姓", "Family name", "family-name")}${part("given", "名", "Given name", "given-name")}${kana}</div>`);
    }
    case "address": {
      const v = value || {};
      return group("", `<div class="part"><label for="${id}-postal_code">郵便番号 <span lang="en" class="en">Postal code</span></label>
        <input id="${id}-postal_code" name="${esc(path)}" data-part="postal_code" class="short" inputmode="numeric" autocomplete="postal-code" value="${esc(v.postal_code ?? "")}"></div>
        <div class="part"><label for="${id}-address">住所 <span lang="en" class="en">Address</span></label>
        <input id="${id}-address" name="${esc(path)}" data-part="address" autocomplete="street-address" value="${esc(v.address ?? "")}"></div>
        <div class="part"><label for="${id}-building">方書（建物名・部屋番号） <span lang="en" class="en">Building and room</span></label>
        <input id="${id}-building" name="${esc(path)}" data-part="building" value="${esc(v.building ?? "")}"></div>`);
    }
    case "file": {
      const kinds = (q.accept && q.accept.length ? q.accept : ["application/pdf", "image/jpeg", "image/png"]).map((t) => FILE_TYPES[t] || t).join("・");
      const limit = `${Math.round((q.max_bytes || 10 * 1024 * 1024) / 1024 / 1024 * 10) / 10} MB`;
      if (opts.mode === "entry") {
        return wrap(`<p class="file-note" id="${id}"><strong>${both(q.label)}</strong>${optional}：
          紙の書類で受け取ったものは、ここでは添付できません（原本を保管してください）。
          <span lang="en" class="en">Papers received cannot be attached here; keep the originals.</span></p>${err}`);
      }
      return wrap(`<label for="${id}">${both(q.label)}${optional}</label>${hint}${cond}
        <p class="hint">${esc(kinds)}、${esc(limit)}まで <span lang="en" class="en">${esc(kinds)}, up to ${esc(limit)}</span></p>${err}
        <input type="file" id="${id}" name="${esc(path)}"${aria}>`);
    }
    case "group": {
      const items = Array.isArray(value) ? value : Array.from({ length: Math.max(1, q.min_items || 0) }, () => ({}));
      const itemLabel = q.item_label || q.label;
      const body = items.map((item, n) => `<fieldset class="item" data-item="${n}"><legend>${both({ ja: `${itemLabel.ja} ${n + 1}`, en: `${itemLabel.en || itemLabel.ja} ${n + 1}` })}</legend>
        ${(q.questions || []).map((sub) => questionHtml(sub, `${path}.${n}.${sub.id}`, { ...opts, value: item[sub.id] })).join("")}
        ${opts.mode === "entry" ? `<button type="button" class="small" data-remove-item="${esc(path)}" data-index="${n}">この${esc(itemLabel.ja)}を削除 <span lang="en" class="en">Remove ${esc(itemLabel.en || itemLabel.ja)} ${n + 1}</span></button>` : ""}</fieldset>`).join("");
      const add = `<button type="button" class="small" data-add-item="${esc(path)}">${esc(itemLabel.ja)}を追加 <span lang="en" class="en">Add ${esc(itemLabel.en || itemLabel.ja)}</span></button>`;
      return wrap(`<fieldset id="${id}" class="group"${aria}><legend>${both(q.label)}${optional}</legend>${hint}${cond}${err}
        <div class="items">${body}</div>${add}</fieldset>`);
    }
    default: {
      const type = TYPE_INPUT[q.type] || "text";
      const mode = q.type === "number" ? ` inputmode="${q.integer ? "numeric" : "decimal"}"` : "";
      const auto = AUTOCOMPLETE[q.type] ? ` autocomplete="${AUTOCOMPLETE[q.type]}"` : "";
      return wrap(`<label for="${id}">${both(q.label)}${optional}</label>${hint}${cond}${err}
        <input type="${type}" id="${id}" name="${esc(path)}"${mode}${auto}${aria} value="${esc(value ?? "")}"${q.type === "number" ? ' class="short"' : ""}>`);
    }
  }
}

// The answers typed into the fields of `form` under `root` (questionHtml's markup), in the API's
// shapes (online_forms/answers.py); blanks are left out, files are never sent (staff entry).
export function collect(form, root) {
  const out = {};
  for (const page of form.pages || []) {
    for (const q of page.questions || []) {
      const v = readAnswer(q, q.id, root);
      if (v !== undefined) out[q.id] = v;
    }
  }
  return out;
}

export function readAnswer(q, path, root) {
  const named = [...root.querySelectorAll("[name]")].filter((el) => el.getAttribute("name") === path);
  switch (q.type) {
    case "file": return undefined;
    case "group": {
      const box = root.querySelector(`.question[data-path="${CSS.escape(path)}"] .items`);
      if (!box) return undefined;
      const items = [...box.children].map((_, n) => {
        const item = {};
        for (const sub of q.questions || []) {
          const v = readAnswer(sub, `${path}.${n}.${sub.id}`, root);
          if (v !== undefined) item[sub.id] = v;
        }
        return item;
      });
      return items;
    }
    case "name": case "address": {
      const parts = {};
      for (const el of named) parts[el.dataset.part] = el.value;
      return Object.values(parts).some((x) => x.trim()) ? parts : undefined;
    }
    case "multi_choice": {
      const chosen = named.filter((el) => el.checked).map((el) => el.value);
      return chosen.length ? chosen : undefined;
    }
    case "choice": case "sex": case "yes_no": {
      const chosen = named.find((el) => el.checked);
      if (!chosen) return undefined;
      return q.type === "yes_no" ? chosen.value === "yes" : chosen.value;
    }
    default: {
      const v = named[0]?.value ?? "";
      return v.trim() ? v : undefined;
    }
  }
}

// Put each error {field, message|problem} next to its field under `root`; the rest (no field found)
// are returned. Fields get aria-invalid and their message in aria-describedby.
export function showFieldErrors(root, details, prefix = "f") {
  for (const el of root.querySelectorAll(".field-error")) { el.hidden = true; el.textContent = ""; }
  for (const el of root.querySelectorAll("[aria-invalid]")) {
    el.removeAttribute("aria-invalid");
    const ids = (el.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && !x.endsWith("-error"));
    if (ids.length) el.setAttribute("aria-describedby", ids.join(" ")); else el.removeAttribute("aria-describedby");
  }
  const unplaced = [];
  const placed = [];
  for (const d of details) {
    const id = fid(d.field, prefix);
    const box = d.field ? root.querySelector(`#${CSS.escape(id)}-error`) : null;
    if (!box) { unplaced.push(d); continue; }
    box.hidden = false;
    box.textContent = `⚠ ${d.message || d.problem}`;
    const question = box.closest(".question");
    const inputs = [...question.querySelectorAll("input, textarea, select")].filter((el) => el.closest(".question") === question);
    for (const el of inputs) {
      el.setAttribute("aria-invalid", "true");
      el.setAttribute("aria-describedby", [el.getAttribute("aria-describedby"), `${id}-error`].filter(Boolean).join(" "));
    }
    placed.push({ ...d, target: inputs[0]?.id || id });
  }
  return { placed, unplaced };
}
