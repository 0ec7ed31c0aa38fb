"""Applications as a table for the back office (issue 14, point 5; seeds 000 8.9,
002 2.1.2(エ)): one row per application, one column per answer part, named by
question id so that columns stay the same across form versions (a question
removed in a newer version keeps its column; one added gets a new column).

Columns: ``reference``, ``status``, ``channel``, ``submitted_at`` (ISO 8601,
Asia/Tokyo), ``version``, then each question: a name as ``id.family``,
``id.given``, ``id.family_kana``, ``id.given_kana``; an address as
``id.postal_code``, ``id.address``, ``id.building``; a file as ``id.name``;
several choices joined by ``;``; yes/no as ``1``/``0``; a group's items as
``id.1.inner…``, ``id.2.inner…`` up to the most items any application has.
Values are as stored (choice values, ISO dates, ISO 5218 sex codes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .form import Form, Question
from .store import ApplicationRow

META = ("reference", "status", "channel", "submitted_at", "version")
_PARTS = {"name": ("family", "given", "family_kana", "given_kana"), "address": ("postal_code", "address", "building"),
          "file": ("name",)}


def _questions(forms: Sequence[Form]) -> list[Question]:
    seen: dict[str, Question] = {}
    for form in forms:  # newest first: its order and its definition of a question win
        for _, q in form.questions():
            seen.setdefault(q.id, q)
    return list(seen.values())


def _cell(q: Question, value: Any) -> str:
    if value is None:
        return ""
    if q.type == "yes_no":
        return "1" if value else "0"
    if q.type == "multi_choice":
        return ";".join(value)
    return str(value)


def _columns(q: Question, prefix: str, items: int) -> list[tuple[str, Question, tuple[Any, ...]]]:
    if q.type in _PARTS:
        return [(f"{prefix}{q.id}.{part}", q, (q.id, part)) for part in _PARTS[q.type]]
    if q.type == "group":
        out: list[tuple[str, Question, tuple[Any, ...]]] = []
        for n in range(items):
            for sub in q.questions:
                for key, sq, path in _columns(sub, f"{prefix}{q.id}.{n + 1}.", 0):
                    out.append((key, sq, (q.id, n, *path)))
        return out
    return [(f"{prefix}{q.id}", q, (q.id,))]


def _get(answers: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        if isinstance(step, int):
            answers = answers[step] if isinstance(answers, list) and step < len(answers) else None
        else:
            answers = answers.get(step) if isinstance(answers, dict) else None
        if answers is None:
            return None
    return answers


def csv_table(forms: Sequence[Form], apps: Sequence[tuple[ApplicationRow, dict[str, Any]]]
              ) -> tuple[list[str], list[list[str]]]:
    """The header and rows for ``apps`` (each with its meta values: reference,
    status, channel, submitted_at, version) under every version's questions
    (``forms`` newest first)."""
    questions = _questions(forms)
    columns: list[tuple[str, Question, tuple[Any, ...]]] = []
    for q in questions:
        items = max((len(a.answers.get(q.id) or []) for a, _ in apps), default=0) if q.type == "group" else 0
        columns += _columns(q, "", items)
    header = [*META, *(key for key, _, _ in columns)]
    table = []
    for app, meta in apps:
        row = [str(meta[k]) for k in META]
        for _, q, path in columns:
            value = _get(app.answers, path)
            row.append(str(value) if q.type in _PARTS and value is not None else _cell(q, value))
        table.append(row)
    return header, table
