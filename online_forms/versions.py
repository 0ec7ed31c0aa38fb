"""What changed between two versions of a form, for the builder's "changes since
the last published version" (issue 14, point 2) and for the approver who publishes.

A change names the page or question by id: added, removed, moved (to another
page or position) or changed (which of its fields, e.g. ``label``, ``required``,
``show_if``). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .form import Form, Question

Kind = Literal["added", "removed", "moved", "changed"]


@dataclass(frozen=True)
class Change:
    """One difference: ``what`` is ``page`` or ``question``, ``id`` its id,
    ``fields`` the fields that differ (for ``changed``), ``detail`` a short text."""

    kind: Kind
    what: Literal["page", "question", "form"]
    id: str
    fields: tuple[str, ...] = ()
    detail: str = ""


def changes(old: Form | None, new: Form) -> list[Change]:
    """The differences from ``old`` to ``new`` (everything added when ``old`` is None)."""
    out: list[Change] = []
    if old is None:
        return [Change("added", "page", p.id) for p in new.pages] + [
            Change("added", "question", q.id) for _, q in new.questions()]
    if old.title != new.title:
        out.append(Change("changed", "form", "", ("title",)))
    old_pages = {p.id: (i, p) for i, p in enumerate(old.pages)}
    new_pages = {p.id: (i, p) for i, p in enumerate(new.pages)}
    for pid in new_pages.keys() - old_pages.keys():
        out.append(Change("added", "page", pid))
    for pid in old_pages.keys() - new_pages.keys():
        out.append(Change("removed", "page", pid))
    for pid in old_pages.keys() & new_pages.keys():
        a, b = old_pages[pid][1], new_pages[pid][1]
        fields = tuple(f for f in ("title", "description", "show_if", "routes") if getattr(a, f) != getattr(b, f))
        if fields:
            out.append(Change("changed", "page", pid, fields))
    old_q = {q.id: (p.id, i, q) for p in old.pages for i, q in enumerate(p.questions)}
    new_q = {q.id: (p.id, i, q) for p in new.pages for i, q in enumerate(p.questions)}
    for qid in new_q.keys() - old_q.keys():
        out.append(Change("added", "question", qid, detail=f"page {new_q[qid][0]}"))
    for qid in old_q.keys() - new_q.keys():
        out.append(Change("removed", "question", qid, detail=f"page {old_q[qid][0]}"))
    for qid in old_q.keys() & new_q.keys():
        (pa, ia, qa), (pb, ib, qb) = old_q[qid], new_q[qid]
        if (pa, ia) != (pb, ib):
            out.append(Change("moved", "question", qid, detail=f"{pa}#{ia + 1} → {pb}#{ib + 1}"))
        fields = _fields(qa, qb)
        if fields:
            out.append(Change("changed", "question", qid, fields))
    order = {p.id: i for i, p in enumerate(new.pages)} | {q: i for i, (_, q) in enumerate(
        (p.id, q.id) for p in new.pages for q in p.questions)}
    return sorted(out, key=lambda c: (c.what != "form", c.what != "page", order.get(c.id, 10**6), c.id, c.kind))


def _fields(a: Question, b: Question) -> tuple[str, ...]:
    return tuple(name for name in Question.model_fields if getattr(a, name) != getattr(b, name))
