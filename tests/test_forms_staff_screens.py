"""The staff's online-application screens in a real headless Chromium against a real server (issue 14,
points 2 and 4): the form builder (counter/builder.html) and the applications portal (counter/forms.html).

A clerk of 戸籍係 changes a demo form with the keyboard only (adds a question, gives it a condition chosen
from lists, moves it up, sees the server refuse a condition that reads a later question beside that
question, fixes it), saves, sees the change listed against the published version, asks for publication;
a supervisor publishes. Then applications are processed: found by reference, returned with a message,
another completed, a bulk change with one refusal shown; a clerk of 清掃係 enters a postal application
through the published form, sees a field error beside its field and fixes it. axe-core checks every
screen and state; screenshots go to test-artifacts/screens/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, FilePayload, Frame, Locator, Page, sync_playwright

from .browserkit import AXE, AXE_TAGS, assert_accessible, launch, new_page, screenshot
from .serverkit import ServerProcess, password_of
from .test_forms_staff import admin_headers, apply, koseki_answers, staff

KOSEKI = "市民課 戸籍係"
GOMI = "環境課 清掃係"


class Office:
    """The server, an admin's HTTP client and the staff accounts the tests use."""

    def __init__(self, data_dir: Path) -> None:
        self.proc = ServerProcess(data_dir).start()
        self.http = httpx.Client(base_url=self.proc.url, timeout=30)
        admin = admin_headers(self.http)
        self.clerk = staff(self.http, admin, "koseki-ui", "clerk", [KOSEKI])
        self.boss = staff(self.http, admin, "koseki-sv", "supervisor", [KOSEKI])
        self.gomi = staff(self.http, admin, "gomi-ui", "clerk", [GOMI])

    @property
    def url(self) -> str:
        return self.proc.url

    def get(self, path: str, headers: dict[str, str]) -> Any:
        r = self.http.get(path, headers=headers)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    o = Office(tmp_path_factory.mktemp("forms-screens") / "data")
    yield o
    o.http.close()
    o.proc.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def signed_in(browser: Browser, office: Office, username: str, path: str, ready: str = "#app:not([hidden])") -> Page:
    """A 1366×900 page of ``path`` signed in as ``username`` through the page's own form (``ready``
    shows once signed in)."""
    page = new_page(browser, 1366, 900, locale="ja-JP", timezone_id="Asia/Tokyo")
    page.goto(f"{office.url}{path}")
    page.locator("#username").wait_for()
    page.fill("#username", username)
    page.fill("#password", password_of(username))
    page.keyboard.press("Enter")
    page.locator(ready).wait_for()
    return page


def press(page: Page, target: Locator | str, key: str = "Enter") -> None:
    """Put the keyboard focus on ``target`` and press ``key`` (no mouse)."""
    (page.locator(target) if isinstance(target, str) else target).focus()
    page.keyboard.press(key)


def choose(page: Page, target: Locator | str, value: str) -> None:
    """Pick ``value`` in a closed <select> with the arrow keys, as a keyboard user does."""
    select = page.locator(target) if isinstance(target, str) else target
    values: list[str] = select.evaluate("s => [...s.options].filter(o => !o.disabled).map(o => o.value)")
    assert value in values, (value, values)
    for _ in range(len(values) + 1):
        current = select.input_value()
        if current == value:
            return
        select.focus()
        page.keyboard.press("ArrowDown" if values.index(value) > values.index(current) else "ArrowUp")
        page.wait_for_timeout(50)   # the page re-renders on change and puts the focus back on the same list
        select = page.locator(f"#{select.get_attribute('id')}") if select.get_attribute("id") else select
    assert select.input_value() == value


def json_file(name: str, content: Any) -> FilePayload:
    """A file for a file picker: ``content`` as JSON."""
    return {"name": name, "mimeType": "application/json", "buffer": json.dumps(content, ensure_ascii=False).encode()}


def frame_violations(frame: Frame) -> list[dict[str, Any]]:
    """axe-core run inside ``frame`` (the preview's sandboxed frame, which the page's own run cannot enter)."""
    if not frame.evaluate("() => typeof window.axe === 'object'"):
        frame.evaluate(AXE.read_text(encoding="utf-8") + "\n;true")
    found: list[dict[str, Any]] = frame.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations"
        ".map(v => ({id: v.id, nodes: v.nodes.map(n => n.target.join(' '))}))", AXE_TAGS)
    return found


def opened(page: Page) -> None:
    """Wait until the builder has loaded a procedure (it then puts the focus on its heading)."""
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'proc-title'")
    page.locator("#editor .page").first.wait_for()


def focused_id(page: Page) -> str:
    return str(page.evaluate("() => document.activeElement && document.activeElement.id"))


# ---------------------------------------------------------------------------------------------- the builder
def test_a_clerk_changes_a_demo_form_with_the_keyboard_and_a_supervisor_publishes_it(
        browser: Browser, office: Office) -> None:
    # The counter terminal links both screens.
    terminal = signed_in(browser, office, "koseki-ui", "/counter/", "#pick:not([hidden])")
    assert terminal.get_attribute("#forms-link", "href") == "/counter/forms.html"
    assert terminal.get_attribute("#builder-link", "href") == "/counter/builder.html"
    terminal.context.close()

    page = signed_in(browser, office, "koseki-ui", "/counter/builder.html")
    page.locator("table.procedures").wait_for()
    koseki_row = page.locator("table.procedures tr", has_text="戸籍証明書等の郵送請求")
    assert "編集できます" in koseki_row.inner_text()
    assert "閲覧のみ" in page.locator("table.procedures tr", has_text="粗大ごみ収集の申込").inner_text()
    assert "公開は監督者・管理者" in page.inner_text("#role-note")
    assert_accessible(page, "builder: the catalogue")
    screenshot(page, "forms-builder-catalogue")

    # A shared file with problems: every problem is listed, nothing is made.
    broken = {"madoguchi_form": 1, "procedure": {"slug": "Bad Slug", "section": KOSEKI, "category": "nope"},
              "form": {"format": 1, "title": {"ja": "壊れた様式"}, "pages": []}}
    page.set_input_files("#import-file", files=[json_file("broken.json", broken)])
    problems = page.locator("#import-problems li")
    problems.first.wait_for()
    listed = problems.all_inner_texts()
    assert len(listed) >= 4, listed
    assert any(t.startswith("procedure.slug") for t in listed) and any(t.startswith("procedure.name") for t in listed)
    assert any(t.startswith("form.pages") for t in listed), listed
    assert_accessible(page, "builder: an import refused")
    assert len(office.get("/api/forms/procedures", office.clerk)["procedures"]) == 5

    # Open 戸籍証明書等の郵送請求 by keyboard.
    press(page, koseki_row.locator("a"))
    opened(page)
    assert page.locator("#publish").is_hidden(), "a clerk never gets the publish button"
    register = page.locator('#editor .page[data-loc="pages.1"]')

    # Add a long-text question to page 2, label it, name it.
    choose(page, register.locator(":scope > .add-question select"), "long_text")
    press(page, register.locator(":scope > .add-question button"))
    assert page.evaluate("() => document.activeElement.dataset.bind") == "pages.1.questions.6.label.ja"
    card = page.locator("#" + focused_id(page).removesuffix("-label-ja"))   # the new question's card
    page.keyboard.type("相続人との続柄")
    page.keyboard.press("Tab")
    page.keyboard.type("Relationship to the deceased")
    press(page, card.locator('input[data-bind$=".id"]'), "Control+a")
    page.keyboard.type("heir_relation")
    press(page, card.locator('input[data-bind$=".required"]'), "Space")   # optional

    # Its condition, chosen from lists: 使用目的 equals 相続手続.
    choose(page, card.locator("select[data-part=mode]"), "when")
    choose(page, card.locator("select[data-part=question]"), "purpose")
    choose(page, card.locator("select[data-part=op]"), "eq")
    choose(page, card.locator("select[data-part=value]"), "inheritance")
    assert "「使用目的」が「相続手続」のとき" in card.locator(".cond-text").inner_text()

    # Up once (above その他の使用目的): the focus stays on the moved question's button.
    up = card.locator("button[data-act=up]").first
    up_id = up.get_attribute("id")
    press(page, up)
    assert focused_id(page) == up_id
    titles = register.locator(":scope > ol.questions > li h5").all_inner_texts()
    assert [t.split(" ")[0] for t in titles][-2:] == ["相続人との続柄", "その他の使用目的"], titles
    screenshot(page, "forms-builder-question-added")

    # Up again, above the question its condition reads: the server refuses, beside this question.
    page.keyboard.press("Enter")
    press(page, "#save")
    page.locator("#form-summary:not([hidden])").wait_for()
    errors = card.locator(":scope > .card-errors")
    assert errors.is_visible() and "not an earlier question" in errors.inner_text()
    assert "相続人との続柄" in page.inner_text("#form-summary")
    assert focused_id(page) == "form-summary"
    assert_accessible(page, "builder: the draft refused with a problem beside its question")
    screenshot(page, "forms-builder-form-invalid")
    card.scroll_into_view_if_needed()
    screenshot(page, "forms-builder-form-invalid-beside")

    # Down once with the keyboard, save: version 2 is the draft, and the change is listed.
    press(page, card.locator("button[data-act=down]").first)
    press(page, "#save")
    page.locator("#proc-message", has_text="下書きを保存しました（第2版）").wait_for()
    rows = page.locator("#changes-table tbody tr").all_inner_texts()
    assert len(rows) == 2, rows   # the question added, and the one after it moved down a place
    assert rows[0].startswith("追加") and "相続人との続柄" in rows[0] and "heir_relation" in rows[0], rows
    assert rows[1].startswith("移動") and "purpose_other" in rows[1] and "register#6 → register#7" in rows[1], rows

    # The phone preview shows page 2 with the new question and its condition, at 375 px.
    press(page, "#preview-next")
    frame = page.frame_locator("#preview-frame")
    frame.locator("text=相続人との続柄").wait_for()
    phone = page.locator("#preview-frame").element_handle().content_frame()
    assert phone is not None and phone.evaluate("() => window.innerWidth") == 375
    assert "2 / 3" in frame.locator(".progress").inner_text()
    assert not frame_violations(phone), "the preview as a citizen sees it: " + json.dumps(frame_violations(phone))
    assert_accessible(page, "builder: a procedure with its saved draft")
    screenshot(page, "forms-builder-saved-draft")

    # Ask for publication.
    press(page, "#request")
    page.locator("#proc-message", has_text="公開を依頼しました").wait_for()
    assert "承認待ち" in page.inner_text("#draft-state")

    # Export the shared file (the newest version: this draft), import it under another short name, copy.
    with page.expect_download() as download:
        press(page, "#export")
    shared = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert shared["madoguchi_form"] == 1 and shared["procedure"]["slug"] == "koseki-by-post"
    assert "heir_relation" in json.dumps(shared["form"], ensure_ascii=False)
    press(page, "#proc-view a[href='#']")
    page.locator("table.procedures").wait_for()
    shared["procedure"]["slug"] = "koseki-imported"
    page.set_input_files("#import-file", files=[json_file("koseki.json", shared)])
    page.locator("#import-result", has_text="下書きとして取り込みました").wait_for()
    imported = office.get("/api/forms/procedures/koseki-imported", office.clerk)
    assert imported["state"] == "draft" and imported["draft"]["state"] == "draft"
    press(page, page.locator("table.procedures tr", has_text="koseki-by-post").locator("a"))
    page.locator("#proc-state", has_text="承認待ち").wait_for()
    opened(page)
    page.locator("#copy-slug").focus()
    page.keyboard.type("koseki-copy")
    page.keyboard.press("Enter")
    page.locator("#proc-state", has_text="準備中").wait_for()
    assert office.get("/api/forms/procedures/koseki-copy", office.clerk)["draft"]["number"] == 1
    page.context.close()

    # The supervisor sees the button and publishes.
    boss = signed_in(browser, office, "koseki-sv", "/counter/builder.html")
    boss.locator("table.procedures").wait_for()
    press(boss, boss.locator("table.procedures tr", has_text="koseki-by-post").locator("a"))
    opened(boss)
    assert boss.locator("#publish").is_visible()
    assert_accessible(boss, "builder: the supervisor's view of a pending draft")
    press(boss, "#publish")
    boss.locator("#proc-message", has_text="第2版を公開しました").wait_for()
    screenshot(boss, "forms-builder-published")
    # Restore version 1 as the next draft: the change list says the question is gone again.
    press(boss, "#versions button[data-restore='1']")
    boss.locator("#proc-message", has_text="第1版を下書き（第3版）に戻しました").wait_for()
    rows = boss.locator("#changes-table tbody tr").all_inner_texts()
    assert any(r.startswith("削除") and "heir_relation" in r for r in rows), rows
    boss.context.close()

    procedure = office.get("/api/forms/procedures/koseki-by-post", office.clerk)
    assert procedure["published"] == 2
    form = office.get(f"/api/forms/procedures/{procedure['id']}/versions/2", office.clerk)["form"]
    ids = [q["id"] for q in form["pages"][1]["questions"]]
    assert ids[-3:] == ["purpose", "heir_relation", "purpose_other"], ids
    added = form["pages"][1]["questions"][-2]
    assert added == {"id": "heir_relation", "type": "long_text", "required": False,
                     "label": {"ja": "相続人との続柄", "en": "Relationship to the deceased"},
                     "show_if": {"==": [{"var": "purpose"}, "inheritance"]}}
    assert office.http.get("/apply/api/procedures/koseki-by-post").json()["version"]["number"] == 2
    assert office.get("/api/forms/procedures/koseki-by-post", office.clerk)["draft"]["number"] == 3


# ---------------------------------------------------------------------------------------------- processing
def test_applications_are_found_returned_completed_and_changed_in_bulk_with_a_refusal_shown(
        browser: Browser, office: Office) -> None:
    refs = []
    for _ in range(3):
        sent, _headers = apply(office.http, "koseki-by-post", koseki_answers())
        assert sent["status_code"] == 201, sent
        refs.append(sent["reference"])
    first, second, third = refs
    page = signed_in(browser, office, "koseki-ui", "/counter/forms.html")
    page.locator("table.list").wait_for()
    assert_accessible(page, "applications: the list")
    screenshot(page, "forms-applications-list")

    # Find the first by its reference, open it.
    page.fill("#f-q", first)
    page.keyboard.press("Enter")
    page.locator("#list-status", has_text="1件").wait_for()
    assert [t.split()[0] for t in page.locator("table.list tbody tr").all_inner_texts()] == [first]
    press(page, page.locator("a.ref", has_text=first))
    page.locator("#detail-answers table").first.wait_for()
    assert first in page.inner_text("#detail-title")
    assert "佐藤　一郎" in page.inner_text("#detail-answers")
    assert (page.locator("#detail-files a").get_attribute("href") or "").startswith("/api/forms/applications/")
    assert "閲覧" in page.inner_text("#detail-history")   # the view itself is recorded, with who
    assert_accessible(page, "applications: one application")
    screenshot(page, "forms-application-detail")

    # Returning it needs a message: the error is beside the field; with one it is returned.
    press(page, "#return-button")
    page.locator("#return-message-error:not([hidden])").wait_for()
    assert page.get_attribute("#return-message", "aria-invalid") == "true"
    assert focused_id(page) == "return-message"
    assert_accessible(page, "applications: a return without its message")
    page.keyboard.type("本籍の番地まで書いてください。")
    press(page, "#return-button")
    page.locator("#detail-status", has_text="差し戻し").wait_for()
    assert "本籍の番地まで書いてください。" in page.inner_text("#detail-history")
    screenshot(page, "forms-application-returned")

    # The second: in progress, assigned to me, a note, completed; it prints on A4 without the controls.
    page.goto(f"{office.url}/counter/forms.html")
    page.fill("#f-q", second)
    page.keyboard.press("Enter")
    page.locator("#list-status", has_text="1件").wait_for()
    press(page, page.locator("a.ref", has_text=second))
    page.locator("#status-buttons button[data-status=in_progress]").wait_for()
    press(page, "#status-buttons button[data-status=in_progress]")
    page.locator("#detail-status", has_text="処理中").wait_for()
    press(page, "#assign-me")
    page.locator("#detail-message", has_text="自分に割り当てました").wait_for()
    page.fill("#note-text", "電話で本人確認済み")
    press(page, "#note-form button[type=submit]")
    page.locator("#detail-history", has_text="電話で本人確認済み").wait_for()
    press(page, "#status-buttons button[data-status=completed]")
    page.locator("#detail-status", has_text="完了").wait_for()
    assert page.locator("#status-buttons button").count() == 0, "a completed application changes no more"
    page.emulate_media(media="print")
    assert page.locator("#detail-answers").is_visible() and page.locator("#detail-history").is_visible()
    assert page.locator("#status-buttons").is_hidden() and page.locator(".bar").is_hidden()
    screenshot(page, "forms-application-print")
    pdf = page.pdf(format="A4", print_background=True)
    page.emulate_media(media="screen")
    from io import BytesIO

    from pypdf import PdfReader

    reader = PdfReader(BytesIO(pdf))
    box = reader.pages[0].mediabox
    assert abs(float(box.width) - 595.3) < 1.5 and abs(float(box.height) - 841.9) < 1.5   # A4 in points
    printed = "".join(p.extract_text() for p in reader.pages)
    assert second in printed and "メモを追加" not in printed
    detail = office.get(f"/api/forms/applications/{second}", office.clerk)
    assert detail["status"] == "completed" and detail["assignee"] is not None

    # Bulk: the returned one and the third to 処理中; the returned one is refused and shown with why.
    page.goto(f"{office.url}/counter/forms.html")
    page.locator("table.list").wait_for()
    for ref in (first, third):
        press(page, page.locator("table.list tbody tr", has_text=ref).locator("input.pick"), "Space")
    assert "2件選択" in page.inner_text("#bulk-count")
    choose(page, "#bulk-status", "in_progress")
    press(page, "#bulk-apply")
    page.locator("#bulk-failed li").wait_for()
    result = page.inner_text("#bulk-result")
    assert "1件を「処理中」に変更しました" in result
    failed = page.locator("#bulk-failed li").all_inner_texts()
    assert len(failed) == 1 and first in failed[0], failed
    assert "「差し戻し」から「処理中」には変更できません" in failed[0], failed
    assert_accessible(page, "applications: a bulk change with a refusal")
    screenshot(page, "forms-applications-bulk")
    assert office.get(f"/api/forms/applications/{third}", office.clerk)["status"] == "in_progress"
    assert office.get(f"/api/forms/applications/{first}", office.clerk)["status"] == "returned"
    page.context.close()


def test_a_postal_application_is_entered_through_the_published_form_with_a_field_error_fixed(
        browser: Browser, office: Office) -> None:
    page = signed_in(browser, office, "gomi-ui", "/counter/forms.html#new")
    page.locator("#entry-choose").wait_for()
    options = page.locator("#entry-procedure option").all_inner_texts()
    assert len(options) == 1 and "粗大ごみ" in options[0], options   # only the section's open procedures
    press(page, "#entry-choose input[value=post]", "Space")
    press(page, "#entry-open")
    page.locator("#entry-form:not([hidden])").wait_for()
    assert_accessible(page, "entry: the form")

    page.check("#f-appliances-1")                              # いいえ
    page.check("#f-items-0-item-0")                            # ソファー
    page.fill("#f-items-0-count", "1")
    press(page, "[data-add-item=items]")                       # a second item
    page.locator("#f-items-1-item-2").wait_for()
    page.check("#f-items-1-item-2")                            # 自転車
    page.fill("#f-items-1-count", "２")                         # full-width, as typed from a letter
    page.fill("#f-name-family", "佐藤")
    page.fill("#f-name-given", "花子")
    page.fill("#f-name-family_kana", "さとう")
    page.fill("#f-name-given_kana", "はなこ")
    page.fill("#f-address-postal_code", "100-0001")
    page.fill("#f-address-address", "東京都千代田区千代田1-1")
    page.fill("#f-phone", "12345")
    page.check("#f-spot-0")
    press(page, "#entry-submit")
    page.locator("#entry-summary:not([hidden])").wait_for()
    assert page.locator("#f-phone-error").is_visible()
    assert page.get_attribute("#f-phone", "aria-invalid") == "true"
    assert "f-phone-error" in (page.get_attribute("#f-phone", "aria-describedby") or "")
    assert page.locator("#entry-summary a[href='#f-phone']").count() == 1
    assert_accessible(page, "entry: a field error")
    screenshot(page, "forms-entry-field-error")
    page.locator("#f-phone").scroll_into_view_if_needed()
    screenshot(page, "forms-entry-field-error-beside")

    page.fill("#f-phone", "03-1234-5678")
    press(page, "#entry-submit")
    page.locator("#entry-reference").wait_for()
    reference = page.inner_text("#entry-reference")
    assert page.locator("#f-phone-error").count() == 0 or page.locator("#entry-form").is_hidden()
    assert_accessible(page, "entry: recorded")
    screenshot(page, "forms-entry-recorded")
    made = office.get(f"/api/forms/applications/{reference}", office.gomi)
    assert made["channel"] == "post" and made["status"] == "received"
    assert made["answers"]["phone"] == "03-1234-5678"
    assert made["answers"]["name"]["family_kana"] == "サトウ"
    assert [i["item"] for i in made["answers"]["items"]] == ["sofa", "bicycle"]
    assert [i["count"] for i in made["answers"]["items"]] == [1, 2]
    submitted = next(h for h in made["history"] if h["action"] == "submitted")
    assert submitted["actor"] != "citizen" and submitted["detail"]["channel"] == "post"
    page.context.close()


def test_a_clerk_creates_a_procedure_with_a_route_and_a_repeatable_group(browser: Browser, office: Office) -> None:
    page = signed_in(browser, office, "koseki-ui", "/counter/builder.html#new")
    page.locator("#n-name-ja").wait_for()
    assert page.input_value("#n-section") == KOSEKI   # the clerk's own section, offered first
    page.fill("#n-slug", "Bad Name")
    press(page, "#create")
    page.locator("#new-summary:not([hidden])").wait_for()
    assert page.locator("#n-name-ja-error").is_visible() and page.locator("#n-slug-error").is_visible()
    assert page.get_attribute("#n-slug", "aria-invalid") == "true"
    assert_accessible(page, "builder: a new procedure with problems")
    screenshot(page, "forms-builder-new-procedure-errors")

    page.fill("#n-slug", "kazoku-todoke")
    page.fill("#n-name-ja", "家族の届出")
    page.fill("#n-name-en", "Family notice")
    page.fill("#n-description-ja", "家族の状況を届け出ます。")
    choose(page, "#n-category", "registration")
    press(page, "#new-form input[value=moving]", "Space")
    press(page, "[data-kw-add=n]")
    page.keyboard.type("かぞく")
    page.fill("#n-keywords-0-reading", "かぞく")
    page.fill("#n-fee_yen", "0")
    choose(page, "#n-retention_years", "3")
    press(page, "#create")
    opened(page)
    assert "家族の届出" in page.inner_text("#proc-title")

    # The procedure's details change afterwards too.
    press(page, "#details-box summary")
    page.fill("#d-fee_yen", "300")
    press(page, "#details-save")
    page.locator("#details-message", has_text="手続の情報を保存しました").wait_for()
    assert office.get("/api/forms/procedures/kazoku-todoke", office.clerk)["fee_yen"] == 300

    # Page 1: a yes/no question after the starter's name.
    first = page.locator('#editor .page[data-loc="pages.0"]')
    choose(page, first.locator(":scope > .add-question select"), "yes_no")
    press(page, first.locator(":scope > .add-question button"))
    page.keyboard.type("同居の家族がいますか")
    # Page 2, added by keyboard: its heading, then its question made a repeatable group.
    press(page, "#page-add")
    assert page.evaluate("() => document.activeElement.dataset.bind") == "pages.1.title.ja"
    page.keyboard.type("家族")
    second = page.locator('#editor .page[data-loc="pages.1"]')
    group = second.locator(".question-card").first
    choose(page, group.locator("select[data-act-change=type]"), "group")
    group = second.locator(".question-card").first
    press(page, group.locator('input[data-bind$=".label.ja"]').first, "Control+a")
    page.keyboard.type("同居の家族")
    inner = group.locator(".question-card").first
    press(page, inner.locator("button[data-act=toggle]"))
    press(page, inner.locator('input[data-bind$=".label.ja"]'), "Control+a")
    page.keyboard.type("氏名")
    choose(page, inner.locator("select[data-act-change=type]"), "name")
    # A question added by mistake and removed again.
    choose(page, second.locator(":scope > .add-question select"), "email")
    press(page, second.locator(":scope > .add-question button"))
    assert second.locator(":scope > ol.questions > li").count() == 2
    press(page, second.locator(":scope > ol.questions > li").nth(1).locator("button[data-act=remove]").first)
    assert second.locator(":scope > ol.questions > li").count() == 1
    # After page 1: when the answer is no, go to the end (skip the family page).
    press(page, first.locator("button[data-act=route-add]"))
    route = first.locator(".route").first
    choose(page, route.locator("select[data-part=op]"), "no")
    choose(page, route.locator("select[data-act-change=goto]"), "end")
    assert "「同居の家族がいますか」が「いいえ」のとき" in route.locator(".cond-text").inner_text()
    assert_accessible(page, "builder: a new form with a route and a group")
    screenshot(page, "forms-builder-route-and-group")
    press(page, "#save")
    page.locator("#proc-message", has_text="下書きを保存しました（第1版）").wait_for()

    made = office.get("/api/forms/procedures/kazoku-todoke", office.clerk)
    assert made["state"] == "draft" and made["retention_years"] == 3 and made["category"] == "registration"
    assert made["life_events"] == ["moving"] and made["keywords"] == [{"word": "かぞく", "reading": "かぞく"}]
    form = office.get(f"/api/forms/procedures/{made['id']}/versions/1", office.clerk)["form"]
    assert [q["type"] for q in form["pages"][0]["questions"]] == ["name", "yes_no"]
    yes_no = form["pages"][0]["questions"][1]["id"]
    assert form["pages"][0]["routes"] == [{"when": {"==": [{"var": yes_no}, False]}, "goto": "end"}]
    family = form["pages"][1]
    assert family["title"]["ja"] == "家族" and len(family["questions"]) == 1
    assert family["questions"][0]["type"] == "group" and family["questions"][0]["label"]["ja"] == "同居の家族"
    assert [(q["type"], q["label"]["ja"]) for q in family["questions"][0]["questions"]] == [("name", "氏名")]
    page.context.close()
