"""The citizens' pages (/apply/) in Debian's Chromium against a real server (issue 14, point 3).

A citizen on a phone finds 住民票 by typing じゅうみんひょう, fills the form page by page (the
postal code fills the address, the date of birth shows 和暦, the answer to one question skips a
page, an identity document is photographed), saves and resumes in another browser with the code
typed in lower case, checks the answers and changes one, sends (a double tap makes one
application), downloads the receipt PDF and later withdraws through the receipt link. Other
tests: conditional questions shown and hidden by the server's answer (not focusable when hidden),
the error summary and its links, keyboard only, a repeatable group at 320 px, an exit page, a
returned application corrected, a form published mid-application, and API failures in words.
axe-core runs on every page and state (WCAG 2.0-2.2 A/AA, the rules JIS X 8341-3 follows);
screenshots go to test-artifacts/screens/apply-*.png.
"""

from __future__ import annotations

import io
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from .browserkit import assert_accessible, launch, new_page, screenshot
from .serverkit import ServerProcess
from .test_forms_apply import jpeg
from .test_forms_staff import admin_headers, apply, koseki_answers

PHONE = (390, 844)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("apply-screens") / "data").start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (48, 32), (20, 90, 160)).save(out, "PNG")
    return out.getvalue()


def phone(browser: Browser, width: int = PHONE[0], height: int = PHONE[1]) -> Page:
    """A phone-sized page in a fresh context (its own sessionStorage), Japanese locale."""
    return new_page(browser, width, height, is_mobile=True, has_touch=True, locale="ja-JP", accept_downloads=True)


def rows(server: ServerProcess, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(server.data_dir / "madoguchi.sqlite3")
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def settled(page: Page) -> None:
    """The view is drawn (no request of the router pending)."""
    page.wait_for_selector("#view:not([aria-busy])")


def heading(page: Page, text: str) -> None:
    """Wait for the view's h1 to hold ``text``."""
    expect(page.locator("#view h1")).to_contain_text(text)
    settled(page)


def looked_at(page: Page, name: str) -> None:
    """axe-core finds nothing, nothing is wider than the screen, no script error; a screenshot."""
    assert_accessible(page, name)
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{name}: the page is wider than the screen {width}"
    small = page.evaluate("""() => [...document.querySelectorAll('#view button, #view input, header a, .back-link')]
        .filter((e) => e.offsetParent !== null && e.type !== 'radio' && e.type !== 'checkbox')
        .map((e) => [e.id || e.className || e.textContent.trim(), e.getBoundingClientRect().height])
        .filter(([, h]) => h < 44)""")
    assert not small, f"{name}: controls under 44 px tall: {small}"
    assert not page.script_errors, page.script_errors  # type: ignore[attr-defined]  # set by browserkit.new_page
    screenshot(page, f"apply-{name}")


def focused(page: Page) -> str:
    """The focused element as tag#id.class."""
    return str(page.evaluate("() => { const e = document.activeElement;"
                             " return `${e.tagName.toLowerCase()}#${e.id}.${e.className}`; }"))


def fill_name(page: Page, base: str, family: str, given: str, family_kana: str = "", given_kana: str = "") -> None:
    page.fill(f"#{base}-family", family)
    page.fill(f"#{base}-given", given)
    if family_kana:
        page.fill(f"#{base}-family_kana", family_kana)
        page.fill(f"#{base}-given_kana", given_kana)


def continue_to(page: Page, title: str) -> None:
    """Press 「次へ」 and wait for the next page (whose heading gets the focus)."""
    page.locator("#continue").click()
    try:
        heading(page, title)
    except AssertionError:
        said = page.locator("#summary-slot").inner_text() if page.locator("#summary-slot").count() else ""
        raise AssertionError(f"not on 「{title}」: {said}") from None
    assert focused(page).startswith("h1"), focused(page)


def test_a_citizen_finds_fills_saves_resumes_checks_sends_and_keeps_the_receipt(
        browser: Browser, server: ServerProcess, tmp_path: Path) -> None:
    page = phone(browser)
    page.goto(f"{server.url}/apply/")
    heading(page, "オンライン申請")
    assert page.title().startswith("手続を探す")
    looked_at(page, "portal")
    # The skip link is the first stop and moves focus to the main content, leaving the address alone.
    page.keyboard.press("Tab")
    assert focused(page).startswith("a#.skip-link")
    page.keyboard.press("Enter")
    assert focused(page).startswith("main#main") and page.evaluate("location.hash") == ""

    page.get_by_label("手続を探す").fill("じゅうみんひょう")
    page.get_by_role("button", name="検索").click()
    expect(page.locator("#results-title")).to_contain_text("1件")
    assert focused(page).startswith("h2#results-title")
    expect(page.locator(".card h3")).to_have_text("住民票の写し等の郵送請求 Copy of the residence record by post")
    expect(page.locator(".card")).to_contain_text("300円")
    expect(page.locator(".card")).to_contain_text("不要")
    looked_at(page, "search-results")
    page.get_by_role("link", name="住民票の写し等の郵送請求").click()
    heading(page, "住民票の写し等の郵送請求")
    expect(page.locator("#view")).to_contain_text("本人確認書類の写し")          # what to have ready
    looked_at(page, "procedure")
    page.get_by_role("button", name="申請を始める").click()

    # Page 1: the postal code fills the address; the date of birth shows 和暦.
    heading(page, "請求する方")
    expect(page.locator(".progress")).to_contain_text("ページ 1 / 5")
    assert page.title().startswith("請求する方 (1/5) - 住民票の写し等の郵送請求")
    fill_name(page, "q-name", "山田", "花子", "やまだ", "ﾊﾅｺ")
    page.fill("#q-birth_date", "1989-01-08")
    expect(page.locator("#q-birth_date-wareki")).to_contain_text("平成元年1月8日")
    page.fill("#q-address-postal_code", "１００－０００１")
    page.get_by_role("button", name="住所を検索").click()
    expect(page.locator("#q-address-address")).to_have_value("東京都千代田区千代田")
    assert focused(page).startswith("input#q-address-address")
    page.locator("#q-address-address").press_sequentially("1-1")
    page.get_by_label("日中連絡のつく電話番号").fill("09012345678")
    looked_at(page, "page-applicant")
    continue_to(page, "必要な方との関係")

    # Page 2: 「本人」 routes past the letter of attorney: the path is one page shorter.
    expect(page.locator(".progress")).to_contain_text("ページ 2 / 5")
    page.get_by_label("本人または同じ世帯の方").check()
    expect(page.locator(".progress")).to_contain_text("ページ 2 / 4")   # the server's path, after the save
    continue_to(page, "必要な証明")
    expect(page.locator(".progress")).to_contain_text("ページ 3 / 4")
    page.get_by_label("住民票の写し", exact=False).first.check()
    page.get_by_label("世帯全員").check()
    page.get_by_label("続柄").check()
    assert page.get_attribute("#q-copies", "inputmode") == "numeric"
    page.get_by_label("通数").fill("1")
    page.get_by_label("使いみち・提出先").fill("勤務先に提出")
    looked_at(page, "page-certificate")
    continue_to(page, "本人確認書類")

    # Page 4: a photo of the driving licence, then save to finish later.
    photo = tmp_path / "免許証.jpg"
    photo.write_bytes(jpeg((320, 200)))
    page.set_input_files("#q-id_copy", str(photo))
    expect(page.locator("#q-id_copy-status")).to_contain_text("添付済み")
    expect(page.locator("#q-id_copy-status")).to_contain_text("免許証.jpg")
    looked_at(page, "page-identity-attached")
    page.get_by_role("button", name="保存して後で再開").click()
    heading(page, "入力内容を保存しました")
    code = page.inner_text("#resume-code")
    assert len(code) == 19 and code.count("-") == 3, code
    expect(page.locator(".expires")).to_contain_text("まで")
    assert code not in page.url and code.replace("-", "") not in page.url
    looked_at(page, "saved")
    page.context.close()

    # Another browser (a new context: nothing kept): the code typed in lower case with spaces.
    page = phone(browser)
    page.goto(f"{server.url}/apply/#/resume")
    heading(page, "保存した申請を再開")
    looked_at(page, "resume")
    page.get_by_label("再開コード").fill(code.lower().replace("-", " "))
    page.get_by_role("button", name="再開する").click()
    heading(page, "本人確認書類")                                  # where they were
    expect(page.locator("#q-id_copy-status")).to_contain_text("免許証.jpg")
    assert code not in page.url
    page.reload()                                                  # a reload continues (sessionStorage)
    heading(page, "本人確認書類")
    expect(page.locator("#q-id_copy-status")).to_contain_text("免許証.jpg")
    continue_to(page, "入力内容の確認")

    # Check your answers: rows by page; change the phone number and come back.
    view = page.locator("#view")
    expect(view).to_contain_text("山田　花子（ヤマダ　ハナコ）")
    expect(view).to_contain_text("平成元年1月8日（1989-01-08）")
    expect(view).to_contain_text("〒100-0001 東京都千代田区千代田1-1")
    expect(view).to_contain_text("免許証.jpg")
    looked_at(page, "check")
    page.get_by_role("link", name=re.compile(r"^変更\s*（日中連絡のつく電話番号）")).click()
    heading(page, "請求する方")
    page.get_by_label("日中連絡のつく電話番号").fill("03-1234-5678")
    page.get_by_role("button", name="確認画面に戻る").click()
    heading(page, "入力内容の確認")
    expect(view).to_contain_text("03-1234-5678")

    # Send: a double tap is one application; the button is disabled at once.
    before = rows(server, "select count(*) from applications")[0][0]
    page.evaluate("""() => { const b = document.getElementById('send'); window.sendDisabled = false;
        new MutationObserver(() => { if (b.disabled) window.sendDisabled = true; })
          .observe(b, {attributes: true}); }""")
    page.locator("#send").dblclick()
    heading(page, "申請を受け付けました")
    assert page.evaluate("window.sendDisabled") is True
    reference = page.inner_text("#reference")
    assert reference.startswith("JM-")
    assert rows(server, "select count(*) from applications")[0][0] == before + 1
    assert rows(server, "select status, channel from applications where reference = ?", reference) \
        == [("received", "online")]
    expect(page.locator("#status")).to_contain_text("受付")
    expect(page.locator("#view")).to_contain_text("このあとの流れ")
    link = page.input_value("#receipt-link")
    assert link.startswith(f"{server.url}/apply/#/receipt/"), link
    assert page.evaluate("sessionStorage.length") == 0              # the resume code is forgotten
    looked_at(page, "receipt-sent")
    with page.expect_download() as download:
        page.get_by_role("button", name="控え（PDF）をダウンロード").click()
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF-") and download.value.suggested_filename == f"receipt-{reference}.pdf"
    page.context.close()

    # Later, from the kept link: the status and the answers; withdrawn after a confirmation.
    page = phone(browser)
    page.goto(link)
    heading(page, "申請の状況")
    expect(page.locator("#reference")).to_have_text(reference)
    expect(page.locator("#view")).to_contain_text("勤務先に提出")
    page.get_by_role("button", name="申請を取り下げる").click()
    assert focused(page).startswith("p#withdraw-question")
    looked_at(page, "receipt-withdraw-confirm")
    page.get_by_role("button", name="やめる").click()
    assert rows(server, "select status from applications where reference = ?", reference) == [("received",)]
    page.get_by_role("button", name="申請を取り下げる").click()
    page.get_by_role("button", name="取り下げる", exact=False).last.click()
    expect(page.locator("#status")).to_contain_text("取下げ")
    expect(page.locator("#view .notice")).to_contain_text("申請を取り下げました")
    assert rows(server, "select status from applications where reference = ?", reference) == [("withdrawn",)]
    expect(page.get_by_role("button", name="申請を取り下げる")).to_have_count(0)
    looked_at(page, "receipt-withdrawn")
    page.context.close()


def test_the_server_decides_which_questions_show_and_errors_lead_to_their_fields(
        browser: Browser, server: ServerProcess, tmp_path: Path) -> None:
    page = phone(browser)
    page.goto(f"{server.url}/apply/#/p/koseki-by-post")
    heading(page, "戸籍証明書等の郵送請求")
    page.get_by_role("button", name="申請を始める").click()
    heading(page, "請求する方")

    # Nothing filled: the error summary, focused, with a link to each field.
    page.locator("#continue").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    assert focused(page).startswith("div#.error-summary")
    assert summary.get_attribute("role") == "alert"
    expect(summary.locator("h2")).to_contain_text("入力内容を確認してください")
    links = summary.locator("a")
    expect(links).to_have_count(3)
    assert page.title().startswith("エラー: 請求する方")
    family = page.locator("#q-name-family")
    assert family.get_attribute("aria-invalid") == "true"
    assert "q-name-error" in (page.get_attribute("fieldset[data-path=name]", "aria-describedby") or "")
    expect(page.locator("#q-name-error")).to_contain_text("「氏名」を入力してください")
    assert page.locator("#q-name-given").get_attribute("aria-invalid") is None   # 名 may be left empty
    looked_at(page, "errors")
    links.nth(1).click()
    assert focused(page).startswith("input#q-address-address"), focused(page)
    assert page.evaluate("location.hash") == "#/fill/applicant"
    links.nth(0).click()
    assert focused(page).startswith("input#q-name-family")

    # Keyboard only: from the family name through the postal code (Enter looks it up) to 「次へ」.
    page.keyboard.type("佐藤")
    page.keyboard.press("Tab")
    page.keyboard.type("一郎")
    page.keyboard.press("Tab")
    page.keyboard.type("さとう")
    page.keyboard.press("Tab")
    page.keyboard.type("いちろう")
    page.keyboard.press("Tab")
    assert focused(page).startswith("input#q-address-postal_code")
    page.keyboard.type("004-0000")
    page.keyboard.press("Enter")                                   # two towns: choose one
    towns = page.locator(".town")
    expect(towns).to_have_count(2)
    assert focused(page).startswith("button#.town")
    looked_at(page, "postal-choose-town")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#q-address-address")).to_have_value("北海道札幌市清田区")
    page.keyboard.type("1-1")
    page.keyboard.press("Tab")                                     # 建物名
    page.keyboard.press("Tab")
    assert focused(page).startswith("input#q-phone")
    page.keyboard.type("011-211-2111")
    page.keyboard.press("Enter")                                   # sends the form: 「次へ」
    heading(page, "必要な戸籍")
    expect(page.locator(".error-summary")).to_have_count(0)

    # その他 shows a question, decided by the server after the save; another answer hides it again.
    other = page.locator("#q-purpose_other")
    expect(other).to_be_hidden()
    assert not page.evaluate("() => { const e = document.getElementById('q-purpose_other'); e.focus();"
                             " return document.activeElement === e; }")
    page.locator("fieldset[data-path=purpose]").get_by_label("その他").check()
    expect(other).to_be_visible()
    expect(page.locator("#announce")).to_contain_text("その他の使用目的")
    looked_at(page, "condition-shown")
    page.get_by_label("パスポート申請").check()
    expect(other).to_be_hidden()
    page.locator("fieldset[data-path=purpose]").get_by_label("その他").check()
    expect(other).to_be_visible()
    page.get_by_label("本籍").fill("北海道札幌市清田区1番")
    fill_name(page, "q-head", "佐藤", "一郎")
    page.get_by_label("戸籍謄本（全部事項証明）").check()
    page.get_by_label("通数（各）").fill("99")
    page.locator("#continue").click()
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("10以下で入力してください")
    expect(summary).to_contain_text("「その他の使用目的」を入力してください")
    assert page.get_attribute("#q-copies", "aria-describedby") == "q-copies-hint q-copies-error"
    looked_at(page, "errors-condition")
    summary.get_by_role("link", name="「その他の使用目的」を入力してください", exact=False).click()
    assert focused(page).startswith("input#q-purpose_other")
    page.keyboard.type("裁判所に提出")
    page.get_by_label("通数（各）").fill("2")
    continue_to(page, "本人確認書類")

    # Files are judged by their bytes (on the server) and their size (already in the browser).
    disguised = tmp_path / "photo.jpg"
    disguised.write_bytes(b"MZ\x90\x00 a program renamed photo.jpg " * 20)
    page.set_input_files("#q-id_copy", str(disguised))
    expect(page.locator("#q-id_copy-error")).to_contain_text("このファイルの種類は添付できません")
    assert page.get_attribute("#q-id_copy", "aria-invalid") == "true"
    assert "q-id_copy-error" in (page.get_attribute("#q-id_copy", "aria-describedby") or "")
    looked_at(page, "file-refused")
    big = tmp_path / "big.jpg"
    big.write_bytes(jpeg() + b"\0" * (5 * 1024 * 1024))
    page.set_input_files("#q-id_copy", str(big))
    expect(page.locator("#q-id_copy-error")).to_contain_text("ファイルは5MBまでです")
    page.set_input_files("#q-id_copy", {"name": "パスポート.png", "mimeType": "image/png", "buffer": png()})
    expect(page.locator("#q-id_copy-status")).to_contain_text("パスポート.png")
    expect(page.locator("#q-id_copy-error")).to_be_hidden()
    assert page.get_attribute("#q-id_copy", "aria-invalid") is None
    continue_to(page, "入力内容の確認")
    expect(page.locator("#view")).to_contain_text("その他")
    expect(page.locator("#view")).to_contain_text("裁判所に提出")
    page.context.close()


def test_a_repeatable_group_with_conditions_inside_at_320_px(browser: Browser, server: ServerProcess) -> None:
    page = phone(browser, 320, 640)
    page.goto(f"{server.url}/apply/#/p/jido-teate")
    heading(page, "児童手当の認定請求")
    looked_at(page, "320-procedure")
    page.get_by_role("button", name="申請を始める").click()
    heading(page, "請求者")
    expect(page.locator("fieldset[data-path=spouse_name]")).to_be_hidden()
    fill_name(page, "q-name", "鈴木", "一郎", "スズキ", "イチロウ")
    page.fill("#q-birth_date", "1985-04-01")
    expect(page.locator("#q-birth_date-wareki")).to_contain_text("昭和60年4月1日")
    page.fill("#q-address-postal_code", "1000001")
    page.get_by_role("button", name="住所を検索").click()
    expect(page.locator("#q-address-address")).to_have_value("東京都千代田区千代田")
    page.locator("#q-address-address").press_sequentially("2-2")
    page.get_by_label("電話番号").fill("090-2345-6789")
    page.locator("fieldset[data-path=has_spouse]").get_by_label("はい").check()
    expect(page.locator("fieldset[data-path=spouse_name]")).to_be_visible()
    fill_name(page, "q-spouse_name", "鈴木", "花子", "スズキ", "ハナコ")
    looked_at(page, "320-claimant")
    continue_to(page, "養育している児童")

    # One child to start with (min_items 1), heading 「児童 1」; a condition inside the item.
    expect(page.locator(".item h3")).to_have_text(["児童 1 Child 1"])
    expect(page.get_by_role("button", name="児童 1を削除", exact=False)).to_be_hidden()
    fill_name(page, "q-children-0-child_name", "鈴木", "太郎", "スズキ", "タロウ")
    page.fill("#q-children-0-child_birth", "2019-05-01")
    expect(page.locator("#q-children-0-child_birth-wareki")).to_contain_text("令和元年5月1日")
    page.locator("fieldset[data-path='children.0.child_sex']").get_by_label("男").check()
    child_address = page.locator("fieldset[data-path='children.0.child_address']")
    expect(child_address).to_be_hidden()
    page.locator("fieldset[data-path='children.0.lives_with']").get_by_label("いいえ").check()
    expect(child_address).to_be_visible()
    page.locator("fieldset[data-path='children.0.lives_with']").get_by_label("はい").check()
    expect(child_address).to_be_hidden()
    page.get_by_role("button", name="児童を追加").click()
    expect(page.locator(".item h3")).to_have_text(["児童 1 Child 1", "児童 2 Child 2"])
    assert focused(page).startswith("h3#q-children-1-title")
    expect(page.locator("#announce")).to_contain_text("児童 2 を追加しました")
    looked_at(page, "320-group-two-items")
    # Continue with the second child empty: its errors are tied to its own fields.
    page.locator("#continue").click()
    expect(page.locator(".error-summary")).to_be_visible()
    assert page.locator("#q-children-1-child_name-family").get_attribute("aria-invalid") == "true"
    assert page.locator("#q-children-0-child_name-family").get_attribute("aria-invalid") is None
    looked_at(page, "320-group-errors")
    page.get_by_role("button", name="児童 2を削除", exact=False).click()
    expect(page.locator(".item h3")).to_have_text(["児童 1 Child 1"])
    assert focused(page).startswith("h3#q-children-0-title")
    continue_to(page, "振込先口座")
    page.get_by_label("金融機関名・支店名").fill("みどり銀行 本店")
    page.get_by_label("口座番号（普通）").fill("123")
    page.locator("#continue").click()
    expect(page.locator("#q-account_number-error")).to_contain_text("口座番号は7桁の数字で入力してください")
    page.get_by_label("口座番号（普通）").fill("1234567")
    continue_to(page, "入力内容の確認")
    view = page.locator("#view")
    expect(view).to_contain_text("児童 1: 氏名")
    expect(view).to_contain_text("鈴木　太郎（スズキ　タロウ）")
    expect(view).to_contain_text("配偶者の氏名")
    expect(view).not_to_contain_text("児童 2")
    looked_at(page, "320-check")
    page.context.close()


def test_an_exit_page_ends_the_form_without_a_send_button(browser: Browser, server: ServerProcess) -> None:
    page = phone(browser)
    page.goto(f"{server.url}/apply/#/p/sodai-gomi")
    heading(page, "粗大ごみ収集の申込")
    page.get_by_role("button", name="申請を始める").click()
    heading(page, "出すもの")
    page.get_by_label("はい").check()
    continue_to(page, "家電4品目について")
    expect(page.locator(".notice-exit")).to_contain_text("家電リサイクル法")
    expect(page.locator("#view")).to_contain_text("オンラインで申請できません")
    expect(page.get_by_role("button", name="送信")).to_have_count(0)
    looked_at(page, "exit-page")
    page.get_by_role("link", name="回答を変更する").click()
    heading(page, "出すもの")
    page.get_by_label("いいえ").check()
    continue_to(page, "品目")
    page.context.close()


def test_a_returned_application_is_corrected_from_the_receipt_link(browser: Browser, server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        sent, _ = apply(http, "koseki-by-post", koseki_answers())
        assert sent["status_code"] == 201, sent
        r = http.put(f"/api/forms/applications/{sent['reference']}/status", headers=admin_headers(http),
                     json={"status": "returned", "message": "本籍の番地まで書いてください。"})
        assert r.status_code == 200, r.text
    page = phone(browser)
    page.goto(f"{server.url}/apply/#/receipt/{sent['receipt_token']}")
    heading(page, "申請の状況")
    expect(page.locator("#status")).to_contain_text("差し戻し")
    expect(page.locator(".staff-message")).to_have_text("本籍の番地まで書いてください。")
    looked_at(page, "receipt-returned")
    page.get_by_role("button", name="修正する").click()
    heading(page, "請求する方")
    expect(page.locator("#view")).to_contain_text("差し戻された申請を修正しています")
    assert page.input_value("#q-name-family") == "佐藤"
    continue_to(page, "必要な戸籍")
    page.get_by_label("本籍").fill("東京都千代田区千代田1番地")
    continue_to(page, "本人確認書類")
    expect(page.locator("#q-id_copy-status")).to_contain_text("添付済み")
    continue_to(page, "入力内容の確認")
    expect(page.locator("#send-title")).to_contain_text("修正した申請を送信する")
    page.locator("#send").click()
    heading(page, "修正した申請を受け付けました")
    expect(page.locator("#reference")).to_have_text(sent["reference"])
    expect(page.locator("#status")).to_contain_text("受付")
    assert rows(server, "select status from applications where reference = ?", sent["reference"]) == [("received",)]
    answers = rows(server, "select answers from applications where reference = ?", sent["reference"])[0][0]
    assert "千代田1番地" in answers
    page.context.close()


def test_a_form_published_while_checking_is_explained_and_reloaded(browser: Browser, server: ServerProcess) -> None:
    page = phone(browser)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        draft = http.post("/apply/api/drafts", json={"procedure": "inu-toroku"}).json()
        answers = {"name": {"family": "田中", "given": "一", "family_kana": "タナカ", "given_kana": "ハジメ"},
                   "address": {"postal_code": "1000001", "address": "東京都千代田区千代田1-1", "building": ""},
                   "phone": "03-1111-2222", "dog_name": "ポチ", "breed": "柴", "coat": "赤", "dog_sex": "male",
                   "vaccinated": False}
        http.put("/apply/api/draft", json={"answers": answers, "page": "dog"}, headers={"X-Draft-Code": draft["code"]})
        page.goto(f"{server.url}/apply/#/resume")
        heading(page, "保存した申請を再開")
        page.get_by_label("再開コード").fill(draft["code"])
        page.get_by_role("button", name="再開する").click()
        heading(page, "狂犬病予防注射")
        continue_to(page, "入力内容の確認")
        # Staff publish version 2 meanwhile.
        a = admin_headers(http)
        inu = next(p for p in http.get("/api/forms/procedures", headers=a).json()["procedures"]
                   if p["slug"] == "inu-toroku")
        form = http.get(f"/api/forms/procedures/{inu['id']}/versions/1", headers=a).json()["form"]
        form["pages"][1]["questions"].append({"id": "microchip", "type": "text", "required": False,
                                              "label": {"ja": "マイクロチップ番号", "en": "Microchip number"}})
        assert http.put(f"/api/forms/procedures/{inu['id']}/draft", json={"form": form}, headers=a).status_code == 200
        assert http.post(f"/api/forms/procedures/{inu['id']}/draft/publish", json={"number": 2},
                         headers=a).status_code == 200
    page.locator("#send").click()
    notice = page.locator(".notice-error")
    expect(notice).to_contain_text("申請書の様式が更新されました")
    expect(notice).to_contain_text("送信できませんでした")
    assert focused(page).startswith("div#.notice")
    expect(page.locator("#view")).to_contain_text("ポチ")                   # the answers are kept
    looked_at(page, "check-form-updated")
    page.locator("#send").click()
    heading(page, "申請を受け付けました")
    assert page.inner_text("#reference").startswith("INU-")
    page.context.close()


def test_failures_of_the_api_are_said_in_words(browser: Browser, server: ServerProcess) -> None:
    page = phone(browser)
    # A wrong resume code: the error summary and the field's own message.
    page.goto(f"{server.url}/apply/#/resume")
    heading(page, "保存した申請を再開")
    page.get_by_role("button", name="再開する").click()
    expect(page.locator("#resume-input-error")).to_contain_text("再開コードを入力してください")
    page.get_by_label("再開コード").fill("ABCD-EFGH-JKMN-PQRS")
    page.get_by_role("button", name="再開する").click()
    expect(page.locator("#resume-input-error")).to_contain_text("保存した入力が見つかりません")
    assert page.get_attribute("#resume-input", "aria-invalid") == "true"
    assert focused(page).startswith("div#.error-summary")
    looked_at(page, "resume-not-found")
    # An unknown procedure, then a form page whose save meets a dead network and a broken server.
    page.goto(f"{server.url}/apply/#/p/no-such-thing")
    heading(page, "この手続は表示できません")
    expect(page.locator("#view")).to_contain_text("その手続はありません")
    looked_at(page, "procedure-not-found")
    page.goto(f"{server.url}/apply/#/p/juminhyo-by-post")
    heading(page, "住民票の写し等の郵送請求")
    page.get_by_role("button", name="申請を始める").click()
    heading(page, "請求する方")

    def down(route: Route) -> None:
        route.abort("internetdisconnected")

    page.route("**/apply/api/draft", down)
    page.locator("#continue").click()
    alert = page.locator("#summary-slot [role=alert]")
    expect(alert).to_contain_text("サーバーに接続できません")
    assert "{" not in alert.inner_text()
    looked_at(page, "offline")
    page.unroute("**/apply/api/draft", down)

    def broken(route: Route) -> None:
        route.fulfill(status=500, content_type="application/json",
                      body='{"error": {"code": "internal", "message": "Traceback…"}}')

    page.route("**/apply/api/draft", broken)
    page.locator("#continue").click()
    expect(alert).to_contain_text("サーバーで問題が起きました")
    assert "Traceback" not in alert.inner_text()
    page.unroute("**/apply/api/draft", broken)
    # A draft gone (another tab sent it): said so, with the ways on.
    page.evaluate("sessionStorage.setItem('madoguchi.apply.draft', 'ZZZZ-ZZZZ-ZZZZ-ZZZZ')")
    page.goto(f"{server.url}/apply/#/check")
    heading(page, "保存した入力が見つかりません")
    expect(page.get_by_role("link", name="保存した申請を再開する")).to_be_visible()
    looked_at(page, "draft-not-found")
    page.context.close()


def test_a_save_as_the_citizen_types_keeps_the_page_reached(server: ServerProcess) -> None:
    # The runner saves with page null as the citizen types; resuming must still find the page
    # they last went on from (online_forms/store.py save_answers).
    with httpx.Client(base_url=server.url, timeout=30) as http:
        draft = http.post("/apply/api/drafts", json={"procedure": "sodai-gomi"}).json()
        headers = {"X-Draft-Code": draft["code"]}
        r = http.put("/apply/api/draft", json={"answers": {"appliances": False}, "page": "kaden"}, headers=headers)
        assert r.json()["next"] == "items"
        r = http.put("/apply/api/draft", json={"answers": {"appliances": False, "items": [{"item": "sofa"}]},
                                               "page": None}, headers=headers)
        assert r.status_code == 200 and r.json()["shown"]["items.0"] == ["item", "count"]
        resumed = http.get("/apply/api/draft", headers=headers).json()
        assert resumed["page"] == "kaden" and resumed["answers"]["items"] == [{"item": "sofa"}]


def test_wide_screens_and_200_percent_zoom(browser: Browser, server: ServerProcess) -> None:
    # A computer's 1280 px window, and the same window at 200 % zoom (640 CSS px; the 320 px test
    # above is the narrower case of WCAG 1.4.10).
    for width, height, name in ((1280, 800, "desktop"), (640, 400, "zoom-200")):
        page = new_page(browser, width, height, locale="ja-JP")
        page.goto(f"{server.url}/apply/#/event/moving")
        expect(page.locator("#results-title")).to_contain_text("引越しの手続")
        settled(page)
        looked_at(page, f"{name}-life-event")
        page.get_by_role("link", name="犬の登録").click()
        heading(page, "犬の登録")
        page.get_by_role("button", name="申請を始める").click()
        heading(page, "飼い主")
        looked_at(page, f"{name}-page")
        page.context.close()


def test_the_pages_load_only_their_own_files_under_apply(server: ServerProcess) -> None:
    # The citizens' side may be served alone on an internet-facing host (issue 14, point 6): the
    # page and every module and stylesheet it pulls in are under /apply/, with browsers' content types.
    from .test_wheel import CONTENT_TYPES, referenced

    todo, seen = [f"{server.url}/apply/"], set()
    with httpx.Client(timeout=30) as http:
        while todo:
            url = todo.pop()
            if url in seen:
                continue
            seen.add(url)
            assert url.startswith(f"{server.url}/apply/"), url
            r = http.get(url)
            assert r.status_code == 200, url
            kind = r.headers["content-type"].split(";")[0]
            assert kind in CONTENT_TYPES.get(Path(url).suffix, ("text/html",)), (url, kind)
            assert "content-security-policy" in r.headers
            todo.extend(referenced(url, kind, r.text))
    names = {u.rsplit("/", 1)[1] for u in seen}
    assert names >= {"", "apply.css", "app.js", "api.js", "fields.js", "portal.js", "receipt.js", "runner.js",
                     "text.js", "ui.js"}, names


def test_the_browser_writes_wareki_as_the_server_does(browser: Browser, server: ServerProcess) -> None:
    # The runner shows 和暦 as soon as a date is entered (online_forms/web/text.js); the check page
    # and the receipt show the server's (online_forms/wareki.py). They must agree, era edges included.
    from datetime import date, timedelta

    from online_forms.wareki import ERAS, wareki

    days = [date(1873, 1, 1), date(2026, 12, 31), date(2000, 2, 29), date(1989, 12, 31)]
    for era in ERAS:
        days += [era.first_day - timedelta(days=1), era.first_day, era.first_day + timedelta(days=365)]
    days = [d for d in days if d >= date(1873, 1, 1)]
    page = new_page(browser, 390, 844)
    page.goto(f"{server.url}/apply/")
    settled(page)
    got = page.evaluate("async (days) => { const t = await import('/apply/text.js'); return days.map(t.wareki); }",
                        [d.isoformat() for d in days] + ["1872-12-31", "2026-02-30", "x"])
    assert got == [wareki(d) for d in days] + ["", "", ""]
    page.context.close()


EVERY_KIND = {
    "madoguchi_form": 1,
    "procedure": {"slug": "every-kind", "name": {"ja": "質問の見本", "en": "Every kind of question"},
                  "description": {"ja": "すべての種類の質問。", "en": "Every kind of question."},
                  "section": "総務課 見本係", "category": "other"},
    "form": {"format": 1, "title": {"ja": "見本", "en": "Sample"}, "pages": [
        {"id": "every", "title": {"ja": "すべての質問", "en": "All the questions"},
         "description": {"ja": "見本のページです。", "en": "A sample page."},
         "questions": [
             {"id": "t_text", "type": "text", "label": {"ja": "文字", "en": "Text"},
              "hint": {"ja": "20文字まで", "en": "Up to 20"}, "max_length": 20},
             {"id": "t_long", "type": "long_text", "label": {"ja": "長い文", "en": "Long text"}, "required": False},
             {"id": "t_number", "type": "number", "label": {"ja": "数", "en": "Number"}, "minimum": 0, "maximum": 9.5},
             {"id": "t_date", "type": "date", "label": {"ja": "日付", "en": "Date"}, "required": False},
             {"id": "t_choice", "type": "choice", "label": {"ja": "ひとつ選ぶ", "en": "Choose one"},
              "options": [{"value": "a", "label": {"ja": "あ", "en": "A"}}, {"value": "b", "label": {"ja": "い"}}]},
             {"id": "t_multi", "type": "multi_choice", "label": {"ja": "いくつでも", "en": "Any"}, "required": False,
              "options": [{"value": "x", "label": {"ja": "か", "en": "X"}},
                          {"value": "y", "label": {"ja": "き", "en": "Y"}}]},
             {"id": "t_yes", "type": "yes_no", "label": {"ja": "はいかいいえ", "en": "Yes or no"}},
             {"id": "t_email", "type": "email", "label": {"ja": "メール", "en": "Email"}},
             {"id": "t_phone", "type": "phone", "label": {"ja": "電話", "en": "Phone"}, "required": False},
             {"id": "t_name", "type": "name", "label": {"ja": "名前", "en": "Name"}, "kana": False, "required": False},
             {"id": "t_address", "type": "address", "label": {"ja": "住所", "en": "Address"}, "required": False},
             {"id": "t_birth", "type": "birth_date", "label": {"ja": "生年月日", "en": "Date of birth"}},
             {"id": "t_sex", "type": "sex", "label": {"ja": "性別", "en": "Sex"}},
             {"id": "t_file", "type": "file", "label": {"ja": "書類", "en": "Document"}, "required": False,
              "accept": ["image/png"], "max_bytes": 1048576},
             {"id": "t_group", "type": "group", "label": {"ja": "家族", "en": "Family"}, "required": False,
              "item_label": {"ja": "家族", "en": "Member"}, "max_items": 2,
              "questions": [{"id": "g_name", "type": "text", "label": {"ja": "呼び名", "en": "Called"}},
                            {"id": "g_photo", "type": "file", "label": {"ja": "写真", "en": "Photo"},
                             "required": False}]},
         ]}]},
}


def test_every_kind_of_question_is_labelled_and_answered(browser: Browser, server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        a = admin_headers(http)
        r = http.post("/api/forms/import", json={"file": EVERY_KIND}, headers=a)
        assert r.status_code == 201, r.text
        pid = r.json()["id"]
        assert http.post(f"/api/forms/procedures/{pid}/draft/publish", json={"number": 1}, headers=a).status_code == 200
    page = phone(browser)
    page.goto(f"{server.url}/apply/#/p/every-kind")
    heading(page, "質問の見本")
    page.get_by_role("button", name="申請を始める").click()
    heading(page, "すべての質問")
    looked_at(page, "every-kind")
    # Every control has its label; the kinds of keyboard phones show and the autofill tokens.
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('#view input, #view textarea')]
        .filter((e) => !e.labels.length).map((e) => e.id)""")
    assert unlabelled == []
    assert page.get_attribute("#q-t_number", "inputmode") == "decimal"
    assert page.get_attribute("#q-t_phone", "type") == "tel"
    assert page.get_attribute("#q-t_phone", "autocomplete") == "tel"
    assert page.get_attribute("#q-t_email", "type") == "email"
    assert page.get_attribute("#q-t_email", "autocomplete") == "email"
    assert page.get_attribute("#q-t_birth", "autocomplete") == "bday"
    assert page.get_attribute("#q-t_file", "accept") == "image/png"
    expect(page.locator("#q-t_file-hint")).to_contain_text("PNG、1MBまで")
    expect(page.locator("fieldset[data-path=t_sex] input")).to_have_count(2)     # no 回答しない here
    expect(page.locator(".item")).to_have_count(0)                               # optional group: no item yet
    page.locator("#continue").click()
    summary = page.locator(".error-summary")
    expect(summary.locator("a")).to_have_count(7)
    looked_at(page, "every-kind-errors")

    page.get_by_label("文字").fill("見本")
    page.get_by_label("長い文").fill("一行目\n二行目")
    page.fill("#q-t_number", "２．５")
    # A browser without a date picker (an input of type text): the date typed the Japanese way.
    page.evaluate("document.getElementById('q-t_date').type = 'text'")
    page.get_by_label("日付").fill("２０１９年５月１日")
    expect(page.locator("#q-t_date-wareki")).to_contain_text("令和元年5月1日")
    page.check("#q-t_choice-1")
    page.check("#q-t_multi-1")
    page.locator("fieldset[data-path=t_yes]").get_by_label("いいえ").check()
    page.get_by_label("メール").fill("taro@example.jp")
    page.locator("fieldset[data-path=t_sex]").get_by_label("女").check()
    page.fill("#q-t_birth", "2019-04-30")
    expect(page.locator("#q-t_birth-wareki")).to_contain_text("平成31年4月30日")
    page.get_by_role("button", name="家族を追加").click()
    page.get_by_role("button", name="家族を追加").click()
    expect(page.get_by_role("button", name="家族を追加")).to_be_hidden()            # max_items 2
    page.fill("#q-t_group-0-g_name", "たろう")
    page.fill("#q-t_group-1-g_name", "はなこ")
    page.set_input_files("#q-t_group-1-g_photo", {"name": "写真.png", "mimeType": "image/png", "buffer": png()})
    expect(page.locator("#q-t_group-1-g_photo-status")).to_contain_text("写真.png")
    looked_at(page, "every-kind-filled")
    continue_to(page, "入力内容の確認")
    view = page.locator("#view")
    for shown in ("一行目\n二行目", "2.5", "平成31年4月30日（2019-04-30）", "令和元年5月1日（2019-05-01）", "い", "き",
                  "いいえ", "taro@example.jp", "女", "家族 1: 呼び名", "たろう", "家族 2: 写真", "写真.png"):
        expect(view).to_contain_text(shown)
    looked_at(page, "every-kind-check")
    page.context.close()
