"""Applications as a table for the back office (issue 14, point 5; seeds 000 8.9,
002 2.1.2(エ)): one row per application, one column per answer part, named by
question id so that columns stay the same across form versions: the columns are
those of every published version, oldest first in order of first appearance (a
question removed later keeps its column; one added gets a new one at the end; a
question whose type changed gets a column per type, suffixed ``:type``).

Columns: ``reference``, ``status``, ``channel``, ``submitted_at`` (ISO 8601,
Asia/Tokyo), ``version``, then each question: a name as ``id.family``,
``id.given``, ``id.family_kana``, ``id.given_kana``; an address as
``id.postal_code``, ``id.address``, ``id.building``; a file as ``id.name``;
several choices joined by ``;``; yes/no as ``1``/``0``; a group's items as
``id.1.inner…`` up to its most items (``max_items``). Values are as stored
(choice values, ISO dates, ISO 5218 sex codes). A text cell that a spreadsheet
would run as a formula (starting ``= + - @``, tab or carriage return) is
prefixed with ``'`` (OWASP "CSV Injection").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .form import MAX_GROUP_ITEMS, Form, Question
from .store import ApplicationRow

META = ("reference", "status", "channel", "submitted_at", "version")
_PARTS = {"name": ("family", "given", "family_kana", "given_kana"), "address": ("postal_code", "address", "building"),
          "file": ("name",)}
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(q: Question, value: Any) -> str:
    if value is None:
        return ""
    if q.type == "yes_no":
        return "1" if value else "0"
    if q.type == "number":
        return str(value)
    text = ";".join(value) if q.type == "multi_choice" else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def _columns(q: Question, prefix: str) -> list[tuple[str, Question, tuple[Any, ...]]]:
    if q.type in _PARTS:
        return [(f"{prefix}{q.id}.{part}", q, (q.id, part)) for part in _PARTS[q.type]]
    if q.type == "group":
        out: list[tuple[str, Question, tuple[Any, ...]]] = []
        for n in range(min(q.max_items or MAX_GROUP_ITEMS, MAX_GROUP_ITEMS)):
            for sub in q.questions:
                for key, sq, path in _columns(sub, f"{prefix}{q.id}.{n + 1}."):
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


def csv_table(versions: Sequence[tuple[int, Form]], apps: Sequence[tuple[ApplicationRow, int, dict[str, Any]]]
              ) -> tuple[list[str], list[list[str]]]:
    """The header and rows for ``apps`` (each with its version number and its
    meta values: reference, status, channel, submitted_at, version) under the
    published versions ``(number, form)``."""
    types: dict[str, set[str]] = {}
    for _, form in versions:
        for _, q in form.questions():
            types.setdefault(q.id, set()).add(q.type)
    order: list[tuple[str, str]] = []
    defined: dict[tuple[str, str], Question] = {}
    for _, form in sorted(versions, key=lambda v: v[0]):
        for _, q in form.questions():
            key = (q.id, str(q.type))
            if key not in defined:
                order.append(key)
            defined[key] = q  # the newest definition of the same id and type (its labels, its max_items)
    columns: list[tuple[str, tuple[str, str], Question, tuple[Any, ...]]] = []
    for kept in order:
        q = defined[kept]
        suffix = f":{q.type}" if len(types[q.id]) > 1 else ""
        for name, sq, path in _columns(q, ""):
            head, _, rest = name.partition(".")
            columns.append((head + suffix + (f".{rest}" if rest else ""), kept, sq, path))
    by_number = dict(versions)
    header = [*META, *(name for name, _, _, _ in columns)]
    table = []
    for app, number, meta in apps:
        made_on = by_number.get(number)
        own = {(mq.id, str(mq.type)) for _, mq in made_on.questions()} if made_on else set()
        row = [str(meta[k]) for k in META]
        for _, column_key, cq, path in columns:
            value = _get(app.answers, path) if column_key in own else None
            row.append(_cell(cq, value) if cq.type not in _PARTS else _cell_part(value))
        table.append(row)
    return header, table


def _cell_part(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA) else text
