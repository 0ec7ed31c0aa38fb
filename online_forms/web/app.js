// The citizens' pages (/apply/): one page, routes in the fragment so nothing secret reaches the
// server or its logs (issue 14, point 3):
//   #/                      the portal: search, browse by life event and category
//   #/search/<words>  #/event/<id>  #/category/<id>
//   #/p/<slug>              a procedure and 「申請を始める」
//   #/fill/<page>           one page of the form (#/change/<page>: from "check your answers")
//   #/check                 check your answers, then send
//   #/saved  #/resume       the resume code shown; typed to continue
//   #/receipt/<token>       the receipt: status, PDF, withdraw, correct
import { home, procedure } from "/apply/portal.js";
import { receiptView } from "/apply/receipt.js";
import { check, fill, flush, resume, saved } from "/apply/runner.js";
import { busy, problemView, wireInPageLinks } from "/apply/ui.js";

const ROUTES = [
  [/^#?\/?$/, () => home()],
  [/^#\/search\/(.*)$/, (m) => home({ q: decodeURIComponent(m[1]) })],
  [/^#\/event\/([a-z_]+)$/, (m) => home({ event: m[1] })],
  [/^#\/category\/([a-z_]+)$/, (m) => home({ category: m[1] })],
  [/^#\/p\/([a-z0-9-]+)$/, (m) => procedure(m[1])],
  [/^#\/fill\/([a-z0-9_]+)$/, (m) => fill(m[1])],
  [/^#\/change\/([a-z0-9_]+)$/, (m) => fill(m[1], true)],
  [/^#\/check$/, () => check()],
  [/^#\/saved$/, () => saved()],
  [/^#\/resume$/, () => resume()],
  [/^#\/receipt\/([A-Za-z0-9_-]{16,100})$/, (m) => receiptView(m[1])],
];

let running = Promise.resolve();

async function route() {
  const hash = location.hash;
  if (hash && !hash.startsWith("#/")) return;     // an in-page link (skip link, error summary)
  await flush();
  busy();
  const found = ROUTES.map(([re, view]) => [hash.match(re), view]).find(([m]) => m);
  try {
    if (found) await found[1](found[0]);
    else await home();
  } catch (err) {
    // A failure no view expected (the views handle the API's own): said in words, never a blank page.
    console.error(err);
    problemView(err?.text ? err : { text: "ページを表示できませんでした。再読み込みしてください。 The page could not be shown: reload it." });
  }
}

window.addEventListener("hashchange", () => { running = running.then(route, route); });
wireInPageLinks();
running = route();
