// What every view of the citizens' pages shares: putting a view on screen (title, focus on its
// heading after a navigation), the live region, the error summary (GOV.UK Design System: focused,
// role=alert, a link to each field), problems from the API in words.
import { bi, esc, message } from "/apply/text.js";

const SITE = "オンライン申請 Online applications";
let navigated = false;

export const $ = (selector, root = document) => root.querySelector(selector);
export const view = () => document.getElementById("view");

// Put `html` in the view; the page title becomes `title` (plus the site's name). After the first
// view (a navigation, not a page load) focus moves to `focus` (a selector or element; default the
// view's h1) so a screen reader starts at the new page's heading.
export function show(html, title, { focus = "h1" } = {}) {
  const box = view();
  box.innerHTML = html;
  box.removeAttribute("aria-busy");
  document.title = `${title} | ${SITE}`;
  if (navigated) {
    const target = typeof focus === "string" ? box.querySelector(focus) : focus;
    if (target) {
      if (!target.hasAttribute("tabindex") && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) {
        target.setAttribute("tabindex", "-1");
      }
      target.focus();
    }
    window.scrollTo(0, 0);
  }
  navigated = true;
}

export function busy() {
  view().setAttribute("aria-busy", "true");
}

// Say `html` in the polite live region (emptied first, so the same words are said again).
export function announce(html) {
  const box = document.getElementById("announce");
  box.textContent = "";
  setTimeout(() => { box.innerHTML = html; }, 60);
}

export function setTitleError(on) {
  const prefix = "エラー: ";
  if (on && !document.title.startsWith(prefix)) document.title = prefix + document.title;
  if (!on && document.title.startsWith(prefix)) document.title = document.title.slice(prefix.length);
}

// The error summary: items [{target: element id to focus, text: the server's message}].
export function errorSummary(items, title = ["入力内容を確認してください", "There is a problem"]) {
  return `<div class="error-summary" role="alert" tabindex="-1" aria-labelledby="error-summary-title">
    <h2 id="error-summary-title"><span aria-hidden="true">⚠</span> ${bi(title[0], title[1])}</h2>
    <ul>${items.map((i) => `<li>${i.target
      ? `<a href="#${esc(i.target)}" data-focus="${esc(i.target)}">${message(i.text)}</a>`
      : (i.href ? `<a href="${esc(i.href)}">${message(i.text)}</a>` : message(i.text))}</li>`).join("")}</ul>
  </div>`;
}

// A problem from the API, in words, as an alert box (heading + message).
export function problemBox(problem, heading = ["うまくいきませんでした", "That did not work"]) {
  return `<div class="notice notice-error" role="alert">
    <h2><span aria-hidden="true">⚠</span> ${bi(heading[0], heading[1])}</h2>
    <p>${message(problem.text || String(problem))}</p></div>`;
}

// A view that only says something went wrong, with the ways on.
export function problemView(problem, heading = ["うまくいきませんでした", "That did not work"]) {
  show(`<h1>${bi(heading[0], heading[1])}</h1>
    <div class="notice notice-error" role="alert"><p>${message(problem.text || String(problem))}</p></div>
    <ul class="links">
      <li><a href="#/">${bi("手続の一覧へ", "Find a procedure")}</a></li>
      <li><a href="#/resume">${bi("保存した申請を再開する", "Resume a saved application")}</a></li>
    </ul>`, heading[0]);
}

// In-page links (the skip link, the error summary's links) move focus to their target and leave
// the address alone: the hash is the router's.
export function wireInPageLinks() {
  document.addEventListener("click", (event) => {
    const link = event.target.closest?.('a[href^="#"]');
    if (!link || link.getAttribute("href").startsWith("#/")) return;
    const id = link.dataset.focus || link.getAttribute("href").slice(1);
    const target = document.getElementById(id);
    if (!target) return;
    event.preventDefault();
    if (!target.hasAttribute("tabindex") && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) {
      target.setAttribute("tabindex", "-1");
    }
    // The question (its label or legend) in view, then the field itself focused.
    const field = target.closest(".field") || target;
    field.scrollIntoView({ block: "start" });
    target.focus({ preventScroll: true });
  });
}

// Copy `text` to the clipboard; false when the browser refuses (then the text is selected).
export async function copy(text, fallback) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (fallback) {
      fallback.focus();
      fallback.select?.();
    }
    return false;
  }
}

// Go to `hash` (a route); the same route again is shown again.
export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}
