// The receipt (#/receipt/<token>): the reference number, the status and what happens next, the
// receipt PDF, the link to keep (the token stays in the fragment: never sent to the server, which
// gets it in the X-Receipt-Token header), the answers sent, 取下げ (withdraw, after a
// confirmation) and, when returned for correction (差し戻し), the staff's message and 「修正する」.
import { api } from "/apply/api.js";
import { correct, takeSent } from "/apply/runner.js";
import { bi, esc, loc, moment } from "/apply/text.js";
import { $, announce, copy, problemBox, problemView, show } from "/apply/ui.js";

const NEXT = {
  received: ["担当の係が内容を確認します。確認の結果や進み具合は、このページで確認できます。必要なときは、担当の係から連絡します。",
    "Staff will check your application. Follow its progress on this page; staff will contact you if they need to."],
  in_progress: ["担当の係が手続を進めています。完了するまでお待ちください。", "Staff are working on your application."],
  returned: ["申請内容の修正をお願いしています。下の内容を確認して、「修正する」から修正して送信してください。",
    "Staff have asked you to correct your application: read the message below, then correct and send it."],
  completed: ["手続が完了しました。", "Your application has been completed."],
  rejected: ["この申請は受理されませんでした。詳しくは、受付番号をお伝えのうえ担当の係にお問い合わせください。",
    "Your application was not accepted. Contact the section with your reference number for details."],
  withdrawn: ["この申請は取り下げられました。", "This application was withdrawn."],
};
const MARK = { received: "●", in_progress: "▶", returned: "↩", completed: "✔", rejected: "✖", withdrawn: "—" };

export async function receiptView(token, { said = null } = {}) {
  let r;
  try {
    r = await api("GET", "/apply/api/receipt", { token });
  } catch (problem) {
    problemView(problem, ["申請が見つかりません", "Application not found"]);
    return;
  }
  const sent = takeSent();
  const link = `${location.origin}/apply/#/receipt/${token}`;
  const [whenJa, whenEn] = moment(r.submitted_at);
  const next = NEXT[r.status] || ["", ""];
  const pages = [];
  for (const row of r.rows) {
    let page = pages.find((p) => p.title === row.page);
    if (!page) pages.push(page = { title: row.page, rows: [] });
    page.rows.push(row);
  }
  const head = sent
    ? `<div class="panel confirmation">
        <h1>${sent.corrected ? bi("修正した申請を受け付けました", "Your corrected application was sent") : bi("申請を受け付けました", "Your application was sent")}</h1>
        <p class="panel-label">${bi("受付番号", "Reference number")}</p>
        <p class="reference" id="reference">${esc(r.reference)}</p>
      </div>`
    : `<h1>${bi("申請の状況", "Your application")}</h1>
      <div class="panel"><p class="panel-label">${bi("受付番号", "Reference number")}</p>
        <p class="reference" id="reference">${esc(r.reference)}</p></div>`;
  show(`${said ? `<div class="notice" role="status"><p>${said}</p></div>` : ""}
    ${head}
    <div id="receipt-problem"></div>
    <dl class="facts">
      <div><dt>${bi("手続", "Procedure")}</dt><dd>${loc(r.procedure.name)}</dd></div>
      <div><dt>${bi("状況", "Status")}</dt><dd class="status status-${esc(r.status)}" id="status">
        <span aria-hidden="true">${MARK[r.status] || ""}</span> ${bi(r.status_label[0], r.status_label[1])}</dd></div>
      <div><dt>${bi("送信日時", "Sent")}</dt><dd>${bi(whenJa, whenEn)}</dd></div>
    </dl>
    ${r.status === "returned" ? `<section class="notice notice-returned" aria-labelledby="returned-title">
        <h2 id="returned-title">${bi("修正をお願いします", "Please correct your application")}</h2>
        ${r.return_message ? `<p class="staff-message">${esc(r.return_message)}</p>` : ""}
        ${r.can_correct ? `<button type="button" class="primary" id="correct">${bi("修正する", "Correct it")}</button>` : ""}
      </section>` : ""}
    <h2>${bi("このあとの流れ", "What happens next")}</h2>
    <p>${bi(next[0], next[1])}</p>
    <div class="actions"><button type="button" class="secondary" id="pdf">${bi("控え（PDF）をダウンロード", "Download the receipt (PDF)")}</button></div>
    <section aria-labelledby="keep-title" class="keep">
      <h2 id="keep-title">${bi("このページのリンクを保存してください", "Keep the link to this page")}</h2>
      <p>${bi("このリンクから、申請の状況の確認や取下げができます。ブックマークするか、コピーして保存してください。リンクを知っている人は申請の内容を見ることができます。ほかの人に教えないでください。",
        "With this link you can follow or withdraw your application. Bookmark it or copy it somewhere safe. Anyone with the link can see your application: do not share it.")}</p>
      <label for="receipt-link" class="label">${bi("控えのリンク", "Receipt link")}</label>
      <input type="text" id="receipt-link" readonly value="${esc(link)}" class="link-input">
      <div class="actions"><button type="button" class="secondary" id="copy-link">${bi("リンクをコピー", "Copy the link")}</button></div>
    </section>
    <section aria-labelledby="answers-title">
      <h2 id="answers-title">${bi("送信した内容", "What you sent")}</h2>
      ${pages.map((p) => `<h3>${esc(p.title)}</h3><dl class="summary-list">${p.rows.map((row) => `<div class="summary-row">
        <dt>${esc(row.label)}</dt><dd class="value">${esc(row.value)}</dd></div>`).join("")}</dl>`).join("")}
    </section>
    ${r.can_withdraw ? `<section aria-labelledby="withdraw-title" class="withdraw">
        <h2 id="withdraw-title">${bi("申請の取下げ", "Withdraw the application")}</h2>
        <p>${bi("申請が不要になったときは、取り下げることができます。", "If you no longer need it, you can withdraw the application.")}</p>
        <div class="actions"><button type="button" class="secondary" id="withdraw">${bi("申請を取り下げる", "Withdraw")}</button></div>
        <div id="withdraw-confirm" class="confirm" hidden>
          <p id="withdraw-question" tabindex="-1"><strong>${bi("本当に取り下げますか？取り下げた申請は元に戻せません。",
            "Withdraw this application? This cannot be undone.")}</strong></p>
          <div class="actions">
            <button type="button" class="danger" id="withdraw-yes">${bi("取り下げる", "Yes, withdraw")}</button>
            <button type="button" class="secondary" id="withdraw-no">${bi("やめる", "No, keep it")}</button>
          </div>
        </div>
      </section>` : ""}
    <p><a href="#/">${bi("手続の一覧へ", "Find another procedure")}</a></p>`,
  `${sent ? "申請を受け付けました" : "申請の状況"} ${r.reference}`, { focus: said ? ".notice" : "h1" });

  $("#pdf").addEventListener("click", () => download(token, r.reference));
  $("#copy-link").addEventListener("click", async () => {
    const ok = await copy(link, $("#receipt-link"));
    announce(ok ? bi("リンクをコピーしました。", "The link was copied.")
      : bi("コピーできませんでした。選択したリンクを保存してください。", "It could not be copied: the link is selected, save it."));
  });
  const correctButton = $("#correct");
  if (correctButton) {
    correctButton.addEventListener("click", async () => {
      correctButton.disabled = true;
      try {
        await correct(token);
      } catch (problem) {
        correctButton.disabled = false;
        failed(problem);
      }
    });
  }
  const withdraw = $("#withdraw");
  if (withdraw) {
    const confirm = $("#withdraw-confirm");
    withdraw.addEventListener("click", () => {
      confirm.hidden = false;
      withdraw.setAttribute("aria-expanded", "true");
      $("#withdraw-question").focus();
    });
    $("#withdraw-no").addEventListener("click", () => {
      confirm.hidden = true;
      withdraw.setAttribute("aria-expanded", "false");
      withdraw.focus();
    });
    const yes = $("#withdraw-yes");
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      try {
        await api("POST", "/apply/api/receipt/withdraw", { token });
      } catch (problem) {
        yes.disabled = false;
        failed(problem);
        return;
      }
      await receiptView(token, { said: bi("申請を取り下げました。", "The application was withdrawn.") });
    });
  }
}

function failed(problem) {
  const box = $("#receipt-problem");
  box.innerHTML = problemBox(problem);
  box.firstElementChild.setAttribute("tabindex", "-1");
  box.firstElementChild.focus();
}

// The receipt PDF, fetched with the token in its header and saved as a file.
async function download(token, reference) {
  const button = $("#pdf");
  button.disabled = true;
  announce(bi("控えを作成しています。", "Preparing the receipt."));
  try {
    const blob = await api("GET", "/apply/api/receipt.pdf", { token, blob: true });
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = `receipt-${reference}.pdf`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    announce(bi("控え（PDF）をダウンロードしました。", "The receipt was downloaded."));
  } catch (problem) {
    failed(problem);
  } finally {
    button.disabled = false;
  }
}
