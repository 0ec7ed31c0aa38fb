// One control per question of the form document (online_forms/form.py), rendered accessibly:
// a label (or a fieldset and legend for compound answers and choices), the hint, the error tied to
// the inputs with aria-describedby and aria-invalid (GOV.UK Design System), and the answer read
// back in the shape the server stores (online_forms/answers.py). The server decides which
// questions are shown; a control only hides itself when told (hidden: not focusable).
//
//   const c = control(q, path, ctx);   // path: "name", or "children.0.child_name" inside a group
//   c.el; c.read(); c.write(value); c.setError(text, code); c.clearError(); c.focusTarget()
//
// ctx: { autofill: bool (the question is about the applicant: browser autofill tokens),
//        files: {id: {name, type, size}}, changed(soon: bool), upload(path, File) → info,
//        lookup(code) → addresses, announce(html) }
import { bi, esc, loc, message, size, today, wareki } from "/apply/text.js";

const DEFAULT_ACCEPT = ["application/pdf", "image/jpeg", "image/png"];
const FILE_NAMES = { "application/pdf": "PDF", "image/jpeg": "JPEG", "image/png": "PNG", "image/heic": "HEIC" };
const SEX = [["1", "男", "Male"], ["2", "女", "Female"], ["0", "回答しない", "Prefer not to say"]];

export const baseId = (path) => `q-${path.replace(/\./g, "-")}`;

function fragment(html) {
  const t = document.createElement("template");
  t.innerHTML = html.trim();
  return t.content.firstElementChild;
}

// A question's label: Japanese, then English on its own line; 「（任意）」 / "(optional)" on both.
function labelHtml(ja, en, required = true) {
  const english = en && en !== ja ? en : "";
  if (required) return bi(ja, english);
  return `${esc(ja)}<span class="optional">（任意）</span> <span lang="en" class="en">${esc(english)}`
    + ` <span class="optional">(optional)</span></span>`;
}
const label = (q) => labelHtml(q.label.ja, q.label.en, q.required !== false);

// The hint: the form's own, then what the type and constraints ask (lengths, ranges, files).
function hintHtml(q) {
  const parts = [];
  if (q.hint) parts.push(loc(q.hint));
  if ((q.type === "text" || q.type === "long_text") && q.max_length) {
    parts.push(bi(`${q.max_length}文字以内`, `up to ${q.max_length} characters`));
  }
  if (q.type === "number" && (q.minimum != null || q.maximum != null)) {
    const lo = q.minimum ?? "";
    const hi = q.maximum ?? "";
    parts.push(bi(`${lo}〜${hi}${q.integer ? "の整数" : ""}`, `${q.integer ? "a whole number " : ""}${lo}–${hi}`));
  }
  if (q.type === "phone") parts.push(bi("例: 090-1234-5678", "e.g. 090-1234-5678"));
  if (q.type === "email") parts.push(bi("例: name@example.jp", "e.g. name@example.jp"));
  if (q.type === "date" || q.type === "birth_date") parts.push(bi("例: 1989-01-08（西暦）", "e.g. 1989-01-08"));
  if (q.type === "multi_choice") parts.push(bi("当てはまるものをすべて選んでください。", "Choose all that apply."));
  if (q.type === "file") {
    const kinds = (q.accept?.length ? q.accept : DEFAULT_ACCEPT).map((t) => FILE_NAMES[t] || t).join("・");
    const mb = (q.max_bytes || 10 * 1024 * 1024) / 1024 / 1024;
    parts.push(bi(`${kinds}、${mb}MBまで`, `${kinds.replace(/・/g, ", ")}, up to ${mb} MB`));
  }
  return parts.length ? parts.map((p) => `<span class="hint-part">${p}</span>`).join("") : "";
}

// What every control shares: the wrapper, its error and which inputs describe themselves by what.
class Base {
  constructor(q, path, ctx) {
    this.q = q;
    this.path = path;
    this.ctx = ctx;
    this.id = baseId(path);
    this.hint = hintHtml(q);
    this.errorText = "";
  }

  hintBlock() {
    return this.hint ? `<div class="hint" id="${this.id}-hint">${this.hint}</div>` : "";
  }

  errorBlock() {
    return `<p class="error-message" id="${this.id}-error" hidden></p>`;
  }

  // Inputs an error concerns (all by default), and the element described by hint and error.
  inputs() { return [...this.el.querySelectorAll("input, textarea, select")]; }
  describedEl() { return this.el.tagName === "FIELDSET" ? this.el : this.inputs()[0]; }

  describe() {
    const ids = [];
    if (this.hint) ids.push(`${this.id}-hint`);
    if (this.errorText) ids.push(`${this.id}-error`);
    for (const extra of this.extraDescribed?.() || []) ids.push(extra);
    const target = this.describedEl();
    if (!target) return;
    if (ids.length) target.setAttribute("aria-describedby", ids.join(" "));
    else target.removeAttribute("aria-describedby");
  }

  setError(text, code = "") {
    this.errorText = text;
    this.errorCode = code;
    const box = this.el.querySelector(`#${this.id}-error`);
    box.innerHTML = `<span class="error-mark" aria-hidden="true">⚠</span><span class="sr-only">エラー <span lang="en">Error</span>: </span>${message(text)}`;
    box.hidden = false;
    this.el.classList.add("has-error");
    const wrong = this.errorInputs(code);
    for (const input of this.errorScope()) {
      if (wrong.includes(input)) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
    this.describe();
  }

  clearError() {
    if (!this.errorText) return;
    this.errorText = "";
    const box = this.el.querySelector(`#${this.id}-error`);
    box.hidden = true;
    box.textContent = "";
    this.el.classList.remove("has-error");
    for (const input of this.errorScope()) input.removeAttribute("aria-invalid");
    this.describe();
  }

  errorInputs() { return this.inputs(); }
  // The inputs whose aria-invalid this control's own error sets (a group's items have their own).
  errorScope() { return this.inputs(); }
  focusTarget() { return this.errorInputs(this.errorCode)[0] || this.inputs()[0] || this.el; }

  setShown(shown) {
    this.el.hidden = !shown;
  }

  get shown() { return !this.el.hidden; }
}

// text, long_text, number, email, phone, date, birth_date: one input.
class Single extends Base {
  constructor(q, path, ctx) {
    super(q, path, ctx);
    const t = q.type;
    const a = ctx.autofill;
    let input;
    if (t === "long_text") {
      input = `<textarea id="${this.id}" name="${this.id}" rows="5"${q.required === false ? "" : " required"}></textarea>`;
    } else {
      const attrs = {
        text: 'type="text"',
        number: `type="text" inputmode="${q.integer ? "numeric" : "decimal"}" spellcheck="false" class="narrow"`,
        email: `type="email" spellcheck="false" autocapitalize="none" autocomplete="${a ? "email" : "off"}"`,
        phone: `type="tel" inputmode="tel" autocomplete="${a ? "tel" : "off"}" class="medium"`,
        date: `type="date" class="medium"${q.min_date ? ` min="${q.min_date}"` : ""}${q.max_date ? ` max="${q.max_date}"` : ""}`,
        birth_date: `type="date" class="medium" autocomplete="${a ? "bday" : "off"}" min="${q.min_date || "1873-01-01"}" max="${q.max_date || today()}"`,
      }[t];
      input = `<input ${attrs} id="${this.id}" name="${this.id}"${q.required === false ? "" : " required"}>`;
    }
    const dated = t === "date" || t === "birth_date";
    this.el = fragment(`<div class="field" data-path="${path}">
      <label class="label" for="${this.id}">${label(q)}</label>
      ${this.hintBlock()}${this.errorBlock()}${input}
      ${dated ? `<p class="wareki" id="${this.id}-wareki" aria-live="polite"></p>` : ""}
    </div>`);
    this.input = this.el.querySelector(`#${this.id}`);
    this.input.addEventListener("input", () => { this.showWareki(); ctx.changed(dated); });
    this.input.addEventListener("change", () => { this.showWareki(); ctx.changed(true); });
    this.describe();
  }

  extraDescribed() { return this.el?.querySelector(".wareki")?.textContent ? [`${this.id}-wareki`] : []; }

  showWareki() {
    const out = this.el.querySelector(".wareki");
    if (!out) return;
    const era = wareki(isoDate(this.input.value));
    out.innerHTML = era ? `和暦 <span lang="en">Japanese calendar</span>: ${esc(era)}` : "";
    this.describe();
  }

  // Where the browser has no date picker, a date typed as 1989/1/8 or 1989年1月8日 is sent as
  // 1989-01-08 (the server's form); anything else goes as typed, for the server to judge.
  read() {
    const dated = this.q.type === "date" || this.q.type === "birth_date";
    return dated ? isoDate(this.input.value) : this.input.value;
  }

  write(value) {
    this.input.value = value == null ? "" : String(value);
    this.showWareki();
  }
}

function isoDate(text) {
  const m = /^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$/.exec(text.normalize("NFKC").trim());
  return m ? `${m[1]}-${m[2].padStart(2, "0")}-${m[3].padStart(2, "0")}` : text;
}

// choice, yes_no, sex: radios; multi_choice: checkboxes. One fieldset, its legend the question.
class Choices extends Base {
  constructor(q, path, ctx) {
    super(q, path, ctx);
    const multi = q.type === "multi_choice";
    let options;
    if (q.type === "yes_no") options = [["yes", "はい", "Yes"], ["no", "いいえ", "No"]];
    else if (q.type === "sex") options = SEX.filter(([v]) => v !== "0" || q.allow_unanswered);
    else options = q.options.map((o) => [o.value, o.label.ja, o.label.en && o.label.en !== o.label.ja ? o.label.en : ""]);
    const kind = multi ? "checkbox" : "radio";
    const inline = q.type === "yes_no" || q.type === "sex";
    this.el = fragment(`<fieldset class="field" data-path="${path}">
      <legend class="label">${label(q)}</legend>
      ${this.hintBlock()}${this.errorBlock()}
      <div class="${multi ? "checkboxes" : "radios"}${inline ? " inline" : ""}">
        ${options.map(([value, ja, en], i) => `<div class="${kind}">
          <input type="${kind}" id="${this.id}-${i}" name="${this.id}" value="${esc(value)}">
          <label for="${this.id}-${i}">${bi(ja, en)}</label></div>`).join("")}
      </div></fieldset>`);
    for (const input of this.inputs()) input.addEventListener("change", () => ctx.changed(true));
    this.describe();
  }

  read() {
    const checked = this.inputs().filter((i) => i.checked).map((i) => i.value);
    if (this.q.type === "multi_choice") return checked;
    if (!checked.length) return null;
    return this.q.type === "yes_no" ? checked[0] === "yes" : checked[0];
  }

  write(value) {
    let values = Array.isArray(value) ? value : [value];
    if (this.q.type === "yes_no") values = value === true ? ["yes"] : value === false ? ["no"] : [];
    for (const input of this.inputs()) input.checked = values.includes(input.value);
  }
}

// A fieldset of several text inputs (氏名, 住所): parts = [[key, ja, en, attrs, required]].
class Compound extends Base {
  part(key) { return this.el.querySelector(`#${this.id}-${key}`); }

  partsHtml(parts) {
    return parts.map(([key, ja, en, attrs, required]) => `<div class="part part-${key}">
      <label for="${this.id}-${key}">${labelHtml(ja, en, required)}</label>
      <input type="text" id="${this.id}-${key}" name="${this.id}-${key}" ${attrs}${required ? " required" : ""}></div>`).join("");
  }

  wire() {
    for (const input of this.inputs()) {
      input.addEventListener("input", () => this.ctx.changed(false));
      input.addEventListener("change", () => this.ctx.changed(true));
    }
    this.describe();
  }

  // The inputs an error is about: for a missing answer the empty required ones, else all.
  errorInputs(code) {
    const all = this.inputs().filter((i) => i.type !== "radio");
    if (code === "required") {
      const empty = all.filter((i) => i.required && !i.value.trim());
      if (empty.length) return empty;
    }
    return this.pick?.(code, all) || all;
  }

}

class Name extends Compound {
  constructor(q, path, ctx) {
    super(q, path, ctx);
    const a = ctx.autofill;
    const kana = q.kana !== false;
    const required = q.required !== false;
    this.keys = kana ? ["family", "given", "family_kana", "given_kana"] : ["family", "given"];
    const names = this.partsHtml([
      ["family", "姓", "Family name", `autocomplete="${a ? "family-name" : "off"}"`, required],
      ["given", "名", "Given name", `autocomplete="${a ? "given-name" : "off"}"`, false],
    ]);
    const readings = kana ? this.partsHtml([
      ["family_kana", "セイ（フリガナ）", "Family name in katakana", 'autocomplete="off"', required],
      ["given_kana", "メイ（フリガナ）", "Given name in katakana", 'autocomplete="off"', false],
    ]) : "";
    const kanaHint = kana ? bi("フリガナはカタカナ（ひらがなも可）で入力してください。", "Type the reading in katakana (or hiragana).") : "";
    if (kanaHint) this.hint += `<span class="hint-part">${kanaHint}</span>`;
    this.el = fragment(`<fieldset class="field compound" data-path="${path}">
      <legend class="label">${label(q)}</legend>
      ${this.hintBlock()}${this.errorBlock()}
      <div class="parts">${names}</div>${readings ? `<div class="parts">${readings}</div>` : ""}
    </fieldset>`);
    this.wire();
  }

  pick(code, all) {
    if (code === "bad_kana") return all.filter((i) => i.id.endsWith("_kana") && i.value.trim());
    if (code === "too_long") return all.filter((i) => i.value.trim().length > 50);
    return null;
  }

  read() {
    const out = {};
    for (const key of this.keys) out[key] = this.part(key).value;
    return out;
  }

  write(value) {
    for (const key of this.keys) this.part(key).value = value?.[key] ?? "";
  }
}

// 住所: 郵便番号 with 「住所を検索」 (GET /apply/api/postal-codes/{code}), the address, the building.
class Address extends Compound {
  constructor(q, path, ctx) {
    super(q, path, ctx);
    const a = ctx.autofill;
    const required = q.required !== false;
    this.el = fragment(`<fieldset class="field compound" data-path="${path}">
      <legend class="label">${label(q)}</legend>
      ${this.hintBlock()}${this.errorBlock()}
      <div class="part part-postal_code">
        <label for="${this.id}-postal_code">${bi("郵便番号", "Postal code")}</label>
        <div class="hint" id="${this.id}-postal-hint">${bi("例: 100-0001　入力して「住所を検索」を押すと、住所の前半が入ります。",
          "e.g. 100-0001. Then press Find address to fill in the first part of the address.")}</div>
        <div class="with-button">
          <input type="text" id="${this.id}-postal_code" name="${this.id}-postal_code" inputmode="numeric"
                 autocomplete="${a ? "postal-code" : "off"}" class="narrow" spellcheck="false" aria-describedby="${this.id}-postal-hint">
          <button type="button" class="secondary lookup">${bi("住所を検索", "Find address")}</button>
        </div>
        <div class="lookup-result" id="${this.id}-lookup" aria-live="polite"></div>
      </div>
      ${this.partsHtml([
        ["address", "住所（番地まで）", "Address (with block and house number)", `autocomplete="${a ? "street-address" : "off"}"`, required],
        ["building", "建物名・部屋番号", "Building and room", 'autocomplete="off"', false],
      ])}
    </fieldset>`);
    this.el.querySelector(".lookup").addEventListener("click", () => this.lookup());
    this.part("postal_code").addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); this.lookup(); }
    });
    this.wire();
  }

  pick(code, all) {
    if (code === "bad_postal_code") return [this.part("postal_code")];
    if (code === "too_long") return [this.part("address"), this.part("building")];
    return null;
  }

  async lookup() {
    const out = this.el.querySelector(".lookup-result");
    const code = this.part("postal_code").value.trim();
    if (!code) {
      out.innerHTML = `<p class="inline-error">${bi("郵便番号を入力してください。", "Enter the postal code.")}</p>`;
      this.part("postal_code").focus();
      return;
    }
    out.innerHTML = `<p>${bi("検索しています…", "Searching…")}</p>`;
    let found;
    try {
      found = await this.ctx.lookup(code);
    } catch (problem) {
      out.innerHTML = `<p class="inline-error"><span aria-hidden="true">⚠</span> ${message(problem.text)}</p>`;
      this.part("postal_code").focus();
      return;
    }
    if (!found.length) {
      out.innerHTML = `<p class="inline-error"><span aria-hidden="true">⚠</span> ${bi("この郵便番号の住所は見つかりませんでした。住所を入力してください。",
        "No address was found for this postal code. Type the address.")}</p>`;
      return;
    }
    if (found.length === 1) {
      this.use(found[0].address, out);
      return;
    }
    out.innerHTML = `<div class="towns" role="group" aria-labelledby="${this.id}-towns">
      <p id="${this.id}-towns" class="towns-title">${bi(`${found.length}件の住所があります。選んでください。`, `${found.length} addresses: choose one.`)}</p>
      <ul>${found.map((f, i) => `<li><button type="button" class="town" data-i="${i}">${esc(f.address)}</button></li>`).join("")}</ul></div>`;
    for (const button of out.querySelectorAll(".town")) {
      button.addEventListener("click", () => this.use(found[Number(button.dataset.i)].address, out));
    }
    out.querySelector(".town").focus();
  }

  use(address, out) {
    const input = this.part("address");
    input.value = address;
    out.innerHTML = `<p class="found">${bi(`「${address}」を入れました。続けて番地を入力してください。`,
      "Filled in. Now add the block and house number.")}</p>`;
    this.ctx.changed(true);
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }

  read() {
    return { postal_code: this.part("postal_code").value, address: this.part("address").value, building: this.part("building").value };
  }

  write(value) {
    this.part("postal_code").value = value?.postal_code ?? "";
    this.part("address").value = value?.address ?? "";
    this.part("building").value = value?.building ?? "";
  }
}

// A file: the raw bytes go to POST /apply/api/draft/files at once; the answer is {id}.
class FileField extends Base {
  constructor(q, path, ctx) {
    super(q, path, ctx);
    this.value = null;
    const accept = (q.accept?.length ? q.accept : DEFAULT_ACCEPT).join(",");
    this.limit = q.max_bytes || 10 * 1024 * 1024;
    this.el = fragment(`<div class="field file" data-path="${path}">
      <label class="label" for="${this.id}">${label(q)}</label>
      ${this.hintBlock()}${this.errorBlock()}
      <input type="file" id="${this.id}" name="${this.id}" accept="${accept}"${q.required === false ? "" : " required"}>
      <div class="file-status" id="${this.id}-status" aria-live="polite"></div>
    </div>`);
    this.input = this.el.querySelector("input");
    this.status = this.el.querySelector(".file-status");
    this.input.addEventListener("change", () => this.send());
    this.describe();
  }

  async send() {
    const file = this.input.files?.[0];
    if (!file) return;
    if (file.size > this.limit) {
      const mb = this.limit / 1024 / 1024;
      this.setError(`ファイルは${mb}MBまでです。 The file must be at most ${mb} MB.`, "file_too_large");
      this.input.value = "";
      return;
    }
    this.status.innerHTML = `<p>${bi(`「${file.name}」を送っています…`, "Uploading…")}</p>`;
    try {
      const info = await this.ctx.upload(this.path, file);
      this.ctx.files[info.id] = info;
      this.value = { id: info.id };
      this.clearError();
      this.showAttached(true);
      this.ctx.changed(true);
    } catch (problem) {
      this.status.textContent = "";
      this.input.value = "";
      this.setError(problem.text, problem.code);
      this.showAttached(false);
    }
  }

  showAttached(announce = false) {
    const info = this.value && this.ctx.files[this.value.id];
    if (!info) {
      if (!announce) this.status.textContent = "";
      return;
    }
    this.status.innerHTML = `<p class="attached"><span aria-hidden="true">✓</span> ${bi("添付済み", "Attached")}:
      <strong>${esc(info.name)}</strong>（${esc(size(info.size))}）</p>
      <button type="button" class="link-button remove-file">${bi("添付を取り消す", "Remove the file")}</button>`;
    this.status.querySelector(".remove-file").addEventListener("click", () => {
      this.value = null;
      this.input.value = "";
      this.status.innerHTML = `<p>${bi("添付を取り消しました。", "The file was removed.")}</p>`;
      this.ctx.changed(true);
      this.input.focus();
    });
  }

  inputs() { return [this.input]; }
  read() { return this.value; }

  write(value) {
    this.value = value && typeof value === "object" && value.id ? { id: value.id } : null;
    this.showAttached();
  }
}

// A repeatable group: items (「児童 1」, 「児童 2」…) each holding the inner questions; add and
// remove with buttons; conditions inside an item come from the server's shown["group.n"].
class Group extends Base {
  constructor(q, path, ctx) {
    super(q, path, ctx);
    this.items = [];   // [{el, controls: [control]}]
    this.min = q.min_items ?? (q.required === false ? 0 : 1);
    this.max = Math.min(q.max_items ?? 30, 30);
    this.itemLabel = q.item_label || q.label;
    this.el = fragment(`<section class="field group" data-path="${path}" aria-labelledby="${this.id}-title">
      <h2 id="${this.id}-title" class="group-title">${label(q)}</h2>
      ${this.hintBlock()}${this.errorBlock()}
      <div class="items"></div>
      <button type="button" class="secondary add-item" id="${this.id}-add">${bi(`${this.itemLabel.ja}を追加`, `Add ${(this.itemLabel.en || this.itemLabel.ja).toLowerCase()}`)}</button>
    </section>`);
    this.box = this.el.querySelector(".items");
    this.addButton = this.el.querySelector(".add-item");
    this.addButton.addEventListener("click", () => this.add());
    this.shownItems = {};
    this.describe();
  }

  describedEl() { return this.el; }
  inputs() { return this.items.flatMap((item) => item.controls.filter((c) => c.shown).flatMap((c) => c.inputs())); }
  // A group's own error (too few items) is described on the section, not on the inner inputs.
  errorInputs() { return []; }
  errorScope() { return []; }
  focusTarget() { return this.inputs()[0] || this.addButton; }

  // Every control inside, for error lookup: [path, control].
  children() { return this.items.flatMap((item) => item.controls.map((c) => [c.path, c])); }

  read() { return this.items.map((item) => Object.fromEntries(item.controls.map((c) => [c.q.id, c.read()]))); }

  write(value) {
    const list = Array.isArray(value) ? value : [];
    const count = Math.max(list.length, this.min);
    this.render(Array.from({ length: count }, (_, n) => list[n] || {}));
  }

  render(values) {
    this.box.textContent = "";
    this.items = values.map((v, n) => this.item(n, v));
    for (const item of this.items) this.box.append(item.el);
    this.addButton.hidden = this.items.length >= this.max;
    this.applyShown(this.shownItems);
  }

  item(n, value) {
    const ja = `${this.itemLabel.ja} ${n + 1}`;
    const en = `${this.itemLabel.en || this.itemLabel.ja} ${n + 1}`;
    const headingId = `${this.id}-${n}-title`;
    const el = fragment(`<fieldset class="item" data-n="${n}">
      <legend><h3 id="${headingId}" tabindex="-1">${bi(ja, en)}</h3></legend>
      <div class="item-questions"></div>
      <button type="button" class="secondary remove-item">${bi(`${ja}を削除`, `Remove ${en.toLowerCase()}`)}</button>
    </fieldset>`);
    const controls = this.q.questions.map((sub) => {
      const c = control(sub, `${this.path}.${n}.${sub.id}`, { ...this.ctx, autofill: false });
      c.write(value[sub.id]);
      return c;
    });
    el.querySelector(".item-questions").append(...controls.map((c) => c.el));
    const remove = el.querySelector(".remove-item");
    remove.addEventListener("click", () => this.remove(n));
    return { el, controls, remove };
  }

  add() {
    const values = this.read();
    values.push({});
    this.render(values);
    const heading = this.box.querySelector(`[data-n="${values.length - 1}"] h3`);
    heading.focus();
    this.ctx.announce(bi(`${this.itemLabel.ja} ${values.length} を追加しました。`, `Added ${(this.itemLabel.en || this.itemLabel.ja).toLowerCase()} ${values.length}.`));
    this.ctx.changed(true);
  }

  remove(n) {
    const values = this.read();
    values.splice(n, 1);
    this.render(values);
    const next = this.box.querySelector(`[data-n="${Math.min(n, values.length - 1)}"] h3`);
    (next || this.addButton).focus();
    this.ctx.announce(bi(`${this.itemLabel.ja} ${n + 1} を削除しました。`, `Removed ${(this.itemLabel.en || this.itemLabel.ja).toLowerCase()} ${n + 1}.`));
    this.ctx.changed(true);
  }

  // shown: the server's {"group.n": [ids]}. An item not yet saved shows its unconditional questions.
  applyShown(shown) {
    this.shownItems = shown;
    const appeared = [];
    this.items.forEach((item, n) => {
      item.remove.hidden = this.items.length <= this.min;
      const ids = shown[`${this.path}.${n}`];
      for (const c of item.controls) {
        const visible = c.q.show_if == null || (ids ? ids.includes(c.q.id) : false);
        if (visible && !c.shown) appeared.push(c);
        c.setShown(visible);
      }
    });
    return appeared;
  }
}

const KINDS = {
  text: Single, long_text: Single, number: Single, email: Single, phone: Single, date: Single, birth_date: Single,
  choice: Choices, multi_choice: Choices, yes_no: Choices, sex: Choices,
  name: Name, address: Address, file: FileField, group: Group,
};

export function control(q, path, ctx) {
  const Kind = KINDS[q.type];
  if (!Kind) throw new Error(`unknown question type ${q.type}`);
  return new Kind(q, path, ctx);
}
