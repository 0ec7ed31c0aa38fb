// Words and numbers as the citizens' pages show them: Japanese first, English beside it in a
// span with lang="en"; escaping; yen, sizes, moments in Asia/Tokyo; 和暦 (the same table as
// online_forms/wareki.py, whose docstring gives each era's legal source).

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[ch]));
}

// `ja` then `en` (HTML): the English in its own span with lang="en" (class "en": smaller, on its own
// line in headings and labels, beside in buttons).
export function bi(ja, en) {
  return en ? `${esc(ja)} <span lang="en" class="en">${esc(en)}</span>` : esc(ja);
}

// A {ja, en} text of the form document or the catalogue.
export const loc = (text) => bi(text?.ja ?? "", text?.en && text.en !== text.ja ? text.en : "");
export const plain = (text) => (text?.en && text.en !== text.ja ? `${text.ja} ${text.en}` : text?.ja ?? "");

// The server's messages are one string, Japanese then English ("…してください。 Enter …").
// Split it where the English starts, so the English part is marked lang="en".
export function splitMessage(message) {
  const text = String(message ?? "").trim();
  let at = -1;
  const re = /\s+(?=[A-Za-z“"(])/g;
  let m;
  let fallback = -1;
  while ((m = re.exec(text)) !== null) {
    const before = text[m.index - 1] || "";
    if ("。）」".includes(before)) at = m.index;
    else if (before > "\u007f" && fallback < 0) fallback = m.index;
  }
  if (at < 0) at = fallback;
  if (at < 0) return /[\u3000-\u9fff]/.test(text) ? [text, ""] : ["", text];
  return [text.slice(0, at).trim(), text.slice(at).trim()];
}

export function message(text) {
  const [ja, en] = splitMessage(text);
  return ja ? bi(ja, en) : `<span lang="en">${esc(en)}</span>`;
}

export const yen = (n) => (n ? [`${n.toLocaleString("ja-JP")}円`, `${n.toLocaleString("en")} yen`] : ["無料", "No fee"]);

export const IDENTITY = {
  none: ["不要", "Not needed"],
  email: ["メールアドレスの確認", "A verified email address"],
  my_number_card: ["マイナンバーカード", "My Number Card"],
};

export function size(bytes) {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

const TOKYO = "Asia/Tokyo";

// An ISO moment as 「2026年5月30日（土）14:30」 and "30 May 2026, 14:30 (Japan time)" (Asia/Tokyo).
export function moment(iso) {
  const d = new Date(iso);
  const parts = Object.fromEntries(new Intl.DateTimeFormat("ja-JP", {
    timeZone: TOKYO, year: "numeric", month: "numeric", day: "numeric", weekday: "short", hour: "2-digit",
    minute: "2-digit", hourCycle: "h23",
  }).formatToParts(d).map((p) => [p.type, p.value]));
  const en = new Intl.DateTimeFormat("en-GB", { timeZone: TOKYO, dateStyle: "long", timeStyle: "short" }).format(d);
  return [`${parts.year}年${parts.month}月${parts.day}日（${parts.weekday}）${parts.hour}:${parts.minute}`, `${en} (Japan time)`];
}

// Newest first: the first era whose first day is on or before a date is that date's era.
const ERAS = [
  ["令和", 2019, "2019-05-01"],
  ["平成", 1989, "1989-01-08"],
  ["昭和", 1926, "1926-12-25"],
  ["大正", 1912, "1912-07-30"],
  ["明治", 1868, "1873-01-01"],
];

// "1989-01-08" → "平成元年1月8日"; "" for a date that is not a real one or is before 1873.
export function wareki(isoDate) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(isoDate || "");
  if (!m) return "";
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const check = new Date(Date.UTC(y, mo - 1, d));
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d) return "";
  const era = ERAS.find((e) => e[2] <= isoDate);
  if (!era) return "";
  const year = y - era[1] + 1;
  return `${era[0]}${year === 1 ? "元" : year}年${mo}月${d}日`;
}

// Today in Asia/Tokyo as YYYY-MM-DD.
export function today() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: TOKYO }).format(new Date());
}
