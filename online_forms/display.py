"""Answers as people read them: on "check your answers", the receipt, the staff
detail and the CSV export. Pure; one rule for every door.

Dates of birth are shown with the Japanese era as well (生年月日 in 和暦, issue
14 point 1), names with their reading, addresses with the postal code mark.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from .answers import SEX
from .form import Form, Question
from .wareki import wareki


@dataclass(frozen=True)
class Row:
    """One answer shown: the page it belongs to, its question's id (``group.1.id``
    inside a group), the label and the displayed value."""

    page: str
    path: str
    label: str
    value: str


def value_text(q: Question, value: Any, lang: str = "ja") -> str:
    """``value`` (a stored answer of ``q``) as text; "" for no answer."""
    if value is None:
        return ""
    t = q.type
    if t == "yes_no":
        return ("はい" if value else "いいえ") if lang == "ja" else ("Yes" if value else "No")
    if t == "choice":
        return next((o.label.text(lang) for o in q.options if o.value == value), str(value))
    if t == "multi_choice":
        return "、".join(o.label.text(lang) for o in q.options if o.value in value)
    if t in ("date", "birth_date"):
        day = date.fromisoformat(value)
        try:
            return f"{wareki(day)}（{day.isoformat()}）" if lang == "ja" else day.isoformat()
        except ValueError:
            return day.isoformat()
    if t == "name":
        full = f"{value['family']}　{value['given']}".strip()
        kana = f"{value['family_kana']}　{value['given_kana']}".strip()
        return f"{full}（{kana}）" if kana else full
    if t == "address":
        code = value["postal_code"]
        head = f"〒{code[:3]}-{code[3:]} " if code else ""
        return f"{head}{value['address']}" + (f" {value['building']}" if value["building"] else "")
    if t == "sex":
        ja, en = SEX.get(value, (value, value))
        return str(ja if lang == "ja" else en)
    if t == "file":
        return f"{value['name']}（{_size(value['size'])}）"
    if t == "number":
        return f"{value:,}" if isinstance(value, int) else str(value)
    return str(value)


def rows(form: Form, answers: dict[str, Any], lang: str = "ja") -> Iterator[Row]:
    """Every stored answer of ``answers`` in form order, groups item by item."""
    for page, q in form.questions():
        if q.id not in answers:
            continue
        title = page.title.text(lang)
        if q.type != "group":
            yield Row(title, q.id, q.label.text(lang), value_text(q, answers[q.id], lang))
            continue
        item_label = (q.item_label or q.label).text(lang)
        for n, item in enumerate(answers[q.id]):
            for sub in q.questions:
                if sub.id in item:
                    yield Row(title, f"{q.id}.{n}.{sub.id}", f"{item_label} {n + 1}: {sub.label.text(lang)}",
                              value_text(sub, item[sub.id], lang))


def _size(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{max(1, round(size / 1024))} KB"
