"""The form engine on the demo procedures: paths, conditions, groups, normalised answers,
the JSON Schema contract, shared files and version changes. Plain functions, no server."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from online_forms import engine, reference
from online_forms.answers import FileInfo
from online_forms.display import rows, value_text
from online_forms.form import Form, FormError, parse_form
from online_forms.procedure import ProcedureDraft, matches
from online_forms.schema import json_schema, validate
from online_forms.sharing import read_shared, write_shared
from online_forms.versions import changes
from server.core.calendar import TOKYO

DEMO = Path(__file__).resolve().parents[1] / "online_forms" / "demo"
TODAY = date(2026, 12, 1)
ID_COPY = FileInfo("f1", "免許証.jpg", "image/jpeg", 120_000)
FILES = {"f1": ID_COPY, "f2": FileInfo("f2", "letter.pdf", "application/pdf", 9_000_000)}


def demo(slug: str) -> tuple[ProcedureDraft, Form]:
    return read_shared((DEMO / f"{slug}.json").read_bytes())


def applicant() -> dict[str, Any]:
    return {
        "name": {"family": "山田", "given": "花子", "family_kana": "ﾔﾏﾀﾞ", "given_kana": "はなこ"},
        "birth_date": "１９８９-０１-０８",
        "address": {"postal_code": "１００－０００１", "address": "東京都千代田区千代田1-1", "building": ""},
        "phone": "０９０－１２３４－５６７８",
    }


def certificate() -> dict[str, Any]:
    return {"kind": "copy", "scope": "household", "items": ["relationship", "honseki"], "copies": "２",
            "purpose": "勤務先へ提出", "id_copy": {"id": "f1"}}


def check(form: Form, answers: dict[str, Any], **kw: Any) -> engine.Checked:
    return engine.check(form, answers, today=TODAY, files=FILES, **kw)


def test_every_demo_procedure_is_a_sound_shared_file_that_round_trips() -> None:
    slugs = sorted(p.stem for p in DEMO.glob("*.json"))
    assert slugs == ["inu-toroku", "jido-teate", "juminhyo-by-post", "koseki-by-post", "sodai-gomi"]
    for slug in slugs:
        procedure, form = demo(slug)
        assert procedure.slug == slug
        assert read_shared(write_shared(procedure, form)) == (procedure, form)


def test_a_request_for_oneself_skips_the_letter_of_attorney_and_is_stored_normalised() -> None:
    _, form = demo("juminhyo-by-post")
    done = check(form, {**applicant(), "relation": "self", **certificate()})
    assert done.ok, done.errors
    assert done.pages == ["applicant", "relation", "certificate", "identity"]       # the route skipped "proxy"
    assert done.answers["name"] == {"family": "山田", "given": "花子", "family_kana": "ヤマダ", "given_kana": "ハナコ"}
    assert done.answers["birth_date"] == "1989-01-08"
    assert done.answers["address"]["postal_code"] == "1000001"
    assert done.answers["phone"] == "090-1234-5678"
    assert done.answers["copies"] == 2 and done.answers["items"] == ["honseki", "relationship"]   # the options' order
    assert done.answers["id_copy"] == {"id": "f1", "name": "免許証.jpg", "type": "image/jpeg", "size": 120_000}
    # What the citizen checks, and the receipt shows: 和暦 beside the date, the reading beside the name.
    shown = {r.path: r.value for r in rows(form, done.answers)}
    assert shown["birth_date"] == "平成元年1月8日（1989-01-08）"
    assert shown["name"] == "山田　花子（ヤマダ　ハナコ）"
    assert shown["address"] == "〒100-0001 東京都千代田区千代田1-1"


def test_a_request_for_someone_else_needs_the_letter_of_attorney_page() -> None:
    _, form = demo("juminhyo-by-post")
    answers = {**applicant(), "relation": "proxy", **certificate()}
    done = check(form, answers)
    assert done.pages == ["applicant", "relation", "proxy", "certificate", "identity"]
    assert {(e.path, e.code) for e in done.errors} == {("subject_name", "required"), ("letter", "required")}
    # The letter is a 9 MB PDF: over this question's 5 MB.
    done = check(form, {**answers, "subject_name": {"family": "山田", "given": "太郎", "family_kana": "ヤマダ",
                                                    "given_kana": "タロウ"}, "letter": {"id": "f2"}})
    assert [(e.path, e.code) for e in done.errors] == [("letter", "file_too_large")]
    assert "5MB" in done.errors[0].message


def test_answers_left_behind_on_a_skipped_page_or_a_hidden_question_are_not_stored() -> None:
    _, form = demo("juminhyo-by-post")
    proxy_answers = {"subject_name": {"family": "山田", "given": "太郎", "family_kana": "ヤマダ", "given_kana": ""},
                     "letter": {"id": "f1"}}
    done = check(form, {**applicant(), "relation": "self", **certificate(), **proxy_answers})
    assert done.ok and "subject_name" not in done.answers and "letter" not in done.answers
    _, koseki = demo("koseki-by-post")
    base = {"name": applicant()["name"], "address": applicant()["address"], "phone": "03-1234-5678",
            "honseki": "東京都千代田区千代田1番", "head": {"family": "山田", "given": "一郎"},
            "certificates": ["tohon"], "copies": 1, "id_copy": {"id": "f1"}}
    hidden = check(koseki, {**base, "purpose": "passport", "purpose_other": "覚えていない"})
    assert hidden.ok and "purpose_other" not in hidden.answers
    shown = check(koseki, {**base, "purpose": "other"})
    assert [(e.path, e.code) for e in shown.errors] == [("purpose_other", "required")]


def test_each_child_is_checked_with_conditions_inside_the_group() -> None:
    _, form = demo("jido-teate")
    child = {"child_name": {"family": "山田", "given": "一", "family_kana": "ヤマダ", "given_kana": "ハジメ"},
             "child_birth": "2020-05-01", "child_sex": "0", "lives_with": True}
    answers = {**applicant(), "has_spouse": False, "bank": "みどり銀行 本店", "account_number": "1234567",
               "children": [child, {**child, "child_birth": "2027-01-01", "lives_with": "no"}]}
    done = check(form, answers)
    assert {(e.path, e.code) for e in done.errors} == {
        ("children.1.child_birth", "in_future"), ("children.1.child_address", "required")}
    answers["children"][1] = {**child, "lives_with": "no",
                              "child_address": {"postal_code": "", "address": "大阪府大阪市北区1-1", "building": ""}}
    done = check(form, answers)
    assert done.ok, done.errors
    assert done.answers["children"][1]["lives_with"] is False
    assert "spouse_name" not in done.answers                      # has_spouse = no hides it
    labels = [r.label for r in rows(form, done.answers) if r.path.startswith("children.1.")]
    assert labels[0] == "児童 2: 氏名"
    # No child at all: the group asks for one.
    done = check(form, {**answers, "children": []})
    assert [(e.path, e.code) for e in done.errors] == [("children", "too_few")]


def test_bad_answers_get_a_code_and_a_message_in_japanese_then_english() -> None:
    _, form = demo("inu-toroku")
    answers = {**applicant(), "email": "hanako@@example", "dog_name": "ポチ", "breed": "柴犬", "coat": "赤",
               "dog_sex": "cat", "vaccinated": True, "vaccinated_on": "2026-02-30", "certificate": {"id": "nope"},
               "extra": 1}
    answers.pop("birth_date")
    answers["phone"] = "0570-123-456"
    answers["name"] = {"family": "山田", "given": "花子", "family_kana": "Yamada", "given_kana": ""}
    done = check(form, answers)
    codes = {e.path: e.code for e in done.errors}
    assert codes == {"extra": "unknown_question", "name": "bad_kana", "phone": "bad_phone", "email": "bad_email",
                     "dog_sex": "not_an_option", "vaccinated_on": "not_a_date", "certificate": "bad_file"}
    assert all(e.message and e.message[0] > "\u3000" and any(c.isascii() and c.isalpha() for c in e.message)
               for e in done.errors)
    # On "continue", only the page's own errors (and unknown ids) are reported.
    page = check(form, answers, only_page="dog")
    assert {e.path for e in page.errors} == {"extra", "dog_sex"}


def test_an_exit_page_ends_the_form_without_an_application() -> None:
    _, form = demo("sodai-gomi")
    done = check(form, {"appliances": True})
    assert done.exit == "appliance_notice" and done.pages == ["kaden", "appliance_notice"]
    item = {"item": "other", "item_other": "物干し台", "count": "1"}
    done = check(form, {"appliances": False, "items": [item], "name": applicant()["name"],
                        "address": applicant()["address"], "phone": "0466-12-3456", "spot": "front"})
    assert done.ok and done.exit is None and done.pages == ["kaden", "items", "place"]   # route to the end
    assert engine.next_page(form, {"appliances": False}, "kaden", today=TODAY, files={}) == "items"
    assert engine.next_page(form, {"appliances": True}, "kaden", today=TODAY, files={}) == "appliance_notice"
    assert engine.next_page(form, {}, "place", today=TODAY, files={}) is None


def test_the_json_schema_is_the_contract_of_what_is_stored() -> None:
    _, form = demo("juminhyo-by-post")
    schema = json_schema(form, schema_id="https://city.example/forms/juminhyo-by-post/1.json")
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["required"] == ["name", "birth_date", "address", "phone", "relation"]   # nothing can hide these
    done = check(form, {**applicant(), "relation": "self", **certificate()})
    assert validate(schema, done.answers) == []
    tampered = {**done.answers, "copies": 2.5, "relation": "boss", "phone": "09012345678"}
    problems = validate(schema, tampered)
    assert [p.split(":")[0] for p in problems] == ["copies", "phone", "relation"]
    for slug in ("jido-teate", "koseki-by-post", "inu-toroku", "sodai-gomi"):
        from jsonschema import Draft202012Validator
        Draft202012Validator.check_schema(json_schema(demo(slug)[1]))


def form_with(pages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"format": 1, "title": {"ja": "試験"}, "pages": pages}


def q(qid: str, **extra: Any) -> dict[str, Any]:
    return {"id": qid, "type": "text", "label": {"ja": qid}, **extra}


def test_a_broken_form_lists_every_problem_with_where_it_is() -> None:
    broken = form_with([
        {"id": "one", "title": {"ja": "1"}, "questions": [q("a", show_if={"==": [{"var": "b"}, 1]}), q("a")],
         "routes": [{"when": {"log": 1}, "goto": "one"}]},
        {"id": "two", "title": {"ja": "2"}, "questions": [q("b", integer=True), {"id": "c", "type": "choice",
                                                                                "label": {"ja": "c"}}]},
    ])
    with pytest.raises(FormError) as err:
        parse_form(broken)
    # Every problem of the questions themselves at once, each with where it is.
    assert sorted(err.value.problems) == [
        ("pages.1.questions.0", "integer does not apply to a text question"),
        ("pages.1.questions.1", "a choice question needs at least two options")]
    # Then the rules across questions and pages, as they are fixed one by one.
    fixed = json.loads(json.dumps(broken))
    fixed["pages"][1]["questions"][0].pop("integer")
    fixed["pages"][1]["questions"][1]["options"] = [{"value": "x", "label": {"ja": "x"}},
                                                    {"value": "y", "label": {"ja": "y"}}]
    with pytest.raises(FormError, match="not an earlier question"):
        parse_form(fixed)
    fixed["pages"][0]["questions"][0].pop("show_if")
    with pytest.raises(FormError, match="used twice"):
        parse_form(fixed)
    fixed["pages"][0]["questions"][1]["id"] = "a2"
    with pytest.raises(FormError, match="'log' cannot be used"):
        parse_form(fixed)
    fixed["pages"][0]["routes"][0]["when"] = {"==": [{"var": "a"}, "x"]}
    with pytest.raises(FormError, match="not a later page"):
        parse_form(fixed)
    fixed["pages"][0]["routes"][0]["goto"] = "two"
    assert parse_form(fixed).pages[0].routes[0].goto == "two"
    with pytest.raises(FormError, match="too large"):
        parse_form(form_with([{"id": "p", "title": {"ja": "p"}, "questions": [
            q("a"), q("b", show_if={"and": [{"==": [{"var": "a"}, str(i)]} for i in range(100)]})]}]))


def test_a_shared_file_with_problems_stores_nothing_and_says_where() -> None:
    procedure, form = demo("inu-toroku")
    doc = json.loads(write_shared(procedure, form))
    doc["procedure"]["retention_years"] = 10
    doc["procedure"]["reference_pattern"] = "{rand:3}"
    doc["form"]["pages"][0]["questions"][0]["type"] = "signature"
    with pytest.raises(FormError) as err:
        read_shared(json.dumps(doc).encode())
    where = {w.split(".")[0] + "." + w.split(".")[1] for w, _ in err.value.problems}
    assert where == {"procedure.retention_years", "procedure.reference_pattern", "form.pages"}
    with pytest.raises(FormError, match="not JSON"):
        read_shared(b"{")
    with pytest.raises(FormError, match="madoguchi_form"):
        read_shared(b'{"pages": []}')


def test_the_catalogue_is_found_by_reading_in_any_kana_or_width() -> None:
    procedures = [demo(p.stem)[0] for p in sorted(DEMO.glob("*.json"))]
    for query, slug in (("じゅうみんひょう", "juminhyo-by-post"), ("ｼﾞｭｳﾐﾝﾋｮｳ", "juminhyo-by-post"),
                        ("コセキ　郵送", "koseki-by-post"), ("そだいごみ", "sodai-gomi"), ("DOG", "inu-toroku")):
        assert [p.slug for p in procedures if matches(p, query)] == [slug], query


def test_references_follow_the_procedures_pattern() -> None:
    at = datetime(2026, 12, 1, 23, 30, tzinfo=TOKYO)
    assert reference.make("KS-{yyyy}-{seq:5}", at, 42) == "KS-2026-00042"
    made = reference.make("{rand:4}-{rand:4}", at, 1)
    assert len(made) == 9 and set(made) - {"-"} <= set(reference.ALPHABET)
    assert not set(made) & set("ILOU")
    for bad in ("{rand:3}", "A{nope}", "住民-{seq:4}", "X{seq:40}"):
        with pytest.raises(ValueError):
            reference.check_pattern(bad)
    assert reference.normalise(" ｋｓ－2026－00042 ") == "KS-2026-00042"


def test_the_changes_since_the_published_version_name_what_moved_and_what_changed() -> None:
    _, form = demo("koseki-by-post")
    doc = form.model_dump(mode="json", exclude_defaults=True)
    doc["pages"][1]["questions"][3]["maximum"] = 5                         # copies: at most 5 now
    moved = doc["pages"][0]["questions"].pop(2)                          # phone moves to the last page
    doc["pages"][2]["questions"].append(moved)
    doc["pages"][2]["questions"].append({"id": "note", "type": "long_text", "label": {"ja": "備考"},
                                         "required": False})
    found = {(c.kind, c.id, c.fields) for c in changes(form, parse_form(doc))}
    assert found == {("changed", "copies", ("maximum",)), ("moved", "phone", ()), ("added", "note", ())}
    assert value_text(form.pages[1].questions[2], ["kaisei", "tohon"]) == "戸籍謄本（全部事項証明）、改製原戸籍謄本"


def test_the_engine_says_which_questions_each_page_and_item_shows() -> None:
    _, form = demo("jido-teate")
    child = {"child_name": {"family": "山田", "given": "一", "family_kana": "ヤマダ", "given_kana": "ハジメ"},
             "child_birth": "2020-05-01", "child_sex": "1", "lives_with": False}
    done = check(form, {"has_spouse": True, "children": [child, {**child, "lives_with": True}]})
    assert done.shown["claimant"] == ["name", "birth_date", "address", "phone", "has_spouse", "spouse_name"]
    assert done.shown["children.0"][-1] == "child_address" and "child_address" not in done.shown["children.1"]
    assert "spouse_name" not in check(form, {"has_spouse": False}).shown["claimant"]
