"""The form engine: which pages a citizen sees, in which order, and whether their
answers may be stored. Pure: no HTTP, no SQL, ``today`` passed in.

The path through a form is decided from the answers alone (:func:`check`): pages in
order, skipping those whose ``show_if`` does not hold, following the first route
whose ``when`` holds. Conditions see only answers given earlier on the path, so
an answer left behind on a page no longer on the path (or to a question no longer
shown) is never seen by a later condition and is never stored: :func:`check`
drops it. The browser may preview conditions; this module decides (issue 14,
point 1: "the server always decides").

Answers are a mapping of question id → raw answer (a group: a list of mappings of
its inner ids). Errors are :class:`FieldError` with a path (``family.1.name``:
the second item's ``name`` in group ``family``), so a page can show an error
summary linking to each field (GOV.UK Design System, WCAG 2.2 3.3.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from . import logic
from .answers import AnswerError, FileInfo, empty, normalise
from .form import MAX_GROUP_ITEMS, Form, Question


@dataclass(frozen=True)
class FieldError:
    """One problem with an answer: ``path`` names the field (``id`` or
    ``group.index.id``), ``code`` the rule, ``message`` Japanese then English."""

    path: str
    code: str
    message: str


@dataclass(frozen=True)
class Checked:
    """The outcome of checking answers: ``answers`` normalised (only those on the
    path and shown), ``errors`` in form order, ``pages`` the path's page ids,
    ``exit`` the exit page the path ends on (no application can be made),
    ``shown`` the questions shown: page id → question ids, and ``group.n`` → the
    ids shown in item n of a group (what a page displays, decided here)."""

    answers: dict[str, Any]
    errors: list[FieldError] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    exit: str | None = None
    shown: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No errors."""
        return not self.errors


def check(form: Form, answers: Mapping[str, Any], *, today: date, files: Mapping[str, FileInfo],
          only_page: str | None = None) -> Checked:
    """Check ``answers`` against ``form`` along its path: required questions
    answered, each answer fitting its question, answers to questions not shown
    dropped, unknown ids refused. With ``only_page`` only that page's answers are
    checked for errors (the runner's "continue"), the rest normalised where they
    can be. ``today`` is the Asia/Tokyo date; ``files`` the attachments received."""
    known = {q.id for _, q in form.questions()}
    errors = [FieldError(k, "unknown_question", f"この様式にない質問です: {k} No such question in this form: {k}")
              for k in answers if k not in known]
    seen: dict[str, Any] = {}
    pages = []
    shown: dict[str, list[str]] = {}
    index = {p.id: i for i, p in enumerate(form.pages)}
    i = 0
    while i < len(form.pages):
        page = form.pages[i]
        if not logic.holds(page.show_if, seen):
            i += 1
            continue
        pages.append(page.id)
        if page.exit:
            return Checked(seen, errors, pages, page.id, shown)
        report = only_page is None or page.id == only_page
        shown[page.id] = []
        for q in page.questions:
            if not logic.holds(q.show_if, seen):
                continue
            shown[page.id].append(q.id)
            value, problems = _answer(q, answers.get(q.id), seen, today, files, shown)
            if report:
                errors.extend(problems)
            if value is not None:
                seen[q.id] = value
        target = next((r.goto for r in page.routes if logic.holds(r.when, seen)), None)
        if target == "end":
            break
        i = index[target] if target is not None else i + 1
    if only_page is not None and only_page not in pages:
        errors.append(FieldError("", "page_not_shown", "このページは今の回答では表示されません。 "
                                                       "This page is not shown for the answers given."))
    return Checked(seen, errors, pages, None, shown)


def next_page(form: Form, answers: Mapping[str, Any], current: str | None, *, today: date,
              files: Mapping[str, FileInfo]) -> str | None:
    """The page after ``current`` on the path for ``answers`` (the first page for
    ``None`` or a page no longer on the path); ``None`` after the last page (check
    your answers)."""
    ids = check(form, answers, today=today, files=files).pages
    if current is None or current not in ids:
        return ids[0] if ids else None
    at = ids.index(current)
    return ids[at + 1] if at + 1 < len(ids) else None


def _answer(q: Question, raw: Any, before: Mapping[str, Any], today: date,
            files: Mapping[str, FileInfo], shown: dict[str, list[str]] | None = None) -> tuple[Any, list[FieldError]]:
    if q.type == "group":
        return _group(q, raw, before, today, files, shown if shown is not None else {})
    if empty(raw):
        if q.required:
            return None, [FieldError(q.id, "required", _required(q))]
        return None, []
    try:
        return normalise(q, raw, today=today, files=files), []
    except AnswerError as err:
        return None, [FieldError(q.id, err.code, err.message)]


def _group(q: Question, raw: Any, before: Mapping[str, Any], today: date,
           files: Mapping[str, FileInfo], shown: dict[str, list[str]]) -> tuple[Any, list[FieldError]]:
    if raw is None:
        raw = []
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        return None, [FieldError(q.id, "bad_shape",
                                 "回答の形式が正しくありません。 The answer is not in the expected form.")]
    limit = min(q.max_items or MAX_GROUP_ITEMS, MAX_GROUP_ITEMS)
    least = q.min_items if q.min_items is not None else (1 if q.required else 0)
    label = q.item_label.ja if q.item_label else q.label.ja
    if len(raw) > limit:
        return None, [FieldError(q.id, "too_many", f"{label}は{limit}件までです。 At most {limit} entries.")]
    errors: list[FieldError] = []
    if len(raw) < least:
        errors.append(FieldError(q.id, "too_few", f"{label}を{least}件以上入力してください。 Add at least {least}."))
    items = []
    inner_ids = {sub.id for sub in q.questions}
    for n, item in enumerate(raw):
        for key in item:
            if key not in inner_ids:
                errors.append(FieldError(f"{q.id}.{n}.{key}", "unknown_question",
                                         f"この様式にない質問です: {key} No such question in this form: {key}"))
        data = dict(before)
        clean: dict[str, Any] = {}
        shown[f"{q.id}.{n}"] = []
        for sub in q.questions:
            # Inside an item, conditions see the answers before the group and the item's own earlier answers.
            if not logic.holds(sub.show_if, data):
                continue
            shown[f"{q.id}.{n}"].append(sub.id)
            value, problems = _answer(sub, item.get(sub.id), data, today, files)
            errors.extend(FieldError(f"{q.id}.{n}.{e.path}", e.code, e.message) for e in problems)
            if value is not None:
                clean[sub.id] = value
                data[sub.id] = value
        items.append(clean)
    return (items if items or not errors else None), errors


def _required(q: Question) -> str:
    if q.type in ("choice", "multi_choice", "yes_no", "sex"):
        return f"「{q.label.ja}」を選んでください。 Choose an answer for “{q.label.en or q.label.ja}”."
    if q.type == "file":
        return f"「{q.label.ja}」のファイルを添付してください。 Attach a file for “{q.label.en or q.label.ja}”."
    return f"「{q.label.ja}」を入力してください。 Enter “{q.label.en or q.label.ja}”."
